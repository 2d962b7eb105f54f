"""Every row of a run counted once, in the JSON and the text summary, and the files a run leaves
telling the same story (an adversarial tester's findings, each held by a test)."""

from __future__ import annotations

import csv
import json
import signal
from pathlib import Path
from typing import Any

import pytest

from cg_cli.config.targets import Target
from cg_cli.errors import ExitCode, ImportEnded
from cg_cli.importing import concurrency
from cg_cli.importing.run import ImportRequest, ImportRun
from tests.conftest import ACCOUNTS_MAPPING, Result
from tests.test_records_import import import_process, wait_for_records


def import_json(cg: Any, *args: str, input: str | None = None) -> tuple[Result, dict[str, Any]]:  # noqa: A002
    result = cg("records", "import", *args, "-o", "json", input=input)
    return result, json.loads(result.stdout)


def survey_rows(path: Path, count: int) -> Path:
    path.write_text("Email,Score\n" + "".join(f"p{i}@x.com,{i % 10}\n" for i in range(1, count + 1)))
    return path


# -- 1. maybe_arrived counts the rows that may have arrived, in the run they may have arrived in ------------------


def test_a_survey_answered_502_once_counts_as_maybe_arrived_and_names_no_retries(cg: Any, server: Any) -> None:
    sandbox = server()
    survey_rows(Path("one.csv"), 1)
    sandbox.fault(status=502, count=1)
    result, summary = import_json(cg, "one.csv", "--mapping", "responses")
    assert result.exit_code == 6, result.output
    assert (summary["failed"], summary["maybe_arrived"]) == (1, 1)
    assert sandbox.stats()["record_requests"] == 1  # not retried: a survey answered 502 may have arrived
    error = summary["first_failures"][0]["error"]
    assert "answered 502 Bad Gateway" in error and "may have arrived" in error
    assert "retr" not in error.split(";")[0], error  # no "after 4 retries": none was made


def test_rows_that_may_have_arrived_are_counted_in_the_run_that_reports_them(cg: Any, server: Any) -> None:
    server(chaos=0.2)
    survey_rows(Path("sv.csv"), 300)
    result, summary = import_json(cg, "sv.csv", "--mapping", "responses", "--results", "r.csv", "--workers", "4")
    assert result.exit_code == 6, result.output
    with Path("r.csv").open(newline="") as stream:
        reported = [r for r in csv.DictReader(stream) if "may have arrived" in r["_error"]]
    assert reported and summary["maybe_arrived"] == len(reported)
    assert summary["failed"] >= summary["maybe_arrived"]


