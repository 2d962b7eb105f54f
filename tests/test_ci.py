"""CI-native output: GitHub annotations and job summary, JUnit XML, token masking, and the action."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from tests.conftest import CLIENT_ID, SECRET, SandboxHandle

MAPPINGS = """[accounts]
reference = "acc-ref"
type = "account"
fields = ["Account Name", "First Name", "Email"]
"""


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("::error", "::notice"))]


def test_check_annotations_name_the_file_and_line(cg, github: Path) -> None:
    Path("cg-mappings.toml").write_text(MAPPINGS)
    Path("data").mkdir()
    Path("data/ex,port:1.csv").write_text('Acount Name,Email\nA,"two\nlines"\nB,no-at\n')
    result = cg("mappings", "check", "accounts", "--file", "data/ex,port:1.csv")
    assert result.exit_code == 4
    lines = error_lines(result.stderr)
    assert lines[0] == (
        "::error file=data/ex%2Cport%3A1.csv,line=1,title=Acount Name%3A not in mapping — the API would drop it "
        "silently::Acount Name: not in mapping — the API would drop it silently (did you mean 'Account Name'?)"
    )
    assert any(line.startswith("::error file=data/ex%2Cport%3A1.csv,line=4,title=Email%3A has no @") for line in lines)
    summary = github.read_text()
    assert "### cg mappings check accounts --file `data/ex,port:1.csv`: 5 problem(s)" in summary


def test_import_annotations_are_escaped_capped_and_summarised(cg, server: Any, github: Path) -> None:
    sandbox = server()
    rows = "".join(f",x{n}@y.io\n" for n in range(15))  # 15 rows without their required field
    Path("a.csv").write_text("Account Name,Email\nGood,g@y.io\n" + rows)
    sandbox.fault(status=422, body=json.dumps({"message": "bad", "errors": {"Email": ["100% wrong\r\n| <b>x</b>"]}}))
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--workers", "1")
    assert result.exit_code == 6
    lines = error_lines(result.stderr)
    assert len(lines) == 11 and lines[-1].startswith(
        "::notice file=a.csv::6 more problem(s) not annotated: see a.failed.csv"
    )
    assert lines[0] == "::error file=a.csv,line=2,title=422 Email%3A 100%25 wrong%0D%0A| <b>x</b>::" + (
        '422 bad {"Email": ["100% wrong\\r\\n| <b>x</b>"]}'.replace("%", "%25")
    )
    assert lines[1].startswith("::error file=a.csv,line=3,title=Account Name%3A required")
    summary = github.read_text()
    assert "| this run | 0 | 16 | 0 | 0 |" in summary  # sent, failed, unchanged, superseded
    assert "100% wrong \\| \\<b\\>x\\</b\\>" in summary  # server text made inert in the table
    assert "failed: `a.failed.csv`" in summary and "journal: `a.csv.cg-journal`" in summary
    assert SECRET not in summary and not any(token in summary for token in sandbox.tokens)


def test_a_stopped_import_still_writes_the_summary(cg, server: Any, github: Path) -> None:
    sandbox = server()
    Path("a.csv").write_text("Account Name\nA\nB\n")
    sandbox.fault(status=500, count=10)
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--retries", "0")
    assert result.exit_code == 5
    assert "### cg records import `a.csv`: stopped\\: the service fails persistently" in github.read_text()
    assert "| this run | 0 | 0 | 0 | 0 | 2 |" in github.read_text()  # sent, failed, unchanged, superseded, not sent


def test_nothing_of_this_without_github_actions(cg, server: Any, tmp_path: Path, monkeypatch) -> None:
    server()
    Path("a.csv").write_text("Account Name\n\n,\n")
    result = cg("records", "import", "a.csv", "--mapping", "accounts")
    assert "::" not in result.stderr
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "s.md"))
    off = cg("records", "import", "a.csv", "--mapping", "accounts", "--ci", "none", "--restart")
    assert "::" not in off.stderr
    assert cg("records", "import", "a.csv", "--mapping", "accounts", "--ci", "gitlab").exit_code == 2


def test_junit_reports_for_check_and_import(cg, server: Any) -> None:
    server()
    Path("a.csv").write_text("Account Name,Email\nA,a@y.io\n,b@y.io\nC,c@y.io\n")
    assert cg("records", "import", "a.csv", "--mapping", "accounts", "--junit", "import.xml").exit_code == 6
    suite = ET.parse("import.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names == ["row 2 (line 3)", "2 row(s) accepted"]
    Path("cg-mappings.toml").write_text(MAPPINGS)
    assert cg("mappings", "check", "accounts", "--file", "a.csv", "--junit", "check.xml").exit_code == 4
    check = ET.parse("check.xml").getroot().find("testsuite")
    assert check is not None and check.get("failures") == "1"


def test_auth_token_is_masked_without_changing_what_is_captured(sandbox: SandboxHandle) -> None:
    env = {**os.environ, "CG_AUTH_URL": sandbox.url, "CG_API_URL": sandbox.url, "CG_CLIENT_ID": CLIENT_ID}
    env.update(CG_CLIENT_SECRET=SECRET, GITHUB_ACTIONS="true")
    cg = str(Path(sys.executable).parent / "cg")
    done = subprocess.run([cg, "auth", "token"], capture_output=True, text=True, env=env, timeout=30)
    token = done.stdout.strip()
    assert done.returncode == 0 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert f"::add-mask::{token}" in done.stderr.splitlines()
    env.pop("GITHUB_ACTIONS")
    plain = subprocess.run([cg, "auth", "token"], capture_output=True, text=True, env=env, timeout=30)
    assert "add-mask" not in plain.stderr


def test_reports_that_cannot_be_written_are_warnings(cg, server: Any, monkeypatch, devices) -> None:
    """A report that fails as it is written does not undo the import (a JUnit path that can never be
    written, such as one in a missing directory, is refused before the import: tests/test_edge_outputs.py)."""
    server()
    Path("a.csv").write_text("Account Name\nA\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(Path("no-such-dir") / "summary.md"))
    full, _ = devices  # a full disk of the test's own: never the machine's /dev/full
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--junit", str(full))
    assert result.exit_code == 0, result.output
    assert "warning: cannot write the job summary" in result.stderr
    assert "warning: cannot write the JUnit report" in result.stderr and full.is_char_device()
