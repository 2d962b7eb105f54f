"""The import run's rules, driven with a fake sender: no sockets, no processes.

Resume, journal binding, exit codes, survey in-flight marks, a journal that
cannot be written, and stopping.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cg_cli.config.targets import Target
from cg_cli.errors import ExitCode, ImportEnded, NetworkError, UsageError
from cg_cli.importing.delivery import Destination
from cg_cli.importing.journal import Journal, JournalError
from cg_cli.importing.run import ImportReport, ImportRequest, ImportRun
from cg_cli.records.mappings import Mapping
from tests.conftest import journal_rows

ACCOUNTS = Mapping("accounts", "acc-ref", "account", ("Account Name", "Email"))
SURVEYS = Mapping("responses", "resp-ref", "survey-response", ("Email", "Score"))


class FakeService:
    """Counts deliveries per record; fails the records named in `fail` (by `Account Name` or `Email`)."""

    def __init__(self, fail: dict[str, Exception] | None = None, delay: float = 0.0) -> None:
        self.delivered: Counter[str] = Counter()
        self.fail = fail or {}
        self.delay = delay
        self.lock = threading.Lock()

    def sender(self) -> Any:
        service = self

        class Sender:
            def put(self, content_type: str, body: bytes) -> None:
                record = json.loads(body)["record"]
                key = record.get("Account Name") or record.get("Email")
                if service.delay:
                    time.sleep(service.delay)
                error = service.fail.get(key)
                if error is not None and not getattr(error, "maybe_delivered", False):
                    raise error
                with service.lock:
                    service.delivered[key] += 1
                if error is not None:
                    raise error

            def close(self) -> None:
                pass

        return Sender()


def accounts_csv(path: Path, names: list[str]) -> str:
    path.write_text("Account Name,Email\n" + "".join(f"{n},{n.lower()}@x.com\n" for n in names))
    return str(path)


def run(file: str, service: FakeService, mapping: Mapping = ACCOUNTS, **options: Any) -> ImportReport:
    notices: list[str] = options.pop("notices", [])
    request = ImportRequest(file=file, target=Target(mapping.reference, mapping), **options)
    return ImportRun(request, service.sender, notice=notices.append).run()


def ended(file: str, service: FakeService, **options: Any) -> ImportEnded:
    with pytest.raises(ImportEnded) as caught:
        run(file, service, **options)
    return caught.value


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_nightly_file_reused_with_new_rows_sends_every_new_row() -> None:
    """The reproduction: Monday fails a row, Tuesday's export replaces the file, --resume sends Tue1–Tue4."""
    service = FakeService(fail={"Mon2": NetworkError("422", status=422)})
    file = accounts_csv(Path("export.csv"), ["Mon1", "Mon2", "Mon3"])
    assert ended(file, service).exit_code == ExitCode.PARTIAL
    service.fail = {}
    accounts_csv(Path("export.csv"), ["Tue1", "Tue2", "Tue3", "Tue4"])
    with pytest.raises(UsageError) as refused:
        run(file, service)
    assert "finished with 1 failed row(s)" in refused.value.message
    notices: list[str] = []
    report = run(file, service, resume=True, notices=notices)
    assert [service.delivered[f"Tue{i}"] for i in range(1, 5)] == [1, 1, 1, 1]
    assert report.summary["sent"] == 4 and report.summary["skipped"] == 0
    assert notices[-1] == (
        "export.csv changed since the journal was written: 3 journaled row(s) no longer match and are sent as new rows"
    )
    assert not Path("export.csv.cg-journal").exists()


def test_a_row_inserted_at_the_top_is_new_and_nothing_is_skipped(
    breaker_on_one_row: None,
) -> None:
    service = FakeService()
    file = accounts_csv(Path("a.csv"), ["A", "B", "C", "D"])
    journal = Journal(Path("a.csv.cg-journal"), Destination("acc-ref"))
    report = run(file, service)  # a clean run leaves no journal: make one by stopping after two rows
    assert report.summary["sent"] == 4
    service.delivered.clear()
    service.fail = {"C": NetworkError("down", status=503)}
    assert ended(file, service, workers=1).exit_code == ExitCode.NETWORK  # C's failures open the breaker
    journaled = journal_rows(journal.path)
    assert journaled[1] == journaled[2] == "S" and 3 not in journaled  # D may have gone before the stop
    d_before = service.delivered["D"]
    service.fail = {}
    accounts_csv(Path("a.csv"), ["New", "A", "B", "C", "D"])
    run(file, service, resume=True)
    assert service.delivered == Counter({"A": 2, "B": 2, "New": 1, "C": 1, "D": d_before + 1})  # resent, never skipped