def test_an_account_row_that_keeps_failing_says_its_retries_and_its_attempts(
    cg: Any, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(concurrency, "ROW_RETRY_WAIT", 0.0)
    sandbox = server()
    Path("a.csv").write_text("Account Name\nACME\n")
    sandbox.fault(status=500, count=6)
    result, summary = import_json(cg, "a.csv", "--mapping", "accounts", "--retries", "1")
    assert result.exit_code == 6, result.output
    assert sandbox.stats()["record_requests"] == 6  # three attempts of the row, each with its one retry
    error = summary["first_failures"][0]["error"]
    assert "answered 500 Internal Server Error after 1 retry" in error and "(the row was tried 3 times)" in error
    assert summary["maybe_arrived"] == 0  # an account is sent again by the next run: nothing to check by hand
    sandbox.fault(status=500, count=3)
    again, summary = import_json(cg, "a.csv", "--mapping", "accounts", "--retries", "0", "--restart")
    assert again.exit_code == 6 and "retr" not in summary["first_failures"][0]["error"].split("(")[0]


# -- 2. the counts add up to the rows read, whatever the outcome ------------------------------------------------------

COUNTS = ("sent", "failed", "skipped", "unchanged", "superseded", "not_sent")


def results_statuses(path: Path) -> list[str]:
    with path.open(newline="") as stream:
        return [row["_status"] for row in csv.DictReader(stream)]


def assert_adds_up(summary: dict[str, Any], rows: int) -> None:
    assert sum(summary[key] for key in COUNTS) == rows, {key: summary[key] for key in COUNTS}
    assert summary["skipped"] == summary["sent_earlier"] + summary["failed_earlier"]
    assert summary["maybe_arrived"] <= summary["failed"]


def accounts(path: Path, count: int, *, bad: tuple[int, ...] = ()) -> Path:
    rows = "".join(("" if i in bad else f"A{i}") + ",x\n" for i in range(1, count + 1))
    path.write_text("Account Name,First Name\n" + rows)
    return path


def test_a_run_the_breaker_stops_counts_its_rows_not_sent(cg: Any, server: Any) -> None:
    sandbox = server()
    accounts(Path("a.csv"), 60)
    sandbox.fault(status=500, count=300)
    stopped, summary = import_json(cg, "a.csv", "--mapping", "accounts", "--results", "r.csv", "--retries", "1")
    assert stopped.exit_code == 5, stopped.output
    assert_adds_up(summary, 60)
    assert summary["not_sent"] == results_statuses(Path("r.csv")).count("not-sent") > 0
    text = cg("records", "import", "a.csv", "--mapping", "accounts", "--resume", "--dry-run")
    assert text.exit_code == 0  # (a dry run says nothing of the journal; the resume below does)
    sandbox.post("/_sandbox/reset")
    resumed, summary = import_json(cg, "a.csv", "--mapping", "accounts", "--resume", "--results", "r.csv")
    assert resumed.exit_code == 0, resumed.output
    assert_adds_up(summary, 60)
    assert summary["not_sent"] == 0 and summary["sent"] + summary["sent_earlier"] == 60


def test_the_text_summary_of_a_stopped_run_says_how_many_rows_were_not_sent(cg: Any, server: Any) -> None:
    sandbox = server()
    accounts(Path("a.csv"), 20)
    sandbox.fault(status=500, count=300)
    stopped = cg("records", "import", "a.csv", "--mapping", "accounts", "--retries", "0", "--results", "r.csv")
    assert stopped.exit_code == 5, stopped.output
    not_sent = results_statuses(Path("r.csv")).count("not-sent")
    assert f", {not_sent} not sent (the run stopped before their turn);" in stopped.stderr


def test_the_counts_add_up_when_rows_fail_are_unchanged_superseded_or_done_before(cg: Any, server: Any) -> None:
    server()
    accounts(Path("a.csv"), 10, bad=(4, 7))
    failed, summary = import_json(cg, "a.csv", "--mapping", "accounts", "--state", "s.db")
    assert failed.exit_code == 6 and summary["failed"] == 2
    assert_adds_up(summary, 10)
    resumed, summary = import_json(cg, "a.csv", "--mapping", "accounts", "--state", "s.db", "--resume")
    assert resumed.exit_code == 6 and (summary["sent_earlier"], summary["failed_earlier"]) == (8, 2)
    assert_adds_up(summary, 10)
    accounts(Path("a.csv"), 10)
    fixed, summary = import_json(cg, "a.csv", "--mapping", "accounts", "--state", "s.db", "--restart")
    assert fixed.exit_code == 0 and (summary["sent"], summary["unchanged"]) == (2, 8)
    assert_adds_up(summary, 10)
    Path("d.csv").write_text("Account Name,First Name\nA,1\nB,1\nA,2\n")
    last, summary = import_json(cg, "d.csv", "--mapping", "accounts", "--duplicates", "last")
    assert last.exit_code == 0 and summary["superseded"] == 1
    assert_adds_up(summary, 3)
    piped, summary = import_json(cg, "-", "--format", "csv", "--mapping", "accounts", input="Account Name\nX\n\nY\n")
    assert piped.exit_code == 0, piped.output
    assert_adds_up(summary, 2)


# -- 3. records state --forget / --forget-uncertain: a mapping name, or a configuration the state knows -----------


def survey_state_with_one_uncertain(cg: Any, sandbox: Any) -> None:
    Path("sv.csv").write_text("Email,Score\njoe@x.com,9\nann@x.com,5\n")
    sandbox.fault(drop_after=True)  # the first response is stored, its answer lost
    first = cg("records", "import", "sv.csv", "--mapping", "responses", "--state", "s.db", "--workers", "1")
    assert first.exit_code == 6, first.output


def test_forget_uncertain_takes_a_mapping_name(cg: Any, server: Any) -> None:
    survey_state_with_one_uncertain(cg, server())
    forgot = cg("records", "state", "s.db", "--forget-uncertain", "responses", "-o", "json")
    assert forgot.exit_code == 0, forgot.output
    assert json.loads(forgot.stdout) == {"ok": True, "configuration": "resp-ref", "forgot": 1}
    shown = json.loads(cg("records", "state", "s.db", "-o", "json").stdout)
    assert [t["may_have_arrived"] for t in shown["targets"]] == [0]
    text = cg("records", "state", "s.db", "--forget", "responses")
    assert text.exit_code == 0 and "Forgot 1 record(s) of configuration resp-ref (mapping responses)" in text.stderr


def test_forgetting_a_configuration_the_state_does_not_know_is_exit_2_naming_what_it_knows(
    cg: Any, server: Any
) -> None:
    survey_state_with_one_uncertain(cg, server())
    for option in ("--forget", "--forget-uncertain"):
        unknown = cg("records", "state", "s.db", option, "survey")
        assert unknown.exit_code == 2, unknown.output
        [line] = unknown.stderr.splitlines()[:1]
        assert line == "error: state s.db holds no configuration 'survey' (it holds: resp-ref)"
        as_json = cg("records", "state", "s.db", option, "survey", "-o", "json")
        document = json.loads(as_json.stdout)
        assert (as_json.exit_code, document["ok"], document["exit_code"]) == (2, False, 2)
        assert "holds no configuration 'survey'" in document["error"]
        # A mapping whose configuration the state never saw: named with its reference.
        never = cg("records", "state", "s.db", option, "accounts")
        assert never.exit_code == 2
        assert "no configuration 'acc-ref' (mapping accounts; it holds: resp-ref)" in never.stderr
    both = cg("records", "state", "s.db", "--forget", "resp-ref", "--forget-uncertain", "resp-ref")
    assert both.exit_code == 2 and "not both" in both.stderr
    shown = json.loads(cg("records", "state", "s.db", "-o", "json").stdout)
    assert [t["may_have_arrived"] for t in shown["targets"]] == [1]  # nothing was forgotten


# -- 4. a run that ends with every row accepted leaves no failed file behind -------------------------------------------


def test_a_resume_that_ends_green_removes_the_earlier_failed_file(cg: Any, server: Any) -> None:
    server()
    accounts(Path("a.csv"), 5, bad=(3,))
    assert cg("records", "import", "a.csv", "--mapping", "accounts").exit_code == 6
    assert Path("a.failed.csv").exists()
    accounts(Path("a.csv"), 5)
    resumed, summary = import_json(cg, "a.csv", "--mapping", "accounts", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert summary["failed_file"] is None and summary["journal"] is None
    assert not Path("a.failed.csv").exists() and not Path("a.csv.cg-journal").exists()


def test_a_green_resume_from_stdin_removes_stdin_failed_file(cg: Any, server: Any) -> None:
    server()
    bad, good = "Account Name,First Name\nA,x\n,x\n", "Account Name,First Name\nA,x\nB,x\n"
    assert cg("records", "import", "-", "--format", "csv", "--mapping", "accounts", input=bad).exit_code == 6
    assert Path("stdin.failed.csv").exists()
    resumed = cg("records", "import", "-", "--format", "csv", "--mapping", "accounts", "--resume", input=good)
    assert resumed.exit_code == 0, resumed.output
    assert not Path("stdin.failed.csv").exists()


# -- combinations ---------------------------------------------------------------------------------------------------


def test_an_interrupted_dry_run_is_exit_130_not_a_partial_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    accounts(Path("a.csv"), 50)
    request = ImportRequest(file="a.csv", target=Target("acc-ref", ACCOUNTS_MAPPING), dry_run=True)
    run = ImportRun(request, None)
    run.request_stop("SIGINT")  # Ctrl-C as the dry run starts
    with pytest.raises(ImportEnded) as ended:
        run.run()
    assert ended.value.exit_code == ExitCode.INTERRUPTED and ended.value.message.startswith("interrupted: dry run")
    assert ended.value.summary["dry_run"] is True and ended.value.summary["interrupted"] is True
    assert not Path("a.csv.cg-journal").exists() and not Path("a.failed.csv").exists()


@pytest.mark.parametrize("mapping", ["accounts", "responses"])
def test_ctrl_c_counts_the_rows_read_and_not_sent_and_a_resume_finishes_clean(server: Any, mapping: str) -> None:
    sandbox = server(latency=0.02)
    if mapping == "accounts":
        accounts(Path("a.csv"), 400)
    else:
        survey_rows(Path("a.csv"), 400)
    args = ("a.csv", "--mapping", mapping, "--workers", "4", "--results", "r.csv", "--junit", "j.xml", "-o", "json")
    proc = import_process(sandbox, *args)
    wait_for_records(sandbox, 20)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    summary = json.loads(out)
    statuses = results_statuses(Path("r.csv"))
    assert_adds_up(summary, len(statuses))
    assert summary["not_sent"] == statuses.count("not-sent") and summary["sent"] == len(sandbox.records())
    junit = Path("j.xml").read_text()  # the report counts the rows of the file never sent, read or not
    assert 'name="stopped (interrupted): ' in junit and " row(s) not sent" in junit
    resumed = import_process(sandbox, "a.csv", "--mapping", mapping, "--resume", "--workers", "4", "-o", "json")
    out, err = resumed.communicate(timeout=60)
    summary = json.loads(out)
    assert resumed.returncode == 0, summary["first_failures"]
    assert_adds_up(summary, 400)
    assert summary["sent"] + summary["sent_earlier"] == 400 == len(sandbox.records())


def test_a_green_dry_run_removes_nothing_and_a_named_failed_file_goes_only_when_cg_wrote_it(
    cg: Any, server: Any
) -> None:
    server()
    accounts(Path("a.csv"), 4, bad=(2,))
    Path("out").mkdir()
    assert cg("records", "import", "a.csv", "--mapping", "accounts", "--failed", "out/f.csv").exit_code == 6
    accounts(Path("a.csv"), 4)
    dry = cg("records", "import", "a.csv", "--mapping", "accounts", "--failed", "out/f.csv", "--resume", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert Path("out/f.csv").exists() and Path("a.csv.cg-journal").exists()  # a dry run writes (and removes) nothing
    Path("link.csv").symlink_to("out/f.csv")
    linked = cg("records", "import", "a.csv", "--mapping", "accounts", "--failed", "link.csv", "--resume")
    assert linked.exit_code == 0, linked.output
    assert Path("link.csv").is_symlink() and Path("out/f.csv").exists()  # never a link someone planted
    accounts(Path("a.csv"), 4, bad=(3,))
    assert cg("records", "import", "a.csv", "--mapping", "accounts", "--failed", "out/f.csv").exit_code == 6
    accounts(Path("a.csv"), 4)
    named = cg("records", "import", "a.csv", "--mapping", "accounts", "--failed", "out/f.csv", "--resume")
    assert named.exit_code == 0 and not Path("out/f.csv").exists()


def test_a_failed_file_that_cannot_be_removed_costs_a_notice_not_the_green_run(
    cg: Any, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server()
    accounts(Path("a.csv"), 3, bad=(2,))
    assert cg("records", "import", "a.csv", "--mapping", "accounts").exit_code == 6
    accounts(Path("a.csv"), 3)
    real_unlink = Path.unlink

    def refuse(self: Path, missing_ok: bool = False) -> None:
        if self.name == "a.failed.csv":
            raise PermissionError(13, "Permission denied")
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    resumed = cg("records", "import", "a.csv", "--mapping", "accounts", "--resume")
    assert resumed.exit_code == 0, resumed.output
    said = "could not remove a.failed.csv, which holds an earlier run's failed rows (Permission denied)"
    assert said in resumed.stderr
