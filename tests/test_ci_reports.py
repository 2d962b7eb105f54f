"""What the CI reports count, read by consumers cg did not write (lxml + the junit-10.xsd rules, junitparser,
cmark-gfm): a check with more problems than the JSON lists, an import that stopped before the end of its file,
and the lists the JSON document cuts."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from cg_cli.output import ci
from tests.test_ci_junit import checked
from tests.test_ci_summary import rendered
from tests.test_records_import import import_process, wait_for_records, write_accounts


def write_big(path: Path, rows: int, good: int) -> None:
    """`rows` accounts; from row `good` + 1 on, each with an Email that has no @ (one problem per row)."""
    lines = [f"A{n},{f'a{n}@y.io' if n < good else f'bad{n}'}\n" for n in range(rows)]
    path.write_text("Account Name,Email\n" + "".join(lines))


def test_a_check_with_more_problems_than_the_json_lists_counts_all_of_them(cg, server: Any, github: Path) -> None:
    """1,500 rows, 1,200 with a bad Email: 1,000 failing cases, one counting the other 200, one for the 300 clean
    rows; the annotations and the job summary count 1,200 too (the JSON lists 100 and says so)."""
    server()
    write_big(Path("big.csv"), 1500, 300)
    result = cg("mappings", "check", "accounts", "--file", "big.csv", "--junit", "j.xml", "-o", "json")
    assert result.exit_code == 4, result.output[-500:]
    document = json.loads(result.stdout)
    assert document["problems_total"] == 1200 and len(document["problems"]) == 100
    report = checked("j.xml")
    names = [case.name for case in report["cases"]]
    assert len(names) == 1002 and len(report["failing"]) == 1001
    assert names[0] == "row 301 (line 302): Email: has no @" and names[999].startswith("row 1300 (line 1301)")
    assert names[1000:] == ["200 more problem(s)", "300 row(s) without problems"]
    notices = [line for line in result.stderr.splitlines() if line.startswith("::notice")]
    assert notices == ["::notice file=big.csv::1190 more problem(s) not annotated"]
    assert len([line for line in result.stderr.splitlines() if line.startswith("::error")]) == ci.MAX_ANNOTATIONS
    page = rendered(github.read_text())
    assert page.find("h3").text_content() == "cg mappings check accounts --file big.csv: 1200 problem(s)"


def test_rows_with_two_problems_are_counted_once_as_rows(cg, server: Any) -> None:
    """150 rows, each without its Account Name and with a bad Email (300 problems), and 10 clean rows."""
    server()
    rows = "".join(",bad\n" for _ in range(150)) + "".join(f"A{n},a@y.io\n" for n in range(10))
    Path("two.csv").write_text("Account Name,Email\n" + rows)
    result = cg("mappings", "check", "accounts", "--file", "two.csv", "--junit", "j.xml", "-o", "json")
    assert result.exit_code == 4 and json.loads(result.stdout)["problems_total"] == 300
    names = [case.name for case in checked("j.xml")["cases"]]
    assert len(names) == 301 and names[-1] == "10 row(s) without problems"


def test_check_cases_count_from_the_totals_not_the_findings_kept() -> None:
    from cg_cli.importing.recorder import MAX_KEPT_FAILURES
    from cg_cli.records.checks import KEPT_PROBLEMS

    assert KEPT_PROBLEMS == MAX_KEPT_FAILURES == ci.MAX_JUNIT_CASES  # a case for each one kept, as docs/ci.md says
    findings = [ci.Finding(n, n + 1, "Email: has no @", "Email: has no @") for n in range(1, 6)]
    cases = ci.check_cases(findings, total=5_000_000, rows=9_000_000, problem_rows=4_000_000)
    assert [c.name for c in cases[5:]] == ["4999995 more problem(s)", "5000000 row(s) without problems"]
    assert ci.check_cases([], total=0, rows=0, problem_rows=0) == []


def slow_import(server: Any, *args: str) -> tuple[Any, Any]:
    sandbox = server(latency=0.02)
    write_accounts(Path("a.csv"), 300)
    proc = import_process(sandbox, "a.csv", "--mapping", "accounts", "--workers", "2", "-o", "json", *args)
    wait_for_records(sandbox, 10)
    return sandbox, proc


@pytest.mark.parametrize(("stop", "code", "why"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130,
                                                                                           "interrupted")])  # fmt: skip
def test_a_signalled_import_is_red_in_junit_and_says_what_was_not_sent(
    server: Any, github: Path, stop: int, code: int, why: str
) -> None:
    sandbox, proc = slow_import(server, "--junit", "j.xml")
    proc.send_signal(stop)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    sent = json.loads(stdout)["sent"]
    assert sent == len(sandbox.records()) and 10 <= sent < 300
    report = checked("j.xml")
    stopped = [case for case in report["failing"] if case.name.startswith("stopped")]
    assert len(stopped) == 1, [case.name for case in report["cases"]]
    assert stopped[0].name == f"stopped ({why}): {300 - sent} row(s) not sent"
    assert "--resume" in stopped[0].result[0].text
    assert [case.name for case in report["cases"]] == [stopped[0].name, f"{sent} row(s) accepted"]
    rows = [[cell.text_content() for cell in row.iter("td")] for row in rendered(github.read_text()).iter("tr")]
    assert rows[1][:6] == ["this run", str(sent), "0", "0", "0", str(300 - sent)]  # … superseded, not sent


def test_an_import_stopped_by_the_service_being_down_is_red(cg, server: Any, breaker_on_one_row: None) -> None:
    sandbox = server()
    write_accounts(Path("a.csv"), 30)
    sandbox.fault(status=500, body='{"message": "down"}', count=1000)
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--workers", "1", "--retries", "0",
                "--junit", "j.xml")  # fmt: skip
    assert result.exit_code == 5, result.output
    report = checked("j.xml")
    assert [case.name for case in report["cases"]] == ["stopped (the service is unreachable or failing): 30 row(s) "
                                                       "not sent"]  # fmt: skip
    assert "the service fails persistently" in report["failing"][0].result[0].text


def test_a_stopped_import_from_stdin_says_the_rest_was_not_read() -> None:
    summary = {"sent": 4, "failed": 1, "interrupted": True, "stopped_by": None}
    cases = ci.import_cases(summary, [], None, stop=ci.Stop("interrupted", None))
    assert cases[0].name == "stopped (interrupted): the rest of the input was not sent"
    assert [case.outcome for case in cases] == ["failure", "failure", None]  # the stop, 1 more failed, accepted


def test_a_cut_list_of_failures_says_so(cg, server: Any) -> None:
    server()
    for failed, cut in ((30, True), (21, True), (20, False)):
        rows = "".join(f",x{n}@y.io\n" for n in range(failed))
        Path("a.csv").write_text("Account Name,Email\n" + rows + "A,a@y.io\n")
        args = ("records", "import", "a.csv", "--mapping", "accounts", "--restart", "-o", "json")
        many = json.loads(cg(*args).stdout)
        assert (many["failed"], len(many["first_failures"]), many["first_failures_truncated"]) == (failed, 20, cut)
    Path("b.csv").write_text("Account Name\nA\n")
    clean = json.loads(cg("records", "import", "b.csv", "--mapping", "accounts", "-o", "json").stdout)
    assert clean["first_failures"] == [] and clean["first_failures_truncated"] is False


def test_a_cut_list_of_repeated_keys_says_so(cg, server: Any) -> None:
    server()
    rows = "".join(f"K{n % 60},k{n}@y.io\n" for n in range(120)) + "".join(f"S,s{n}@y.io\n" for n in range(7))
    Path("d.csv").write_text("Account Name,Email\n" + rows)
    result = cg("mappings", "check", "accounts", "--file", "d.csv", "-o", "json")
    assert result.exit_code == 0, result.output
    keys = json.loads(result.stdout)["duplicate_keys"]
    assert keys["keys"] == 61 and len(keys["first"]) == 3 and keys["first_truncated"] is True
    assert keys["first"][0] == {"key": "Account Name 'k0'", "rows": [1, 61], "rows_truncated": False}
    Path("s.csv").write_text("Account Name,Email\n" + "".join(f"S,s{n}@y.io\n" for n in range(7)))
    single = json.loads(cg("mappings", "check", "accounts", "--file", "s.csv", "-o", "json").stdout)
    (only,) = single["duplicate_keys"]["first"]
    assert only == {"key": "Account Name 's'", "rows": [1, 2, 3, 4, 5], "rows_truncated": True}


HOSTILE = "\x01<b>x</b>]]>\ud800 ::error::x ##[add-mask]y | *z* `w` www.evil.example joe@example.com\n::notice::n"


def table(markdown: str) -> list[dict[str, str]]:
    """The job summary's first table as cmark-gfm renders it, each row by its column headings."""
    first = next(rendered(markdown).iter("table"))
    headings = [cell.text_content() for cell in first.iter("th")]
    return [dict(zip(headings, (c.text_content() for c in row.iter("td")), strict=True)) for row in first.iter("tr")
            if row.find("td") is not None]  # fmt: skip


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A section as GitHub reads it: appended to the step summary file by cg, read back as UTF-8."""
    path = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))

    def write(markdown: str) -> str:
        path.unlink(missing_ok=True)
        assert ci.append_job_summary(markdown) is None
        return path.read_text(encoding="utf-8")

    return write


def test_a_stop_with_hostile_words_and_huge_counts_stays_valid_and_inert(tmp_path: Path, written: Any) -> None:
    stop = ci.Stop(HOSTILE * 3, 10**15, HOSTILE, HOSTILE)
    summary = {"sent": 10**15, "failed": 10**15 + 7, "skipped": 3, "sent_earlier": 2, "failed_earlier": 1}
    findings = [ci.Finding(n, n + 1, HOSTILE, HOSTILE) for n in range(1, 30)]
    (tmp_path / "r.xml").write_bytes(ci.junit_xml(HOSTILE, ci.import_cases(summary, findings, HOSTILE, stop)))
    report = checked(tmp_path / "r.xml")
    assert report["failing"][0].name.startswith("stopped (\\x01<b>x</b>]]>\\ud800 ::error::x")
    assert [c.name for c in report["cases"][-4:]] == [f"{10**15 + 7 - 29} more failed row(s)", "1 row(s) failed in an "
        "earlier run", f"{10**15} row(s) accepted", "2 row(s) sent in an earlier run"]  # fmt: skip
    markdown = written(ci.import_summary(HOSTILE, summary, findings, HOSTILE, stop))
    page = rendered(markdown)
    assert not [e.tag for e in page.iter() if e.tag in ("a", "b", "img", "em", "script")]
    rows = table(markdown)
    assert rows[0] == {"": "this run", "sent": str(10**15), "failed": str(10**15 + 7), "unchanged": "0",
                       "superseded": "0", "not sent": str(10**15), "elapsed": "0.0 s", "rows/s": "0"}  # fmt: skip
    assert rows[1][""] == "earlier runs (skipped now)" and (rows[1]["sent"], rows[1]["not sent"]) == ("2", "")
    lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len({len(re.findall(r"(?<!\\)\|", line)) for line in lines[:4]}) == 1  # every row as wide as the header
    (strong,) = [e.text_content() for e in page.iter("strong")]
    assert strong.startswith("stopped (\\x01<b>x</b>]]>\\ud800 ::error::x ##[add-mask]y | *z* `w` www.evil")


def test_a_finished_import_says_nothing_was_left_unsent() -> None:
    rows = table(ci.import_summary("a.csv", {"sent": 3}, [], "Imported a.csv"))
    assert rows == [{"": "this run", "sent": "3", "failed": "0", "unchanged": "0", "superseded": "0",
                     "not sent": "0", "elapsed": "0.0 s", "rows/s": "0"}]  # fmt: skip
    assert "the rest" in table(ci.import_summary("-", {}, [], "stopped", ci.Stop("terminated", None)))[0]["not sent"]


def test_a_check_summary_with_hostile_problems_counts_them_all(written: Any) -> None:
    findings = [ci.Finding(n, n + 1, f"{HOSTILE}: {HOSTILE}", HOSTILE) for n in range(1, 101)]
    markdown = written(ci.check_summary(HOSTILE, HOSTILE, findings, 10**9))
    page = rendered(markdown)
    assert page.find("h3").text_content().endswith(": 1000000000 problem(s)")
    assert len(table(markdown)) == ci.MAX_SUMMARY_ROWS
    assert not [e.tag for e in page.iter() if e.tag in ("a", "b", "img", "em")]
