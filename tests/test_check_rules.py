"""The file checks, in-process: which columns are refused or ignored, the paste line, a file check's caps and counts.

cg_cli/records/checks.py decides what `mappings check --file` and `records import` refuse before
anything is sent; `make mutation` runs these tests against its mutants.
"""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cg_cli.errors import CheckFailed
from cg_cli.records.checks import (
    KINDS,
    SHOWN_PROBLEMS,
    ColumnCheck,
    FileCheck,
    _kind,
    check_columns,
    check_file,
    check_header,
    column_hint,
    header_verdict,
)
from cg_cli.records.mappings import NOT_IN_MAPPING, Mapping, Problem
from cg_cli.records.readers import ERROR_COLUMN, ROW_COLUMN, STATUS_COLUMN, ReadOptions, RecordFile, Row
from tests.conftest import ACCOUNTS_MAPPING, write_mappings

ACCOUNTS = Mapping("accounts", "acc-ref", "account", ("Account Name", "Email", "Phone", "Café"), ignore=("Old",))
TYPO = " Fix the misspelled ones (or map them with --rename or [NAME.columns])."
LEAVE_OUT = (
    "to leave columns out on purpose, put the line below in [accounts] of the mapping file (or pass --ignore COLUMN)."
)


def test_a_header_column_is_ignored_by_its_name_in_the_file_or_after_a_rename() -> None:
    header = ["Acount Name", "Nickname", "Notes", ERROR_COLUMN, ROW_COLUMN, STATUS_COLUMN]
    source = ["Company", "Nick", "Notes", ERROR_COLUMN, ROW_COLUMN, STATUS_COLUMN]
    assert check_header(ACCOUNTS, header, source) == [
        Problem(None, "Acount Name (column Company)", NOT_IN_MAPPING, "Account Name"),
        Problem(None, "Nickname (column Nick)", NOT_IN_MAPPING, None),
        Problem(None, "Notes", NOT_IN_MAPPING, None),
    ]
    assert check_header(ACCOUNTS, header, source, ignore=["Nickname"]) == [  # the renamed name
        Problem(None, "Acount Name (column Company)", NOT_IN_MAPPING, "Account Name"),
        Problem(None, "Notes", NOT_IN_MAPPING, None),
    ]
    assert check_header(ACCOUNTS, header, source, ignore=("Company", "Notes")) == [  # the file's names
        Problem(None, "Nickname (column Nick)", NOT_IN_MAPPING, None),
    ]
    assert check_header(ACCOUNTS, header, None, ignore=["Notes"]) == [  # no renames: one name per column
        Problem(None, "Acount Name", NOT_IN_MAPPING, "Account Name"),
        Problem(None, "Nickname", NOT_IN_MAPPING, None),
    ]


def test_a_header_and_a_source_header_of_different_lengths_are_a_bug_not_a_pass() -> None:
    with pytest.raises(ValueError):
        check_header(ACCOUNTS, ["Account Name", "Fax"], ["Account Name"])
    with pytest.raises(ValueError):
        check_header(ACCOUNTS, ["Account Name"], ["Account Name", "Fax"])


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    path.write_text("Company,Emial,Nick,Fax,Old,Größe,Mail,_error\nACME,a@b.c,n,1,o,g,m,\n", "utf-8")
    return path


def _open(path: Path, **options: object) -> RecordFile:
    return RecordFile(str(path), options=ReadOptions(**options))  # type: ignore[arg-type]


def test_the_columns_of_a_file_give_the_problems_and_the_line_that_ignores_the_unknown_ones(export: Path) -> None:
    renames = {"Company": "Acount Name", "Nick": "Nickname", "Mail": "Email"}
    with _open(export, renames=renames, ignore=frozenset({"Nick", "Old"}), constants={"Phnoe": "1"}) as records:
        found = check_columns(ACCOUNTS, records)
    assert found.problems == [
        Problem(None, "Acount Name (column Company)", NOT_IN_MAPPING, "Account Name"),
        Problem(None, "Emial", NOT_IN_MAPPING, "Email"),
        Problem(None, "Fax", NOT_IN_MAPPING, None),
        Problem(None, "Größe", NOT_IN_MAPPING, None),
        Problem(None, "Phnoe (--set)", NOT_IN_MAPPING, "Phone"),
    ]
    # the mapping's own ignore list first, then the unknown columns no heading is a typo away from, by their file names
    assert found.ignore_line == 'ignore = ["Old", "Company", "Fax", "Größe"]'


@pytest.mark.parametrize("column", ['say "hi"', "back\\slash", "tab\there", "Größe", "del\x7fete", "😀"])
def test_the_ignore_line_pastes_into_a_mapping_file_whatever_the_column_is_called(tmp_path: Path, column: str) -> None:
    path = tmp_path / "odd.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([["Account Name", column], ["ACME", "x"]])
    with _open(path) as records:
        found = check_columns(Mapping("m", "r", "account", ("Account Name",), ignore=("Old",)), records)
    assert tomllib.loads(found.ignore_line) == {"ignore": ["Old", column]}


