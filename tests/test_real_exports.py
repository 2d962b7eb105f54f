"""Files as CRMs and Excel write them, and rows of one record that must arrive in order."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SandboxHandle

ACCOUNTS_MAPPING_FILE = """[accounts]
reference = "acc-ref"
type = "account"
fields = ["Account Name", "First Name", "Email"]

[accounts.columns]
"Company" = "Account Name"
"""


def last_value_per_account(sandbox: SandboxHandle) -> dict[str, str]:
    final: dict[str, str] = {}
    for received in sandbox.records():  # in the order the service took them
        final[received["record"]["Account Name"]] = received["record"].get("First Name", "")
    return final


def test_rows_of_one_account_arrive_in_file_order_with_8_workers(cg, server: Any) -> None:
    sandbox = server(latency=0.01)
    with Path("a.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["Account Name", "First Name"])
        for account in range(200):
            for version in range(5):
                writer.writerow([f"Account {account}", f"v{version}"])
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--workers", "8")
    assert result.exit_code == 0, result.output
    assert "200 identity key(s) repeat on 1000 rows" in result.stderr
    final = last_value_per_account(sandbox)
    assert len(final) == 200 and set(final.values()) == {"v4"}  # as a sequential run would leave them
    assert len(sandbox.records()) == 1000


def test_contacts_are_ordered_by_email_else_phone(cg, server: Any) -> None:
    sandbox = server(latency=0.005)
    lines = ["Email,Phone,First Name"]
    for n in range(30):
        lines += [f"p{n}@x.io,,a", f"P{n}@X.io,,b", f",+31 {n},a", f",+31 {n},b"]  # Email matched case-blind
    Path("c.csv").write_text("\n".join(lines) + "\n")
    assert cg("records", "import", "c.csv", "--mapping", "contacts", "--workers", "8").exit_code == 0
    final: dict[str, str] = {}
    for received in sandbox.records():
        record = received["record"]
        final[(record.get("Email") or record["Phone"]).lower()] = record["First Name"]
    assert len(final) == 60 and set(final.values()) == {"b"}


def test_duplicates_last_sends_only_the_last_row_and_error_refuses(cg, server: Any) -> None:
    sandbox = server()
    Path("a.csv").write_text("Account Name,First Name\nACME,v1\nGlobex,g\nACME,v2\nACME,v3\n")
    refused = cg("records", "import", "a.csv", "--mapping", "accounts", "--duplicates", "error", "-o", "json")
    assert refused.exit_code == 4 and sandbox.records() == []
    document = json.loads(refused.stdout)
    assert document["problems"][0] == {"row": 1, "field": "Account Name 'acme'", "problem": "also on rows 3, 4",
                                       "suggestion": None}  # fmt: skip
    last = cg("records", "import", "a.csv", "--mapping", "accounts", "--duplicates", "last", "--results", "r.csv")
    assert last.exit_code == 0, last.output
    assert sorted(r["record"]["First Name"] for r in sandbox.records()) == ["g", "v3"]
    with Path("r.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["_row"], r["_status"]) for r in rows] == [
        ("1", "superseded"), ("2", "sent"), ("3", "superseded"), ("4", "sent"),
    ]  # fmt: skip
    stdin = cg("records", "import", "-", "--format", "csv", "--mapping", "accounts", "--duplicates", "last", input="x")
    assert stdin.exit_code == 2 and "stdin cannot be read twice" in stdin.stderr


def test_semicolon_csv_with_renamed_columns_and_a_constant_field(cg, server: Any) -> None:
    sandbox = server()
    Path("cg-mappings.toml").write_text(ACCOUNTS_MAPPING_FILE)
    Path("eu.csv").write_text("Company;Firstname;Email\nACME;Joe;j@x.io\n")
    result = cg(
        "records", "import", "eu.csv", "--mapping", "accounts", "--rename", "Firstname=First Name",
        "--set", "Email=fixed@x.io",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "reading eu.csv: semicolon-separated, UTF-8" in result.stderr
    assert sandbox.records()[0]["record"] == {"Account Name": "ACME", "First Name": "Joe", "Email": "fixed@x.io"}


def test_a_rename_to_an_unknown_heading_shows_both_names(cg, server: Any) -> None:
    server()
    Path("a.csv").write_text("Company,Email\nACME,a@x.io\n")
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--rename", "Company=Acount Name")
    assert result.exit_code == 4
    assert "Acount Name (column Company)" in result.stdout + result.stderr


def test_a_set_field_the_mapping_does_not_know_is_caught(cg, server: Any) -> None:
    server()
    Path("a.csv").write_text("Account Name\nACME\n")
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--set", "Sorce=CRM")
    assert result.exit_code == 4 and "Sorce (--set)" in result.output


def test_utf16_unicode_text_from_excel(cg, server: Any) -> None:
    sandbox = server()
    Path("excel.csv").write_bytes("Account Name\tFirst Name\nZoë AG\tJürgen\n".encode("utf-16"))
    result = cg("records", "import", "excel.csv", "--mapping", "accounts")
    assert result.exit_code == 0, result.output
    assert "tab-separated, UTF-16" in result.stderr
    assert sandbox.records()[0]["record"] == {"Account Name": "Zoë AG", "First Name": "Jürgen"}


def test_cp1252_with_encoding_and_a_clear_error_without(cg, server: Any) -> None:
    sandbox = server()
    Path("old.csv").write_bytes("Account Name,First Name\nCafé Müller,Zoë\n".encode("cp1252"))
    refused = cg("records", "import", "old.csv", "--mapping", "accounts")
    assert refused.exit_code == 2
    assert "the row at line 2 cannot be read as UTF-8 (byte 27)" in refused.stderr
    assert "--encoding" in refused.stderr and sandbox.records() == []
    done = cg("records", "import", "old.csv", "--mapping", "accounts", "--encoding", "cp1252")
    assert done.exit_code == 0, done.output
    assert sandbox.records()[0]["record"]["Account Name"] == "Café Müller"


def test_mappings_check_reads_files_the_same_way(cg) -> None:
    Path("cg-mappings.toml").write_text(ACCOUNTS_MAPPING_FILE)
    Path("eu.csv").write_bytes("Company;Frist Name\nACME;Joe\nACME;Jim\n".encode("cp1252"))
    result = cg("mappings", "check", "accounts", "--file", "eu.csv", "--encoding", "cp1252", "-o", "json")
    assert result.exit_code == 4
    document = json.loads(result.stdout)
    assert [p["field"] for p in document["problems"]] == ["Frist Name"]
    assert document["duplicate_keys"]["keys"] == 1 and document["duplicate_keys"]["first"][0]["rows"] == [1, 2]
    fixed = cg("mappings", "check", "accounts", "--file", "eu.csv", "--encoding", "cp1252",
               "--rename", "Frist Name=First Name")  # fmt: skip
    assert fixed.exit_code == 0, fixed.output
    assert "semicolon-separated, cp1252" in fixed.stderr and "1 identity key(s) repeat" in fixed.stderr


@pytest.mark.parametrize("delimiter", ["|", "tab"])
def test_forced_delimiter(cg, server: Any, delimiter: str) -> None:
    sandbox = server()
    sep = "\t" if delimiter == "tab" else "|"
    Path("a.csv").write_text(f"Account Name{sep}First Name\nA, Inc{sep}Joe\n")
    assert cg("records", "import", "a.csv", "--mapping", "accounts", "--delimiter", delimiter).exit_code == 0
    assert sandbox.records()[0]["record"]["Account Name"] == "A, Inc"


def test_a_record_over_2_mb_fails_alone_and_a_large_cell_goes(cg, server: Any) -> None:
    sandbox = server()
    with Path("big.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["Account Name", "First Name"])
        writer.writerow(["Huge", "x" * 2_100_000])
        writer.writerow(["Large", "y" * 200_000])  # over csv's own 128 KiB field limit
        writer.writerow(["Small", "z"])
    result = cg("records", "import", "big.csv", "--mapping", "accounts", "--workers", "2")
    assert result.exit_code == 6, result.output
    assert sorted(r["record"]["Account Name"] for r in sandbox.records()) == ["Large", "Small"]
    with Path("big.failed.csv").open() as stream:
        [failed] = list(csv.DictReader(stream))
    assert failed["_row"] == "1" and "the API takes at most 2 MB" in failed["_error"]


def test_results_and_failed_file_are_in_input_order(cg, server: Any) -> None:
    sandbox = server(latency=0.003)
    rows = [("" if n % 7 == 0 else f"A{n}", f"n{n}") for n in range(1, 101)]
    with Path("a.csv").open("w", newline="") as stream:
        csv.writer(stream).writerows([("Account Name", "First Name"), *rows])
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--workers", "8", "--results", "r.jsonl")
    assert result.exit_code == 6
    results = [json.loads(line) for line in Path("r.jsonl").read_text().splitlines()]
    assert [r["_row"] for r in results] == list(range(1, 101))
    assert Counter(r["_status"] for r in results) == Counter({"sent": 86, "failed": 14})
    with Path("a.failed.csv").open() as stream:
        assert [int(r["_row"]) for r in csv.DictReader(stream)] == list(range(7, 101, 7))
    assert len(sandbox.records()) == 86


@pytest.mark.parametrize("option", ["--results", "--state", "--failed", "--journal"])
def test_no_output_may_overwrite_the_input(cg, server: Any, option: str) -> None:
    server()
    Path("a.csv").write_text("Account Name\nA\n")
    result = cg("records", "import", "a.csv", "--mapping", "accounts", option, "a.csv")
    assert result.exit_code == 2 and "is the input file" in result.stderr
    assert Path("a.csv").read_text() == "Account Name\nA\n"


def test_two_outputs_may_not_share_a_path(cg, server: Any) -> None:
    server()
    Path("a.csv").write_text("Account Name\nA\n")
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--results", "a.failed.csv")
    assert result.exit_code == 2
    assert "a.failed.csv is the failed file and would be the results file too" in result.stderr


def test_the_failed_file_keeps_the_input_delimiter_and_imports_again(cg, server: Any) -> None:
    sandbox = server()
    Path("eu.csv").write_text("Account Name;Email\nACME;a@x.io\nGlobex;bad\n")
    assert cg("records", "import", "eu.csv", "--mapping", "accounts").exit_code == 6
    assert Path("eu.failed.csv").read_text().splitlines()[0] == "Account Name;Email;_row;_error"
    Path("fixed.csv").write_text(Path("eu.failed.csv").read_text().replace(";bad;", ";g@x.io;"))
    assert cg("records", "import", "fixed.csv", "--mapping", "accounts").exit_code == 0
    assert len(sandbox.records()) == 2