def test_resume_skips_unchanged_rows_only(breaker_on_one_row: None) -> None:
    service = FakeService(fail={"C": NetworkError("down", status=503)})
    file = accounts_csv(Path("a.csv"), ["A", "B", "C", "D"])
    assert ended(file, service, workers=1).exit_code == ExitCode.NETWORK
    service.fail = {}
    report = run(file, service, resume=True)
    assert service.delivered == Counter({"A": 1, "B": 1, "C": 1, "D": 1})  # D may have gone before the stop
    assert report.summary["sent"] + report.summary["sent_earlier"] == 4 and report.summary["sent_earlier"] >= 2


def test_earlier_failures_keep_exit_6_and_are_counted_apart() -> None:
    service = FakeService(fail={"B": NetworkError("422", status=422)})
    file = accounts_csv(Path("a.csv"), ["A", "B", "C"])
    first = ended(file, service)
    assert first.exit_code == ExitCode.PARTIAL and first.summary["failed"] == 1
    again = ended(file, service, resume=True)
    assert again.exit_code == ExitCode.PARTIAL
    assert (again.summary["sent"], again.summary["sent_earlier"]) == (0, 2)
    assert (again.summary["failed"], again.summary["failed_earlier"]) == (0, 1)
    assert "1 row(s) failed (1 in an earlier run)" in again.message
    assert service.delivered == Counter({"A": 1, "C": 1})


def test_restart_discards_the_journal_and_the_old_failed_file() -> None:
    service = FakeService(fail={"B": NetworkError("422", status=422)})
    file = accounts_csv(Path("a.csv"), ["A", "B"])
    ended(file, service)
    assert Path("a.failed.csv").exists()
    service.fail = {}
    report = run(file, service, restart=True)
    assert report.summary["sent"] == 2 and service.delivered == Counter({"A": 2, "B": 1})
    assert not Path("a.failed.csv").exists() and not Path("a.csv.cg-journal").exists()
    with pytest.raises(UsageError, match="not both"):
        run(file, service, resume=True, restart=True)


def test_csv_and_jsonl_of_one_stem_keep_separate_journals() -> None:
    service = FakeService(fail={"A": NetworkError("422", status=422)})
    ended(accounts_csv(Path("q.csv"), ["A"]), service)
    Path("q.jsonl").write_text('{"Account Name": "J"}\n')
    run("q.jsonl", service)  # no journal of q.csv in its way
    assert Path("q.csv.cg-journal").exists() and service.delivered["J"] == 1


def test_survey_rows_in_flight_at_a_kill_are_reported_never_resent() -> None:
    file = Path("r.jsonl")
    file.write_text("".join(json.dumps({"Email": f"p{i}@x.com", "Score": 9}) + "\n" for i in range(1, 6)))
    journal = Journal(Path("r.jsonl.cg-journal"), Destination("resp-ref"), durable_in_flight=True)
    journal.open(create=True)
    from cg_cli.records.readers import RecordFile

    with RecordFile(str(file)) as records:
        rows = list(records)
    from cg_cli.importing.journal import row_digest

    journal.record(1, row_digest(rows[0]), "S")
    journal.mark_in_flight(2, row_digest(rows[1]))  # as a killed run leaves it
    journal.close()
    service = FakeService()
    result = ended(str(file), service, mapping=SURVEYS, resume=True)
    assert result.exit_code == ExitCode.PARTIAL and result.summary["maybe_arrived"] == 1
    assert "p2@x.com" not in service.delivered and sorted(service.delivered) == [f"p{i}@x.com" for i in (3, 4, 5)]
    [failed] = [json.loads(line) for line in Path("r.failed.jsonl").read_text().splitlines()]
    assert failed["_row"] == 2 and "may have arrived" in failed["_error"]


def test_survey_rows_are_marked_in_flight_before_they_leave(monkeypatch: pytest.MonkeyPatch) -> None:
    marks: list[int] = []
    real = Journal.mark_in_flight

    def spy(self: Journal, number: int, digest: bytes) -> None:
        real(self, number, digest)
        marks.append(number)
        assert journal_rows(self.path).get(number) == "I"  # committed: visible to another connection

    monkeypatch.setattr(Journal, "mark_in_flight", spy)
    Path("r.jsonl").write_text("".join(json.dumps({"Email": f"p{i}@x.com"}) + "\n" for i in range(1, 21)))
    run("r.jsonl", FakeService(), mapping=SURVEYS, workers=4)
    assert sorted(marks) == list(range(1, 21))


