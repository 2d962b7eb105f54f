"""cg records import against the sandbox: every row ends exactly once as sent or failed."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cg_cli.importing.journal import Journal, RunState, row_digest
from cg_cli.records.readers import Row
from tests.conftest import SECRET, SandboxHandle, destination, journal_rows, spawn

CG = str(Path(sys.executable).parent / "cg")


def write_accounts(path: Path, count: int, missing_every: int = 0) -> Path:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["Account Name", "Email"])
        for i in range(1, count + 1):
            name = "" if missing_every and i % missing_every == 0 else f"Account {i}"
            writer.writerow([name, f"user{i}@example.com"])
    return path


def received_names(sandbox: SandboxHandle) -> Counter[str]:
    return Counter(r["record"].get("Account Name", "") for r in sandbox.records())


def read_failed(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


def test_2000_rows_ten_bad_exit_6_each_row_exactly_once(cg, server) -> None:
    sandbox = server()
    write_accounts(Path("accounts.csv"), 2000, missing_every=200)
    result = cg("records", "import", "accounts.csv", "--mapping", "accounts", "--workers", "8")
    assert result.exit_code == 6, result.output
    names = received_names(sandbox)
    assert len(names) == 1990 and set(names.values()) == {1}
    failed = read_failed(Path("accounts.failed.csv"))
    assert [int(r["_row"]) for r in failed] == list(range(200, 2001, 200))
    assert all("Account Name: required for an account mapping but missing" in r["_error"] for r in failed)
    assert failed[0]["Email"] == "user200@example.com"
    assert "10 row(s) failed: 1990 sent, 10 failed" in result.stderr
    assert sandbox.stats()["token_requests"] == 1
    assert Path("accounts.csv.cg-journal").exists()  # not every row was sent


def test_all_sent_exit_0_removes_journal_json_summary(cg, server) -> None:
    sandbox = server()
    write_accounts(Path("a.csv"), 50)
    result = cg("records", "import", "a.csv", "--config", "acc-ref", "-o", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] is True and summary["sent"] == 50 and summary["failed"] == 0
    assert summary["journal"] is None and summary["failed_file"] is None
    assert not Path("a.csv.cg-journal").exists() and not Path("a.failed.csv").exists()
    assert len(sandbox.records()) == 50


def test_server_422_rows_land_in_failed_file_with_errors(cg, server) -> None:
    sandbox = server()
    Path("cg-mappings.toml").unlink()  # no mapping file: the server decides
    write_accounts(Path("a.csv"), 30, missing_every=10)
    result = cg("records", "import", "a.csv", "--config", "acc-ref")
    assert result.exit_code == 6
    failed = sorted(read_failed(Path("a.failed.csv")), key=lambda r: int(r["_row"]))  # in order of completion
    assert [int(r["_row"]) for r in failed] == [10, 20, 30]
    error = failed[0]["_error"]
    prefix = "422 The given data was invalid. "
    assert error.startswith(prefix)
    assert json.loads(error[len(prefix) :]) == {"record.Account Name": ["The record.Account Name field is required."]}
    assert len(sandbox.records()) == 27


def test_faults_mid_run_lose_nothing(cg, server) -> None:
    sandbox = server()
    write_accounts(Path("a.csv"), 120)
    cg("auth", "token", prints_token=True)
    sandbox.fault(status=503, count=3)
    sandbox.fault(status=429, retry_after="0", count=2)
    sandbox.fault(drop=True, count=2)
    sandbox.fault(status=502)
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--workers", "4")
    assert result.exit_code == 0, result.output
    names = received_names(sandbox)
    assert len(names) == 120 and set(names.values()) == {1}


def test_service_down_exits_5_then_resume_completes_exactly_once(cg, server) -> None:
    sandbox = server()
    write_accounts(Path("a.csv"), 60)
    cg("auth", "token", prints_token=True)
    sandbox.fault(status=503, count=50)
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--workers", "2", "--retries", "1")
    assert result.exit_code == 5
    assert "stopped: the service fails persistently" in result.stderr and "answered 503" in result.stderr
    assert "--resume" in result.stderr
    sandbox.post("/_sandbox/reset")  # the service is back
    sandbox.post("/_sandbox/faults", [])
    before = len(sandbox.records())
    resumed = cg("records", "import", "a.csv", "--mapping", "accounts", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert before == 0
    names = received_names(sandbox)
    assert len(names) == 60 and set(names.values()) == {1}


def journal_with(path: str, configuration: str, done: dict[int, str], rows: list[Row] | None = None) -> None:
    """A journal as an earlier run over `rows` would have left it (digests of those rows)."""
    journal = Journal(Path(path + ".cg-journal"), destination(configuration))
    journal.open(create=True)
    by_number = {row.number: row for row in rows or []}
    for number, status in done.items():
        journal.record(number, row_digest(by_number[number]), status)
    journal.end_run(RunState.INTERRUPTED)
    journal.close()


def csv_rows(path: str) -> list[Row]:
    from cg_cli.records.readers import RecordFile

    with RecordFile(path) as records:
        return list(records)


def test_existing_journal_without_resume_exits_2_naming_both_choices(cg, server) -> None:
    server()
    write_accounts(Path("a.csv"), 5)
    journal_with("a.csv", "acc-ref", {1: "S"}, csv_rows("a.csv"))
    result = cg("records", "import", "a.csv", "--mapping", "accounts")
    assert result.exit_code == 2
    assert "journal a.csv.cg-journal exists: an earlier import was interrupted" in result.stderr
    assert "--resume" in result.stderr and "--restart" in result.stderr


def test_resume_skips_journaled_rows_and_counts_earlier_failures(cg, server) -> None:
    sandbox = server()
    write_accounts(Path("a.csv"), 10)
    journal_with("a.csv", "acc-ref", {1: "S", 2: "S", 3: "F", 4: "S"}, csv_rows("a.csv"))
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--resume", "-o", "json")
    assert result.exit_code == 6, result.output  # row 3 failed earlier: not every row was accepted
    summary = json.loads(result.stdout)
    assert summary["ok"] is False and summary["exit_code"] == 6
    assert (summary["sent"], summary["sent_earlier"], summary["failed"], summary["failed_earlier"]) == (6, 3, 0, 1)
    assert summary["skipped"] == 4
    assert sorted(received_names(sandbox)) == sorted(f"Account {i}" for i in range(5, 11))


def test_journal_of_another_configuration_is_refused(cg, server) -> None:
    server()
    write_accounts(Path("a.csv"), 3)
    journal_with("a.csv", "other", {1: "S"}, csv_rows("a.csv"))
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--resume")
    assert result.exit_code == 2
    assert "written for configuration other" in result.stderr and "not configuration acc-ref" in result.stderr
    assert "--restart" in result.stderr


def test_header_check_exits_4_and_sends_nothing(cg, server) -> None:
    sandbox = server()
    Path("a.csv").write_text("Account Name,Emial\nACME,a@b.c\n")
    result = cg("records", "import", "a.csv", "--mapping", "accounts")
    assert result.exit_code == 4
    assert "Emial" in result.stderr and "Email" in result.stderr
    assert sandbox.stats()["record_requests"] == 0
    assert cg("records", "import", "a.csv", "--mapping", "accounts", "--no-check").exit_code == 0
    assert sandbox.records()[0]["dropped"] == ["Emial"]


def test_bom_quoted_commas_newlines(cg, server) -> None:
    sandbox = server()
    Path("a.csv").write_bytes(
        '\ufeff"Account Name","First Name","Email"\n"ACME, Inc.","Jo ""JJ""\nSmith",a@b.c\nBeta,,b@c.d\n'.encode()
    )
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert [r["record"] for r in sandbox.records()] == [
        {"Account Name": "ACME, Inc.", "First Name": 'Jo "JJ"\nSmith', "Email": "a@b.c"},
        {"Account Name": "Beta", "Email": "b@c.d"},  # the empty cell is left out
    ]


def test_jsonl_with_blank_lines_and_bad_lines(cg, server) -> None:
    sandbox = server()
    Path("c.jsonl").write_text(
        '{"Email": "a@b.c", "First Name": "A"}\n\n{"Email": "x"}\nnot json\n{"Phone": "+1 555", "Score": 3}\n'
    )
    result = cg("records", "import", "c.jsonl", "--mapping", "contacts", "--workers", "1")
    assert result.exit_code == 6
    assert [r["record"] for r in sandbox.records()] == [{"Email": "a@b.c", "First Name": "A"}]
    failed = [json.loads(line) for line in Path("c.failed.jsonl").read_text().splitlines()]
    assert failed[0] == {"Email": "x", "_row": 2, "_error": "Email: has no @"}
    assert failed[1]["_row"] == 3 and failed[1]["_line"] == "not json"
    assert failed[2]["_row"] == 4 and "Score: not in mapping" in failed[2]["_error"]


def test_stdin_needs_format_and_works_with_it(cg, server) -> None:
    sandbox = server()
    data = "Account Name\nA\nB\n"
    assert cg("records", "import", "-", "--mapping", "accounts", input=data).exit_code == 2
    result = cg("records", "import", "-", "--format", "csv", "--mapping", "accounts", input=data)
    assert result.exit_code == 0, result.output
    assert len(sandbox.records()) == 2


def test_dry_run_sends_nothing_and_reports(cg, server) -> None:
    sandbox = server()
    write_accounts(Path("a.csv"), 100, missing_every=50)
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--dry-run", "-o", "json")
    assert result.exit_code == 4
    summary = json.loads(result.stdout)
    assert summary["would_send"] == 98 and summary["would_fail"] == 2 and summary["ok"] is False
    assert [p["row"] for p in summary["problems"]] == [50, 100]
    assert sandbox.stats()["record_requests"] == 0 and sandbox.stats()["token_requests"] == 0
    assert not Path("a.csv.cg-journal").exists() and not Path("a.failed.csv").exists()
    clean = write_accounts(Path("b.csv"), 10)
    ok = cg("records", "import", str(clean), "--mapping", "accounts", "--dry-run")
    assert ok.exit_code == 0 and "10 row(s) would be sent" in ok.stderr


def test_refused_credentials_exit_3_before_anything(cg, server, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = server()
    write_accounts(Path("a.csv"), 5)
    monkeypatch.setenv("CG_CLIENT_SECRET", "wrong")
    result = cg("records", "import", "a.csv", "--mapping", "accounts")
    assert result.exit_code == 3
    assert sandbox.stats()["record_requests"] == 0


def test_survey_rows_are_not_resent_and_not_resumed(cg, server) -> None:
    sandbox = server()
    Path("r.jsonl").write_text('{"Email": "a@b.c", "Score": 9}\n{"Email": "d@e.f", "Score": 7}\n')
    cg("auth", "token", prints_token=True)
    sandbox.fault(drop_after=True)
    result = cg("records", "import", "r.jsonl", "--mapping", "responses", "--workers", "1")
    assert result.exit_code == 6, result.output
    assert len(sandbox.records()) == 2  # each arrived once
    [failed] = [json.loads(line) for line in Path("r.failed.jsonl").read_text().splitlines()]
    assert "may have arrived" in failed["_error"]
    again = cg("records", "import", "r.jsonl", "--mapping", "responses", "--resume")
    assert again.exit_code == 6  # the row that may have arrived is still not known to be accepted
    assert "0 sent, 0 failed, 2 skipped (done before: 1 sent, 1 failed)" in again.stderr
    assert len(sandbox.records()) == 2


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        ("", "a.csv", "is empty"),
        ("Account Name,,Email\n", "a.csv", "column 2 of the header row has no heading"),
        ("A,B,A\n", "a.csv", "heading 'A' appears twice"),
        ("Account Name\nx\n", "a.xlsx", "cannot tell the format"),
        (b"Account Name\nA\x00B\n", "a.csv", "line 2: contains a NUL byte"),
        (b"Account Name\n\xff\xfe\n", "a.csv", "cannot be read as UTF-8 (byte 13)"),
    ],
)
def test_bad_files_exit_2(cg, server, content: str | bytes, name: str, expected: str) -> None:
    sandbox = server()
    Path(name).write_bytes(content.encode() if isinstance(content, str) else content)
    result = cg("records", "import", name, "--mapping", "accounts")
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert sandbox.stats()["record_requests"] == 0


def test_ragged_rows_fail_alone(cg, server) -> None:
    sandbox = server()
    Path("a.csv").write_text("Account Name,Email\nA,a@b.c\nB\nC,c@d.e,extra\nD,d@e.f\n")
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--workers", "1")
    assert result.exit_code == 6
    assert sorted(received_names(sandbox)) == ["A", "D"]
    rows = list(csv.reader(Path("a.failed.csv").read_text().splitlines()))
    assert rows == [
        ["Account Name", "Email", "_row", "_error"],
        ["B", "2", "row has 1 cells but the header has 2"],
        ["C", "c@d.e", "extra", "3", "row has 3 cells but the header has 2"],
    ]


def test_fixed_failed_file_imports_as_it_is(cg, server) -> None:
    sandbox = server()
    write_accounts(Path("a.csv"), 20, missing_every=10)
    assert cg("records", "import", "a.csv", "--mapping", "accounts").exit_code == 6
    fixed = Path("a.failed.csv").read_text().replace("\n,", "\nFixed,")
    Path("fixed.csv").write_text(fixed)
    result = cg("records", "import", "fixed.csv", "--mapping", "accounts")
    assert result.exit_code == 0, result.output
    assert len(sandbox.records()) == 20


def test_rate_caps_requests_per_second(cg, server) -> None:
    sandbox = server()
    write_accounts(Path("a.csv"), 11)
    started = time.monotonic()
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--rate", "20", "--workers", "4")
    assert result.exit_code == 0
    assert time.monotonic() - started >= 0.5  # 11 requests spaced 50 ms apart
    assert len(sandbox.records()) == 11


def test_plain_progress_has_no_control_characters(capsys) -> None:
    from cg_cli.importing.importer import ImportStats
    from cg_cli.output.progress import PlainProgress

    progress = PlainProgress("importing a.csv", 100, interval=0)
    progress.update(ImportStats(sent=5, failed=1))
    err = capsys.readouterr().err
    assert err.startswith("importing a.csv: 6/100 rows (5 sent, 1 failed, 0 skipped)")
    assert "\r" not in err and "\x1b" not in err


# --- the real process: Ctrl-C, token expiry ------------------------------------


def import_process(sandbox: SandboxHandle, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "CG_AUTH_URL": sandbox.url,
        "CG_API_URL": sandbox.url,
        "CG_CLIENT_ID": "test-client",
        "CG_CLIENT_SECRET": SECRET,
    }
    return spawn([CG, "records", "import", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_records(sandbox: SandboxHandle, count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while len(sandbox.records()) < count:
        assert time.monotonic() < deadline, "the import did not get going"
        time.sleep(0.05)


def test_token_expiry_mid_run_costs_one_refresh(server) -> None:
    sandbox = server(latency=0.01)
    write_accounts(Path("a.csv"), 300)
    proc = import_process(sandbox, "a.csv", "--mapping", "accounts", "--workers", "4")
    wait_for_records(sandbox, 30)
    sandbox.expire_tokens()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert sandbox.stats()["token_requests"] == 2
    names = received_names(sandbox)
    assert len(names) == 300 and set(names.values()) == {1}


def test_a_broken_file_is_refused_before_anything_is_sent(cg, server) -> None:
    sandbox = server()
    write_accounts(Path("a.csv"), 50)
    with Path("a.csv").open("ab") as stream:
        stream.write(b"Bad\x00Row,x@y.z\n")
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--workers", "4")
    assert result.exit_code == 2
    assert "line 52: contains a NUL byte" in result.stderr
    assert sandbox.records() == [] and not Path("a.csv.cg-journal").exists()  # the pre-flight read it all


def test_input_breaking_off_mid_stream_journals_what_was_sent(cg, server) -> None:
    sandbox = server()
    write_accounts(Path("a.csv"), 50)
    data = Path("a.csv").read_text() + "Bad\x00Row,x@y.z\n"
    result = cg("records", "import", "-", "--format", "csv", "--mapping", "accounts", "--workers", "4", input=data)
    assert result.exit_code == 2
    assert "line 52: contains a NUL byte" in result.stderr
    journaled = [n for n, status in journal_rows(Path("stdin.cg-journal")).items() if status == "S"]
    assert 0 < len(journaled) == len(sandbox.records())  # rows still queued were not sent


def test_second_ctrl_c_quits_at_once(server) -> None:
    sandbox = server(latency=0.5)
    write_accounts(Path("a.csv"), 200)
    proc = import_process(sandbox, "a.csv", "--mapping", "accounts", "--workers", "2")
    deadline = time.monotonic() + 20
    while sandbox.stats()["record_requests"] == 0:  # requests are in flight, each held 0.5 s
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert "quitting now" in err and "Traceback" not in err
    assert Path("a.csv.cg-journal").exists()  # --resume picks up from here


def test_progress_bar_on_a_terminal_draws_and_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from cg_cli.importing.importer import ImportStats
    from cg_cli.output.progress import BarProgress, PlainProgress, progress_for

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    bar = progress_for("importing a.csv", 10)
    assert isinstance(bar, BarProgress)
    bar.update(ImportStats(sent=4, failed=1))
    bar.close()
    assert "importing a.csv" in stream.getvalue() and "1 failed" in stream.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(progress_for("x", None), PlainProgress)


def test_a_bug_in_a_worker_stops_the_run_instead_of_hanging(cg, server, monkeypatch: pytest.MonkeyPatch) -> None:
    from cg_cli.service import client

    sandbox = server()
    write_accounts(Path("a.csv"), 30)

    def broken(self: object, content_type: str, body: bytes) -> None:
        raise RuntimeError("boom")

    cg("auth", "token", prints_token=True)
    monkeypatch.setattr(client.RecordsClient, "put", broken)
    result = cg("records", "import", "a.csv", "--mapping", "accounts")
    assert result.exit_code == 1
    assert "internal error sending row" in result.stderr and "RuntimeError('boom')" in result.stderr
    assert sandbox.records() == []


def test_short_token_lifetime_refreshes_once_per_expiry(cg, server) -> None:
    sandbox = server(token_ttl=2, latency=0.03)  # 400 rows at 4 × 1/30 ms: over 3 s
    write_accounts(Path("a.csv"), 400)
    started = time.monotonic()
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--workers", "4")
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    names = received_names(sandbox)
    assert len(names) == 400 and set(names.values()) == {1}
    stats = sandbox.stats()
    refreshes = stats["token_requests"] - 1
    assert 1 <= refreshes <= elapsed / 1.8 + 1  # one per lifetime, shared by the workers
    assert stats["record_requests"] - 400 <= 4 * refreshes  # at most one 401 per worker per expiry


def test_devices_named_as_output_are_never_deleted_and_fail_cleanly(cg, server, devices: tuple[Path, Path]) -> None:
    """As root, deleting `--failed /dev/full` or `--journal /dev/null` would break the machine."""
    server()
    full, null = devices
    Path("a.csv").write_text("Account Name,Email\n,x@y.z\nB,b@y.z\n")
    failed = cg("records", "import", "a.csv", "--mapping", "accounts", "--failed", str(full), "--workers", "1")
    assert failed.exit_code == 2, failed.output
    assert f"cannot write the failed file {full}" in failed.stderr and "--resume" in failed.stderr
    assert full.is_char_device()
    journal = cg("records", "import", "a.csv", "--mapping", "accounts", "--journal", str(null), "--restart")
    assert journal.exit_code == 2 and f"journal {null} is not a regular file" in journal.stderr
    assert null.is_char_device()


def test_stdin_twice_with_different_rows_never_skips_a_row(cg, server) -> None:
    sandbox = server()
    monday = "Account Name,Email\nMon1,a@x.com\nMon2,bad\nMon3,c@x.com\n"
    first = cg("records", "import", "-", "--format", "csv", "--mapping", "accounts", input=monday)
    assert first.exit_code == 6
    tuesday = "Account Name,Email\nTue1,a@x.com\nTue2,b@x.com\nTue3,c@x.com\nTue4,d@x.com\n"
    refused = cg("records", "import", "-", "--format", "csv", "--mapping", "accounts", input=tuesday)
    assert refused.exit_code == 2 and "finished with 1 failed row(s)" in refused.stderr
    resumed = cg("records", "import", "-", "--format", "csv", "--mapping", "accounts", "--resume", input=tuesday)
    assert resumed.exit_code == 0, resumed.output
    assert "stdin differs from what the journal saw (first at row 1)" in resumed.stderr
    names = received_names(sandbox)
    assert all(names[f"Tue{i}"] == 1 for i in range(1, 5))
    assert not Path("stdin.cg-journal").exists()