def test_columns_that_are_all_known_typos_or_ignored_need_no_ignore_line(export: Path) -> None:
    renames = {"Company": "Account Name", "Mail": "Email"}
    ignore = frozenset({"Nick", "Old", "Fax", "Größe", "Email"})  # "Email" as a file column: the renamed Mail stays
    with _open(export, renames=renames, ignore=ignore) as records:
        found = check_columns(ACCOUNTS, records)
    assert found == ColumnCheck([Problem(None, "Emial", NOT_IN_MAPPING, "Email")], "")
    with _open(export, renames=renames, ignore=ignore | {"Emial"}) as records:
        assert check_columns(ACCOUNTS, records) == ColumnCheck([], "")


def test_an_import_header_is_refused_with_its_problems_hint_and_paste_line_or_sent_with_no_check(
    export: Path,
) -> None:
    with _open(export, ignore=frozenset({"Old", "Nick", "Mail", "Größe"})) as records:
        with pytest.raises(CheckFailed) as raised:
            header_verdict(ACCOUNTS, records, "the header of export.csv", check=True)
        refused = raised.value
        assert refused.message == "the header of export.csv has 3 column(s) the mapping does not know; nothing was sent"
        assert [p.field for p in refused.problems] == ["Company", "Emial", "Fax"]
        assert refused.paste == 'ignore = ["Old", "Company", "Fax"]'
        assert refused.hint == LEAVE_OUT + TYPO
        assert refused.exit_code == 4

        assert header_verdict(ACCOUNTS, records, "the header of export.csv", check=False) == [
            "--no-check: 3 column(s) the mapping does not know are sent as they are (the service drops them silently)"
        ]
    known = frozenset({"Company", "Emial", "Nick", "Fax", "Old", "Größe", "Mail"})
    with _open(export, ignore=known) as records:
        assert header_verdict(ACCOUNTS, records, "the header", check=True) == []
        assert header_verdict(ACCOUNTS, records, "the header", check=False) == []


@pytest.mark.parametrize(
    ("found", "hint"),
    [
        (None, None),
        (ColumnCheck([], 'ignore = ["Fax"]'), None),
        (ColumnCheck([Problem(None, "Fax", NOT_IN_MAPPING, None)], 'ignore = ["Fax"]'), LEAVE_OUT),
        (ColumnCheck([Problem(None, "Emial", NOT_IN_MAPPING, "Email")], ""), TYPO.strip()),
        (
            ColumnCheck(
                [Problem(None, "Fax", NOT_IN_MAPPING, None), Problem(None, "Emial", NOT_IN_MAPPING, "Email")],
                'ignore = ["Fax"]',
            ),
            LEAVE_OUT + TYPO,
        ),
        (ColumnCheck([Problem(None, "X (--set)", NOT_IN_MAPPING, None)], ""), None),  # nothing to ignore or fix
    ],
)
def test_the_column_hint_says_what_to_ignore_and_what_to_fix(found: ColumnCheck | None, hint: str | None) -> None:
    assert column_hint(ACCOUNTS, found) == hint


def _problem(i: int, kind: str = "has no @") -> Problem:
    return Problem(i, "Email", kind)


def test_a_file_check_lists_the_first_problems_and_counts_every_one() -> None:
    at_cap = FileCheck()
    for i in range(SHOWN_PROBLEMS):
        at_cap.add(_problem(i))
    assert (len(at_cap.shown), at_cap.total, at_cap.truncated, at_cap.summary()) == (100, 100, False, "")
    at_cap.add(_problem(100, "has no digit"))
    assert [p.row for p in at_cap.shown] == list(range(100))  # the first ones, in order
    assert (at_cap.total, at_cap.truncated) == (101, True)
    assert (
        at_cap.summary()
        == "1 more not listed; by kind over the whole file: Email: has no @ (100), Email: has no digit (1)"
    )
    assert at_cap.as_json() == {
        "problems_total": 101,
        "problems_truncated": True,
        "problem_counts": {"Email: has no @": 100, "Email: has no digit": 1},
    }
    assert FileCheck().as_json() == {"problems_total": 0, "problems_truncated": False, "problem_counts": {}}


