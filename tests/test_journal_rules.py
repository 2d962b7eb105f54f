"""The journal's rules, in-process: what a row's outcome is bound to, in-flight marks, how a run ended."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from cg_cli.errors import ExitCode, ImportEnded, NetworkError
from cg_cli.importing import journal as journal_module
from cg_cli.importing.delivery import Destination
from cg_cli.importing.journal import (
    FAILED,
    IN_FLIGHT,
    LOOKUP_SLICE,
    SENT,
    Journal,
    JournalError,
    RunState,
    default_journal_path,
    journal_fingerprint,
    remove_regular_file,
    row_digest,
)
from cg_cli.records.readers import Row
from tests.conftest import journal_rows
from tests.test_import_core import SURVEYS, FakeService, run


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def opened(path: str = "j.db", configuration: str = "ref", **options: bool) -> Journal:
    journal = Journal(Path(path), configuration, **options)
    journal.open(create=True)
    return journal


def test_forget_drops_an_in_flight_mark_and_nothing_else() -> None:
    journal = opened(durable_in_flight=True)
    journal.mark_in_flight(1, b"d1")
    journal.mark_in_flight(2, b"d2")
    journal.record(3, b"d3", SENT)
    journal.record(4, b"d4", FAILED)
    for number in (1, 3, 4):
        journal.forget(number)
    journal.close()
    assert journal_rows(Path("j.db")) == {2: IN_FLIGHT, 3: SENT, 4: FAILED}


def test_a_survey_row_stopped_before_it_left_is_sent_on_resume_not_reported(breaker_on_one_row: None) -> None:
    """The service goes down at row 2 (exit 5): row 2 was marked in flight, never left, and its mark is cleared."""
    Path("r.jsonl").write_text("".join(json.dumps({"Email": f"p{i}@x.com"}) + "\n" for i in range(1, 4)))
    down = FakeService(fail={"p2@x.com": NetworkError("connection refused")})
    with pytest.raises(ImportEnded) as stopped:
        run("r.jsonl", down, mapping=SURVEYS, workers=1)
    assert stopped.value.exit_code == ExitCode.NETWORK
    journaled = journal_rows(Path("r.jsonl.cg-journal"))
    assert 2 not in journaled and set(journaled.values()) == {SENT}
    back = FakeService()
    report = run("r.jsonl", back, mapping=SURVEYS, workers=1, resume=True)
    assert report.summary["maybe_arrived"] == 0  # no exception: every row accepted
    assert back.delivered["p2@x.com"] == 1
    assert sorted((down.delivered + back.delivered).items()) == [(f"p{i}@x.com", 1) for i in (1, 2, 3)]


def test_previous_answers_by_row_number_across_slices() -> None:
    journal = opened()
    numbers = [1, LOOKUP_SLICE - 1, LOOKUP_SLICE, LOOKUP_SLICE + 1, 3 * LOOKUP_SLICE + 5]
    for number in numbers:
        journal.record(number, number.to_bytes(4, "big"), SENT if number % 2 else FAILED)
    journal.commit()
    for number in range(1, 3 * LOOKUP_SLICE + 7):
        expected = (number.to_bytes(4, "big"), SENT if number % 2 else FAILED, None) if number in numbers else None
        assert journal.previous(number) == expected, number
    journal.close()


def test_sent_keys_after_are_the_keys_of_rows_sent_beyond_the_end_of_a_shorter_input() -> None:
    journal = opened()
    journal.record(1, b"d1", SENT, b"k-early")
    journal.record(3, b"d3", SENT, b"k-late")
    journal.record(4, b"d4", SENT, b"k-late")
    journal.record(5, b"d5", FAILED, b"k-failed")
    journal.record(6, b"d6", SENT)  # an event: no key
    journal.mark_in_flight(7, b"d7")
    assert journal.sent_keys_after(2) == {b"k-late"}
    assert journal.sent_keys_after(0) == {b"k-early", b"k-late"}
    assert journal.sent_keys_after(4) == set()
    journal.close()


def test_a_recorded_outcome_replaces_the_earlier_one() -> None:
    journal = opened()
    journal.mark_in_flight(7, b"d")
    journal.record(7, b"d", SENT)
    assert journal.count(SENT) == 1 and journal.count(IN_FLIGHT) == 0
    journal.close()


@pytest.mark.parametrize(
    ("state", "reason", "described"),
    [
        (RunState.FAILED_ROWS, "", "an earlier import finished with 1 failed row(s)"),
        (RunState.INTERRUPTED, "", "an earlier import was interrupted after 2 row(s) were sent"),
        (RunState.STOPPED, "the service answered 503", "an earlier import stopped (the service answered 503)"),
        (RunState.RUNNING, "", "an earlier import did not finish (it was killed, or the machine went down)"),
    ],
)
def test_describe_says_how_the_last_run_ended_and_why(state: RunState, reason: str, described: str) -> None:
    journal = opened()
    journal.begin_run("fingerprint")
    journal.record(1, b"a", SENT)
    journal.record(2, b"b", SENT)
    journal.record(3, b"c", FAILED)
    if state != RunState.RUNNING:
        journal.end_run(state, reason)
    journal.close()
    again = opened()
    try:
        assert again.describe() == described
    finally:
        again.close()


def test_a_run_that_stops_again_without_a_reason_says_so() -> None:
    journal = opened()
    journal.end_run(RunState.STOPPED, "first reason")
    journal.begin_run(None)  # a new run clears the old reason
    journal.end_run(RunState.STOPPED)
    assert journal.describe() == "an earlier import stopped ()"
    journal.close()


def test_the_input_fingerprint_is_read_back_without_writing() -> None:
    assert journal_fingerprint(Path("j.db")) is None
    journal = opened()
    journal.begin_run("size-and-hash")
    journal.close()
    assert journal_fingerprint(Path("j.db")) == "size-and-hash"
    journal = opened()
    journal.begin_run(None)  # stdin: no fingerprint
    journal.close()
    assert journal_fingerprint(Path("j.db")) is None
    Path("junk.db").write_text("not sqlite" * 100)
    assert journal_fingerprint(Path("junk.db")) is None


def test_a_journal_of_another_configuration_or_version_or_kind_is_refused() -> None:
    opened(configuration="ref").close()
    with pytest.raises(JournalError, match="written for configuration ref, not configuration other") as other:
        opened(configuration="other")
    assert other.value.hint and "--restart" in other.value.hint
    db = sqlite3.connect("j.db")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'version'")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="another version of cg"):
        opened()
    Path("junk.db").write_text("not sqlite" * 100)
    with pytest.raises(JournalError, match="not a cg journal"):
        opened("junk.db")
    os.mkdir("dir.db")
    with pytest.raises(JournalError, match="not a regular file"):
        opened("dir.db")
    with pytest.raises(JournalError, match="does not exist"):
        Journal(Path("none.db"), "ref").open(create=False)


def test_a_closed_journal_refuses_writes_and_closing_twice_is_fine() -> None:
    journal = opened()
    journal.close()
    journal.close()
    with pytest.raises(JournalError, match="is not open"):
        journal.record(1, b"d", SENT)


def test_remove_deletes_the_journal_and_its_sqlite_companions(in_tmp: Path) -> None:
    journal = opened()
    journal.record(1, b"d", SENT)
    journal.commit()
    journal.remove()
    assert [name for name in os.listdir(in_tmp) if name.startswith("j.db")] == []


def test_remove_regular_file_never_removes_a_link_or_a_fifo(in_tmp: Path) -> None:
    Path("target").write_text("keep")
    os.symlink("target", "link")
    os.mkfifo("fifo")
    for name in ("link", "fifo", "missing"):
        remove_regular_file(Path(name))
    assert stat.S_ISLNK(os.lstat("link").st_mode) and stat.S_ISFIFO(os.stat("fifo").st_mode)
    remove_regular_file(Path("target"))
    assert not Path("target").exists()


def test_default_journal_path_keeps_the_whole_input_name() -> None:
    assert default_journal_path("q.csv") == Path("q.csv.cg-journal")
    assert default_journal_path("-") == Path("stdin.cg-journal")


def test_a_row_is_bound_to_its_record_or_to_the_line_that_could_not_be_read() -> None:
    record = Row(1, {"A": "1"}, ["1"])
    assert row_digest(record) == row_digest(Row(9, {"A": "1"}, ["other"]))  # the number is not part of it
    assert row_digest(record) != row_digest(Row(1, {"A": "2"}, ["1"]))
    assert len(row_digest(record)) == 16
    bad = Row(1, {}, "garbage", error="not JSON")
    assert row_digest(bad) != row_digest(Row(1, {}, "other garbage", error="not JSON"))


def test_outcomes_are_committed_when_due(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(journal_module.time, "monotonic", lambda: clock[0])
    journal = opened()
    journal.commit()
    journal.record(1, b"d", SENT)
    journal.commit_if_due()
    assert journal_rows(Path("j.db")) == {}  # not yet: less than SYNC_INTERVAL since the last commit
    clock[0] += journal_module.SYNC_INTERVAL
    journal.commit_if_due()
    assert journal_rows(Path("j.db")) == {1: SENT}
    journal.close()


@pytest.mark.parametrize(("durable", "level"), [(True, 2), (False, 1)])
def test_survey_journals_sync_fully_others_normally_both_in_wal(durable: bool, level: int) -> None:
    """In-flight marks of a survey must survive a power cut (FULL); WAL keeps a crash from tearing a commit."""
    journal = opened(durable_in_flight=True) if durable else opened()  # not durable unless asked
    try:
        db = journal._conn()
        assert db.execute("PRAGMA synchronous").fetchone() == (level,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA busy_timeout").fetchone() == (5000,)  # a journal another run holds: wait 5 s
    finally:
        journal.close()


def test_in_flight_marks_from_many_workers_are_all_committed() -> None:
    import threading

    journal = opened(durable_in_flight=True)
    workers = [
        threading.Thread(target=lambda base=base: [journal.mark_in_flight(base + i, b"d") for i in range(25)])
        for base in range(0, 200, 25)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert journal_rows(Path("j.db")) == dict.fromkeys(range(200), IN_FLIGHT)  # committed, seen from outside
    journal.close()


def test_a_journal_that_cannot_be_written_says_how_to_go_on() -> None:
    journal = opened()
    journal._conn().close()  # as a full disk or a vanished directory would leave it
    with pytest.raises(JournalError) as raised:
        journal.record(1, b"d", SENT)
    assert raised.value.message == "cannot write the journal j.db (Cannot operate on a closed database.)"
    assert raised.value.hint == "free some space or fix the permissions, then rerun the same command with --resume"
    with pytest.raises(JournalError, match=r"cannot read the journal j\.db"):
        journal.describe()


def test_each_refusal_names_the_way_out() -> None:
    opened(configuration="ref").close()
    with pytest.raises(JournalError) as other:
        opened(configuration="other")
    assert other.value.hint == (
        "resume with the settings of that run, pass --restart to discard it and send every row here, "
        "or pass another --journal"
    )
    os.mkdir("dir.db")
    with pytest.raises(JournalError) as directory:
        opened("dir.db")
    assert directory.value.hint == "pass another --journal"
    Path("junk.db").write_text("not sqlite" * 100)
    with pytest.raises(JournalError) as junk:
        opened("junk.db")
    assert junk.value.hint == ("pass --restart to discard it and send every row, or --journal to use another file")
    db = sqlite3.connect("j.db")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'version'")
    db.commit()
    db.close()
    with pytest.raises(JournalError) as version:
        opened()
    assert version.value.hint == (
        "pass --restart to discard it and send every row (for survey mappings, check first which rows arrived), "
        "or pass another --journal"
    )


def test_a_new_journal_records_its_version_and_configuration() -> None:
    opened(configuration="my-ref").close()
    db = sqlite3.connect("j.db")
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    finally:
        db.close()
    target = Destination("my-ref")
    assert meta == {"version": journal_module.SCHEMA_VERSION, "target": target.key, "target_name": target.describe()}
    again = opened(configuration="my-ref")  # reopened: accepted, nothing rewritten
    assert again.exists() and again.count(SENT) == 0
    again.close()


def test_a_row_holding_a_lone_surrogate_has_a_digest() -> None:
    """A JSON export's "\\ud800" reads as a lone surrogate: the row is still journaled, and told apart."""
    odd = Row(1, {"Account Name": "a\ud800"}, {})
    assert row_digest(odd) != row_digest(Row(1, {"Account Name": "a\ud801"}, {}))