def test_a_survey_answered_500_counts_as_maybe_arrived() -> None:
    error = NetworkError("500; not resent: the record may have arrived", status=500, maybe_delivered=True)
    Path("r.jsonl").write_text('{"Email": "a@x.com"}\n{"Email": "b@x.com"}\n')
    service = FakeService(fail={"a@x.com": error})
    assert ended("r.jsonl", service, mapping=SURVEYS).exit_code == ExitCode.PARTIAL
    assert journal_rows(Path("r.jsonl.cg-journal")) == {1: "F", 2: "S"}
    again = ended("r.jsonl", service, mapping=SURVEYS, resume=True)
    assert again.summary["failed_earlier"] == 1 and service.delivered["a@x.com"] == 1


def test_a_journal_that_cannot_be_written_stops_cleanly_with_a_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    writes = 0
    real = Journal.record

    def disk_fills_up(self: Journal, number: int, digest: bytes, status: str, key: bytes | None = None) -> None:
        nonlocal writes
        writes += 1
        if writes > 3:
            raise JournalError(f"cannot write the journal {self.path} (database or disk is full)")
        real(self, number, digest, status, key)

    monkeypatch.setattr(Journal, "record", disk_fills_up)
    file = accounts_csv(Path("a.csv"), [f"N{i}" for i in range(50)])
    stopped = ended(file, FakeService(), workers=1)
    assert stopped.exit_code == ExitCode.USAGE
    assert "disk is full" in stopped.message and stopped.summary["sent"] >= 3
    assert "--resume" in (stopped.hint or "")


def test_a_file_that_is_not_a_journal_is_refused_with_both_choices() -> None:
    file = accounts_csv(Path("a.csv"), ["A"])
    Path("a.csv.cg-journal").write_text("S 1\nS 2")  # a torn text journal of an older version
    with pytest.raises(UsageError) as caught:
        run(file, FakeService(), resume=True)
    assert "not a cg journal" in caught.value.message and "--restart" in (caught.value.hint or "")
    assert run(file, FakeService(), restart=True).summary["sent"] == 1


def test_journal_naming_the_input_is_refused() -> None:
    file = accounts_csv(Path("a.csv"), ["A"])
    with pytest.raises(UsageError, match="is the input file"):
        run(file, FakeService(), failed_path=Path("a.csv"))
    assert Path("a.csv").read_text().startswith("Account Name")


def test_stop_request_finishes_rows_in_flight_and_says_which_signal() -> None:
    service = FakeService(delay=0.01)
    file = accounts_csv(Path("a.csv"), [f"N{i}" for i in range(400)])
    request = ImportRequest(file=file, target=Target("acc-ref", ACCOUNTS), workers=4)

    def sender() -> Any:  # the stop arrives after the 20th delivery: an event, not a moment a loaded machine may miss
        real = service.sender()

        class Stopping:
            def put(self, content_type: str, body: bytes) -> None:
                real.put(content_type, body)
                if sum(service.delivered.values()) >= 20:
                    importer_run.request_stop("SIGTERM")

            def close(self) -> None:
                real.close()

        return Stopping()

    importer_run = ImportRun(request, sender)
    with pytest.raises(ImportEnded) as caught:
        importer_run.run()
    assert caught.value.exit_code == ExitCode.TERMINATED and caught.value.message.startswith("terminated:")
    journaled = journal_rows(Path("a.csv.cg-journal"))
    assert set(journaled.values()) == {"S"} and len(journaled) == sum(service.delivered.values())
    assert 20 <= len(journaled) < 400
    run(file, service, resume=True)
    assert set(service.delivered.values()) == {1} and len(service.delivered) == 400


def test_rate_limited_workers_stop_promptly() -> None:
    service = FakeService()
    file = accounts_csv(Path("a.csv"), [f"N{i}" for i in range(20)])
    request = ImportRequest(file=file, target=Target("acc-ref", ACCOUNTS), workers=4, rate=0.05)
    importer_run = ImportRun(request, service.sender)
    threading.Timer(0.3, importer_run.request_stop, args=("SIGINT",)).start()
    started = time.monotonic()
    with pytest.raises(ImportEnded):
        importer_run.run()
    # The next row's slot is 20 s away: a stop that waited for it takes twice this generous bound, even under load.
    assert time.monotonic() - started < 10
    assert sum(service.delivered.values()) == 1


def test_keys_held_in_flight_are_let_go_so_memory_stays_flat() -> None:
    from cg_cli.importing.importer import Importer
    from cg_cli.records.readers import Row

    rows = [Row(n, {"Account Name": f"A{n % 700}"}, [], None, n + 1) for n in range(1, 3001)]
    importer = Importer(
        rows, reference="r", mapping=ACCOUNTS, check_unknown_fields=False, new_sender=FakeService().sender, workers=4
    )
    assert importer.run().stats.sent == 3000
    order = importer._order
    assert not order._busy and not order._blocked_keys  # one entry per key would pile up on a big file