def test_a_file_check_counts_at_most_fifty_kinds_and_names_the_five_most_common() -> None:
    found = FileCheck()
    for kind in range(KINDS + 2):
        for _ in range(KINDS + 2 - kind):  # kind 0 most often
            found.add(Problem(None, f"Field{kind}", NOT_IN_MAPPING))
    found.add(Problem(None, "Field0", NOT_IN_MAPPING))  # a kind already counted is still counted by its name
    assert len(found.kinds) == KINDS + 1 == 51
    assert found.kinds[f"Field0: {NOT_IN_MAPPING}"] == 53
    assert found.kinds[f"Field{KINDS - 1}: {NOT_IN_MAPPING}"] == 3
    assert found.kinds["other problems"] == 2 + 1  # the 51st kind (2) and the 52nd (1)
    assert found.total == sum(found.kinds.values()) == 1379
    assert found.summary() == (
        f"1,279 more not listed; by kind over the whole file: Field0: {NOT_IN_MAPPING} (53), "
        f"Field1: {NOT_IN_MAPPING} (51), Field2: {NOT_IN_MAPPING} (50), Field3: {NOT_IN_MAPPING} (49), "
        f"Field4: {NOT_IN_MAPPING} (48), and 46 more kind(s)"
    )


@pytest.mark.parametrize(("kinds", "end"), [("abcde", "kind e (21)"), ("abcdef", "kind e (17), and 1 more kind(s)")])
def test_a_summary_names_five_kinds_and_counts_the_others(kinds: str, end: str) -> None:
    found = FileCheck()
    for i in range(SHOWN_PROBLEMS + 5 + len(kinds) - 5):
        found.add(Problem(i, None, f"kind {kinds[i % len(kinds)]}"))
    assert found.summary().endswith(f"kind d ({found.kinds['kind d']}), {end}")


@pytest.mark.parametrize(
    ("problem", "kind"),
    [
        (Problem(3, None, "3 cells, the header has 12"), "N cells, the header has N"),
        (Problem(3, "Email", "has no @"), "Email: has no @"),
        (Problem(3, "", "no field"), "no field"),
    ],
)
def test_a_problem_kind_leaves_out_where_and_the_numbers(problem: Problem, kind: str) -> None:
    assert _kind(problem) == kind


def test_a_file_check_counts_rows_and_puts_header_problems_on_line_one() -> None:
    rows = [
        Row(1, {"Account Name": "A", "Nickname": "n"}, ["A", "n"], line=2),  # a CSV row: values only
        Row(2, {}, "x,y,z", error="3 cells, the header has 2", line=3),
        Row(3, {"Account Name": "C", "Email": "c"}, ["C", "c"], line=7),
    ]
    header = ColumnCheck([Problem(None, "Nickname", NOT_IN_MAPPING, None)], "")
    found = check_file(ACCOUNTS, rows, header)
    assert found.rows == 3
    assert [(p.row, p.line, p.field, p.problem) for p in found.shown] == [
        (None, 1, "Nickname", NOT_IN_MAPPING),
        (2, 3, None, "3 cells, the header has 2"),
        (3, 7, "Email", "has no @"),
    ]
    assert found.kinds == {f"Nickname: {NOT_IN_MAPPING}": 1, "N cells, the header has N": 1, "Email: has no @": 1}
    jsonl = check_file(ACCOUNTS, rows, None)  # each JSONL row names its own fields
    assert jsonl.rows == 3
    assert [(p.row, p.line, p.field) for p in jsonl.shown] == [(1, 2, "Nickname"), (2, 3, None), (3, 7, "Email")]
    assert check_file(ACCOUNTS, [], None).rows == 0


def test_the_pasted_ignore_line_makes_a_file_with_odd_column_names_pass(cg: Any, clean_env: Path) -> None:
    mappings = write_mappings(Path("cg-mappings.toml"), ACCOUNTS_MAPPING)
    with Path("odd.csv").open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([["Account Name", "del\x7fete", 'say "hi"', "Größe"], ["ACME", "x", "y", "z"]])
    refused = cg("mappings", "check", "accounts", "--file", "odd.csv", "-o", "json")
    assert refused.exit_code == 4, refused.output
    line = json.loads(refused.stdout)["ignore_line"]
    mappings.write_text(mappings.read_text("utf-8") + "\n" + line + "\n", "utf-8")  # the last table: [accounts]
    passed = cg("mappings", "check", "accounts", "--file", "odd.csv")
    assert passed.exit_code == 0, passed.output


def test_mappings_init_writes_a_heading_with_a_del_so_the_file_loads(cg: Any, clean_env: Path) -> None:
    with Path("e.csv").open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([["Email", "del\x7fete"], ["a@b.c", "x"]])
    for _ in range(2):  # written, then replaced: the table is found again by its quoted name
        made = cg("mappings", "init", "m\x7f", "--config", "r", "--type", "contact", "--file", "e.csv", "--force")
        assert made.exit_code == 0, made.output
    listed = json.loads(cg("mappings", "list", "-o", "json").stdout)["mappings"]
    assert listed == [{"name": "m\x7f", "type": "contact", "reference": "r", "fields": ["Email", "del\x7fete"]}]