def test_outcomes_of_a_reopened_journal_are_committed_when_due() -> None:
    opened().close()
    journal = opened()  # an existing journal: opening it writes nothing, so nothing was committed yet
    journal.record(1, b"d", SENT)
    journal.commit_if_due()
    assert journal_rows(Path("j.db")) == {1: SENT}
    journal.close()


def test_a_stopped_run_without_a_reason_says_unknown_reason() -> None:
    opened().close()
    db = sqlite3.connect("j.db")
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('state', 'stopped')")
    db.commit()
    db.close()
    journal = opened()
    assert journal.describe() == "an earlier import stopped (unknown reason)"
    journal.close()


def test_a_run_killed_after_an_earlier_stop_is_described_as_unfinished() -> None:
    journal = opened()
    journal.end_run(RunState.STOPPED, "the service answered 503")
    journal.begin_run("fingerprint")  # then a SIGKILL: end_run never comes
    journal.close()
    again = opened()
    assert again.describe() == "an earlier import did not finish (it was killed, or the machine went down)"
    again.close()


class FailingCommit:
    """A connection whose COMMIT fails, as on a full disk."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    @property
    def in_transaction(self) -> bool:
        return self.db.in_transaction

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def executemany(self, sql: str, rows: object) -> sqlite3.Cursor:
        return self.db.executemany(sql, rows)  # type: ignore[arg-type]

    def close(self) -> None:
        self.db.close()


def test_a_commit_that_fails_names_the_reason_and_close_still_closes() -> None:
    journal = opened()
    real = journal._conn()
    journal._db = FailingCommit(real)  # type: ignore[assignment]
    journal.record(1, b"d", SENT)
    with pytest.raises(JournalError) as raised:
        journal.commit()
    assert raised.value.message == "cannot write the journal j.db (database or disk is full)"
    with pytest.raises(JournalError):
        journal.close()
    assert journal._db is None
    with pytest.raises(sqlite3.ProgrammingError):
        real.execute("SELECT 1")


def test_remove_deletes_the_wal_and_shm_files_another_reader_kept(in_tmp: Path) -> None:
    journal = opened()
    journal.record(1, b"d", SENT)
    journal.commit()
    reader = sqlite3.connect("j.db")
    reader.execute("SELECT count(*) FROM rows").fetchone()  # holds the WAL open past the journal's close
    try:
        journal.remove()
        assert [name for name in os.listdir(in_tmp) if name.startswith("j.db")] == []
    finally:
        reader.close()