def test_outcomes_reach_the_journal_as_they_arrive_not_in_input_order() -> None:
    """Row 1 is slow; rows 2-20 are answered meanwhile. A kill now must find them journaled, or a
    resume would send them all again (duplicates grow with a slow row's wait, not with the rows in flight)."""
    seen: list[dict[int, str]] = []

    class SlowFirst(FakeService):
        def sender(self) -> Any:
            inner = super().sender()

            class Sender:
                def put(self, content_type: str, body: bytes) -> None:
                    if json.loads(body)["record"]["Account Name"] == "R1":
                        deadline = time.monotonic() + 10
                        while len(journal_rows(Path("a.csv.cg-journal"))) < 19 and time.monotonic() < deadline:
                            time.sleep(0.01)
                        seen.append(journal_rows(Path("a.csv.cg-journal")))
                    inner.put(content_type, body)

                def close(self) -> None:
                    pass

            return Sender()

    run(accounts_csv(Path("a.csv"), [f"R{i}" for i in range(1, 21)]), SlowFirst(), workers=4)
    assert seen == [{n: "S" for n in range(2, 21)}]  # while row 1 was still out


def test_a_journal_of_an_older_format_is_refused_with_the_way_out() -> None:
    import sqlite3

    file = accounts_csv(Path("a.csv"), ["A"])
    with sqlite3.connect("a.csv.cg-journal") as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('version', '2'), ('configuration', 'acc-ref')")
    service = FakeService()
    with pytest.raises(UsageError) as refused:
        run(file, service, resume=True)
    assert "journal format 2" in refused.value.message and "--restart" in (refused.value.hint or "")
    assert not service.delivered
    assert run(file, service, restart=True).summary["sent"] == 1


class LastValueService(FakeService):
    """Holds each account's last Email in `held`; answers 500 to the row whose Email is stop@x.com."""

    def __init__(self, held: dict[str, str]) -> None:
        super().__init__()
        self.held = held

    def sender(self) -> Any:
        service = self

        class Sender:
            def put(self, content_type: str, body: bytes) -> None:
                record = json.loads(body)["record"]
                if record["Email"] == "stop@x.com":
                    raise NetworkError("the records service answered 500", status=500)
                with service.lock:
                    service.held[record["Account Name"]] = record["Email"]

            def close(self) -> None:
                pass

        return Sender()


def test_a_resume_over_a_changed_file_leaves_each_account_at_its_last_row(breaker_on_one_row: None) -> None:
    """Found by the delivery model: row 2 (ACME, v2) was sent, then the file changed under the journal so
    that ACME's last row is row 1 (v1), which the journal saw sent. Skipping it would leave ACME at v2."""
    held: dict[str, str] = {}
    Path("a.csv").write_text("Account Name,Email\nACME,v1@x.com\nACME,v2@x.com\nACME,stop@x.com\n")
    assert ended("a.csv", LastValueService(held), workers=1).exit_code == ExitCode.NETWORK
    assert held == {"ACME": "v2@x.com"}
    Path("a.csv").write_text("Account Name,Email\nACME,v1@x.com\nGamma,g@x.com\nBeta,b@x.com\n")
    run("a.csv", LastValueService(held), resume=True, workers=1)
    assert held == {"ACME": "v1@x.com", "Gamma": "g@x.com", "Beta": "b@x.com"}


def test_an_unchanged_row_is_journaled_so_a_resume_never_sends_it_behind_a_later_row(breaker_on_one_row: None) -> None:
    """Found by the delivery model: row 1 was unchanged (the state held it), row 2 of the same account was
    sent, then the run stopped. The resume must not ask the state about row 1 again (it now holds row 2)
    and send row 1 after row 2, which the journal skips."""
    held: dict[str, str] = {}
    Path("a.csv").write_text("Account Name,Email\nACME,v1@x.com\n")
    run("a.csv", LastValueService(held), state_path=Path("s.db"))
    Path("a.csv").write_text("Account Name,Email\nACME,v1@x.com\nACME,v2@x.com\nBeta,stop@x.com\n")
    assert ended("a.csv", LastValueService(held), state_path=Path("s.db"), workers=1).exit_code == ExitCode.NETWORK
    assert held == {"ACME": "v2@x.com"}
    Path("a.csv").write_text("Account Name,Email\nACME,v1@x.com\nACME,v2@x.com\nBeta,b@x.com\n")
    resumed = run("a.csv", LastValueService(held), state_path=Path("s.db"), resume=True, workers=1)
    assert held == {"ACME": "v2@x.com", "Beta": "b@x.com"}
    assert (resumed.summary["unchanged"], resumed.summary["sent_earlier"]) == (1, 1)
