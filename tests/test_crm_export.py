"""A CRM export as it is: columns ignored on purpose never leave the machine; unknown ones are still refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cg_cli.records.mappings import Mapping
from tests.conftest import SandboxHandle, write_mappings

ACCOUNTS = Mapping("accounts", "acc-ref", "account", ("Account Name", "First Name", "Email"))
EXPORT = (
    "Account ID,Account Name,Billing City,Email,Description\n"
    "001A,ACME,Berlin,joe@acme.example,called twice; angry\n"
    "001B,Globex,Paris,ann@globex.example,internal note\n"
)
IGNORED = ("Account ID", "Billing City", "Description")
PASTE = 'ignore = ["Account ID", "Billing City", "Description"]'


@pytest.fixture
def crm(make_sandbox: Any) -> SandboxHandle:
    Path("export.csv").write_text(EXPORT)
    write_mappings(Path("cg-mappings.toml"), ACCOUNTS)
    handle: SandboxHandle = make_sandbox(mappings=[ACCOUNTS])
    return handle


def _with_ignore(line: str) -> None:
    text = Path("cg-mappings.toml").read_text().rstrip("\n")
    Path("cg-mappings.toml").write_text(f"{text}\n{line}\n")


def _assert_nothing_ignored_sent(server: SandboxHandle) -> None:
    records = sorted(server.records(), key=lambda r: str(r["record"]["Account Name"]))  # workers: any order
    assert [r["record"] for r in records] == [
        {"Account Name": "ACME", "Email": "joe@acme.example"},
        {"Account Name": "Globex", "Email": "ann@globex.example"},
    ]
    for record in records:  # the raw body, not what the service kept
        assert all(column not in record["body"] for column in IGNORED) and record["dropped"] == []
        assert "Berlin" not in record["body"] and "angry" not in record["body"]


def test_the_refusal_prints_the_ignore_line_to_paste_and_no_far_fetched_suggestion(cg, crm: SandboxHandle) -> None:
    result = cg("records", "import", "export.csv", "--mapping", "accounts")
    assert result.exit_code == 4, result.output
    assert f"  {PASTE}" in result.stderr.splitlines()
    assert "ignore = [" not in result.stderr.split("hint:")[0]  # its own line, after the hint
    assert "Account Name" not in result.stderr.split("Account ID")[1].splitlines()[0]  # not "did you mean"
    assert crm.records() == []
    as_json = json.loads(cg("records", "import", "export.csv", "-m", "accounts", "-o", "json").stdout)
    assert as_json["ignore_line"] == PASTE and as_json["exit_code"] == 4
    assert all(p["suggestion"] is None for p in as_json["problems"])


def test_the_pasted_line_makes_the_import_pass_and_nothing_ignored_leaves(cg, crm: SandboxHandle) -> None:
    _with_ignore(PASTE)
    result = cg("records", "import", "export.csv", "--mapping", "accounts")
    assert result.exit_code == 0, result.output
    preflight = next(line for line in result.stderr.splitlines() if line.startswith("reading export.csv:"))
    assert "; left out (ignored, never sent): Account ID, Billing City, Description;" in preflight
    _assert_nothing_ignored_sent(crm)


def test_ignore_on_the_command_line_does_the_same_for_one_run(cg, crm: SandboxHandle) -> None:
    args = [a for column in IGNORED for a in ("--ignore", column)]
    assert cg("mappings", "check", "accounts", "--file", "export.csv", *args).exit_code == 0
    result = cg("records", "import", "export.csv", "--mapping", "accounts", *args)
    assert result.exit_code == 0, result.output
    _assert_nothing_ignored_sent(crm)


def test_a_typo_is_still_caught_beside_ignored_columns(cg, crm: SandboxHandle) -> None:
    Path("export.csv").write_text("Account ID,Acount Name,Notes\n1,ACME,x\n")
    _with_ignore('ignore = ["Account ID"]')
    result = cg("records", "import", "export.csv", "--mapping", "accounts", "-o", "json")
    assert result.exit_code == 4
    document = json.loads(result.stdout)
    assert [(p["field"], p["suggestion"]) for p in document["problems"]] == [
        ("Acount Name", "Account Name"),
        ("Notes", None),
    ]
    assert document["ignore_line"] == 'ignore = ["Account ID", "Notes"]'  # the mapping's own, then the new
    assert crm.records() == []


def test_no_check_sends_unknown_columns_says_so_and_still_keeps_ignored_ones_home(cg, crm: SandboxHandle) -> None:
    _with_ignore('ignore = ["Description"]')
    result = cg("records", "import", "export.csv", "--mapping", "accounts", "--no-check")
    assert result.exit_code == 0, result.output
    assert "--no-check: 2 column(s) the mapping does not know are sent as they are" in result.stderr
    bodies = [r["body"] for r in crm.records()]
    assert all("Account ID" in b and "Billing City" in b and "Description" not in b for b in bodies)


def test_jsonl_rows_lose_ignored_keys_too(cg, crm: SandboxHandle) -> None:
    Path("export.jsonl").write_text('{"Account Name": "ACME", "Account ID": "001A"}\n')
    result = cg("records", "import", "export.jsonl", "-m", "accounts", "--ignore", "Account ID")
    assert result.exit_code == 0, result.output
    assert "001A" not in crm.records()[0]["body"]


def test_a_column_both_mapped_and_ignored_is_a_load_error(cg, crm: SandboxHandle) -> None:
    _with_ignore('ignore = ["Email"]')
    result = cg("mappings", "list")
    assert result.exit_code == 2 and "'Email' is both a field and ignored" in result.stderr


@pytest.mark.parametrize("name", ["export.txt", "export.tsv", "export.dat"])
def test_excel_unicode_text_imports_without_format(cg, crm: SandboxHandle, name: str) -> None:
    # What Excel's "Save as Unicode Text" writes: UTF-16 LE with a BOM, tab-separated, CRLF.
    text = "Account Name\tEmail\r\nZürich AG\tjoe@zurich.example\r\n"
    Path(name).write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    result = cg("records", "import", name, "--mapping", "accounts")
    assert result.exit_code == 0, result.output
    assert "tab-separated, UTF-16" in result.stderr
    assert [r["record"] for r in crm.records()] == [{"Account Name": "Zürich AG", "Email": "joe@zurich.example"}]


def test_tsv_and_txt_in_utf8_read_as_delimited_text(cg, crm: SandboxHandle) -> None:
    Path("export.tsv").write_text("Account Name\tEmail\nACME\tjoe@acme.example\n")
    Path("notes.txt").write_text("Account Name;Email\nGlobex;ann@globex.example\n")
    assert cg("records", "import", "export.tsv", "--mapping", "accounts").exit_code == 0
    assert cg("records", "import", "notes.txt", "--mapping", "accounts").exit_code == 0
    assert sorted(r["record"]["Account Name"] for r in crm.records()) == ["ACME", "Globex"]


def test_a_fifo_is_never_peeked_for_its_format(cg, crm: SandboxHandle) -> None:
    import os

    os.mkfifo("pipe.txt")  # opening it to look for a BOM would block with no writer, or eat its first bytes
    result = cg("records", "import", "pipe.txt", "--mapping", "accounts", "--dry-run")
    assert result.exit_code == 2 and "not a regular file" in result.stderr


def test_with_state_a_change_in_an_ignored_column_sends_no_second_survey(cg, make_sandbox: Any) -> None:
    surveys = Mapping("responses", "resp-ref", "survey-response", ("Email", "Score"), ignore=("Notes",))
    server = make_sandbox(mappings=[surveys])
    Path("cg-mappings.toml").write_text(
        '[responses]\nreference = "resp-ref"\ntype = "survey-response"\n'
        'fields = ["Email", "Score"]\nignore = ["Notes"]\n'
    )
    Path("r.csv").write_text("Email,Score,Notes\na@x.io,9,first call\n")
    first = cg("records", "import", "r.csv", "-m", "responses", "--state", "s.db", "-o", "json")
    assert first.exit_code == 0 and json.loads(first.stdout)["sent"] == 1
    Path("r.csv").write_text("Email,Score,Notes\na@x.io,9,second call: still angry\n")
    again = cg("records", "import", "r.csv", "-m", "responses", "--state", "s.db", "-o", "json")
    assert again.exit_code == 0 and json.loads(again.stdout)["sent"] == 0  # what would be sent did not change
    assert len(server.records()) == 1 and "angry" not in server.records()[0]["body"]


def test_mappings_show_lists_the_ignored_columns(cg, crm: SandboxHandle) -> None:
    _with_ignore(PASTE)
    assert json.loads(cg("mappings", "show", "accounts", "-o", "json").stdout)["ignore"] == list(IGNORED)
    assert (
        "Ignored export columns (never sent): Account ID, Billing City, Description."
        in cg("mappings", "show", "accounts").stderr
    )


@pytest.mark.parametrize("line", ['ignore = "Account ID"', "ignore = [1]", 'ignore = [" "]'])
def test_a_malformed_ignore_list_is_a_load_error_naming_its_line(cg, crm: SandboxHandle, line: str) -> None:
    _with_ignore(line)
    result = cg("records", "import", "export.csv", "-m", "accounts")
    assert result.exit_code == 2 and "line 5: mapping 'accounts': ignore lists export columns" in result.stderr
    assert crm.records() == []
