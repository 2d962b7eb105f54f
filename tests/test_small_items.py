"""The small things a first trial tripped over, each held by a test."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ACCOUNTS_REF, SandboxHandle

ROOT = Path(__file__).resolve().parent.parent


def test_make_help_names_setup() -> None:
    if shutil.which("make") is None:
        pytest.skip("no make")
    done = subprocess.run(["make", "-s", "-C", str(ROOT), "help"], capture_output=True, text=True, timeout=60)
    assert "make setup" in done.stdout


def test_help_for_a_mistyped_command_suggests_the_one_meant(cg) -> None:
    result = cg("help", "recrods")
    assert result.exit_code == 2 and "hint: did you mean 'records'?" in result.stderr
    nested = cg("help", "records", "imprt")
    assert nested.exit_code == 2 and "did you mean 'records import'?" in nested.stderr


def test_usage_errors_say_error_in_lower_case_like_every_other_error(cg) -> None:
    result = cg("records", "put", "--bogus")
    assert result.exit_code == 2
    assert "error: No such option: --bogus" in result.stderr and "Error:" not in result.stderr
    assert "records put --help`" in result.stderr.split("hint: see")[1]  # in-process the program is not `cg`


def test_one_duplicate_is_on_row_not_rows(cg, sandbox_env: SandboxHandle) -> None:
    Path("a.csv").write_text("Account Name\nACME\nGlobex\nACME\n")
    result = cg("records", "import", "a.csv", "--config", ACCOUNTS_REF, "--duplicates", "error", "-o", "json")
    assert result.exit_code == 4
    assert json.loads(result.stdout)["problems"][0]["problem"] == "also on row 3"


def test_an_import_from_stdin_is_named_stdin(cg, sandbox_env: SandboxHandle) -> None:
    result = cg("records", "import", "-", "--format", "csv", "--config", ACCOUNTS_REF, input="Account Name\nACME\n")
    assert result.exit_code == 0, result.output
    assert "Imported stdin:" in result.stderr and "Imported -" not in result.stderr


def test_a_state_with_nothing_left_says_so_instead_of_an_empty_table(cg, sandbox_env: SandboxHandle) -> None:
    Path("a.csv").write_text("Account Name\nACME\n")
    assert cg("records", "import", "a.csv", "--config", ACCOUNTS_REF, "--state", "s.db").exit_code == 0
    assert cg("records", "state", "s.db", "--forget", ACCOUNTS_REF).exit_code == 0
    shown = cg("records", "state", "s.db")
    assert shown.exit_code == 0 and shown.stdout == ""
    assert "remembers no records" in shown.stderr


def test_one_retry_is_singular(cg: Any, sandbox_env: SandboxHandle) -> None:
    sandbox_env.fault(status=503, count=5)
    result = cg("records", "put", "--config", ACCOUNTS_REF, "-f", "Account Name=A", "--retries", "1")
    assert result.exit_code == 5 and "after 1 retry" in result.stderr and "1 retries" not in result.stderr
