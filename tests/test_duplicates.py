"""The duplicate index's rules, in-process: which rows share an identity key, and which are superseded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cg_cli.importing.duplicates import EXAMPLES, SLICE, DuplicateIndex, DuplicateReport, Repeat, scan
from cg_cli.records.readers import ReadOptions, Row


def rows(*records: dict[str, str]) -> Iterator[Row]:
    for number, record in enumerate(records, start=1):
        yield Row(number, record, list(record.values()), line=number + 1)


def build(mapping_type: str | None, *records: dict[str, str]) -> DuplicateIndex:
    index = DuplicateIndex(mapping_type)
    index.report = index.build(rows(*records))  # type: ignore[attr-defined]
    return index


def superseded(index: DuplicateIndex, count: int) -> list[int]:
    return [n for n in range(1, count + 1) if index.superseded(n)]


def test_contacts_of_one_company_are_grouped_by_email_not_by_account_name() -> None:
    contacts = (
        {"Account Name": "ACME", "Email": "joe@acme.com"},
        {"Account Name": "ACME", "Email": "ann@acme.com"},
        {"Account Name": "Other", "Email": "JOE@acme.com "},
    )
    index = build("contact", *contacts)
    try:
        assert index.report == DuplicateReport(1, 2, [Repeat("Email 'joe@acme.com'", [1, 3], 2)], 3)
        assert superseded(index, 3) == [1]  # --duplicates last drops Joe's first row, never Ann
    finally:
        index.close()


def test_accounts_are_grouped_by_account_name_whatever_their_email() -> None:
    index = build("account", {"Account Name": "ACME", "Email": "a@x.com"}, {"Account Name": "acme", "Email": "b@x.com"})
    try:
        assert index.report == DuplicateReport(1, 2, [Repeat("Account Name 'acme'", [1, 2], 2)], 2)
        assert superseded(index, 2) == [1]
    finally:
        index.close()


def test_a_contact_without_email_is_keyed_by_phone() -> None:
    index = build("contact", {"Phone": "+1 555"}, {"Phone": "+1 555", "Account Name": "B"}, {"Email": "x@y.z"})
    try:
        assert index.report.first == [Repeat("Phone '+1 555'", [1, 2], 2)]
    finally:
        index.close()


def test_unreadable_rows_and_rows_without_a_key_are_not_indexed() -> None:
    index = DuplicateIndex("account")
    bad = Row(2, {"Account Name": "A"}, "garbage", error="not JSON")
    try:
        report = index.build([Row(1, {"Account Name": "A"}, ["A"]), bad, Row(3, {"Email": "e@x.z"}, ["e@x.z"])])
        assert report == DuplicateReport(0, 0, [], 3) and report.describe() == "no identity key repeats"
        assert superseded(index, 3) == []
    finally:
        index.close()


def test_the_report_names_the_first_keys_in_file_order_and_counts_every_row() -> None:
    names = ["D", "C", "B", "A", "C", "D", "A", "B", "A", "E"]
    index = build("account", *({"Account Name": n} for n in names))
    try:
        report = index.report
        assert (report.keys, report.rows) == (4, 9)
        assert (
            report.first
            == [
                Repeat("Account Name 'd'", [1, 6], 2),
                Repeat("Account Name 'c'", [2, 5], 2),
                Repeat("Account Name 'b'", [3, 8], 2),
            ][:EXAMPLES]
        )
        assert report.describe() == (
            "4 identity key(s) repeat on 9 rows (first: Account Name 'd' on rows 1, 6; "
            "Account Name 'c' on rows 2, 5; Account Name 'b' on rows 3, 8)"
        )
        assert superseded(index, 10) == [1, 2, 3, 4, 7]  # the last of each key is kept; E never repeats
    finally:
        index.close()


def test_a_key_on_many_rows_shows_its_first_five() -> None:
    index = build("account", *({"Account Name": "A"} for _ in range(7)))
    try:
        assert index.report.first == [Repeat("Account Name 'a'", [1, 2, 3, 4, 5], 7)]
        assert superseded(index, 7) == [1, 2, 3, 4, 5, 6]
    finally:
        index.close()


@pytest.mark.parametrize("extra", [0, 1, 2])
def test_a_file_past_the_batch_size_keeps_every_key(extra: int) -> None:
    """Keys are written in batches of SLICE; rows around and past a batch's end are all indexed."""
    count = SLICE + extra
    index = build("account", *({"Account Name": f"A{n}"} for n in range(count)), {"Account Name": f"A{count - 1}"})
    try:
        # The only repeat is the last key of the file (row `count`) and its copy after it.
        assert index.report == DuplicateReport(
            1, 2, [Repeat(f"Account Name 'a{count - 1}'", [count, count + 1], 2)], count + 1
        )
        assert [n for n in sorted({1, SLICE - 1, SLICE, SLICE + 1, count, count + 1}) if index.superseded(n)] == [count]
    finally:
        index.close()


def test_superseded_rows_past_the_first_slice_are_found() -> None:
    count = 2 * SLICE + 3
    index = build("account", *({"Account Name": f"A{n % (SLICE + 1)}"} for n in range(count)))
    try:
        # Key n repeats at n + SLICE + 1: every row of the first SLICE + 1 is superseded, except where a third copy
        # exists the second copy is superseded too.
        asked = [1, SLICE, SLICE + 1, SLICE + 2, 2 * SLICE, 2 * SLICE + 1, 2 * SLICE + 2, count]
        assert [n for n in asked if index.superseded(n)] == [1, SLICE, SLICE + 1, SLICE + 2]
    finally:
        index.close()


def test_scan_reads_a_csv_file_with_the_mapping_type(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("Account Name,Email\nACME,joe@acme.com\nACME,ann@acme.com\nX,joe@acme.com\n")
    assert scan(str(path), ReadOptions(), "contact").first == [Repeat("Email 'joe@acme.com'", [1, 3], 2)]
    assert scan(str(path), ReadOptions(), "account").first == [Repeat("Account Name 'acme'", [1, 2], 2)]


def test_scan_reads_with_the_options_given(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("Company;Email\nACME;a@x.com\nACME;b@x.com\n")
    options = ReadOptions(file_format="csv", delimiter=";", renames={"Company": "Account Name"})
    assert scan(str(path), options, "account").first == [Repeat("Account Name 'acme'", [1, 2], 2)]


def test_keys_with_a_lone_surrogate_or_a_nul_are_indexed_and_shown_whole(tmp_path: Path) -> None:
    index = DuplicateIndex("account")
    try:
        report = index.build(rows({"Account Name": "a\ud800"}, {"Account Name": "a\ud800"}, {"Account Name": "b"}))
        assert report.first == [Repeat("Account Name 'a\\ud800'", [1, 2], 2)]  # SQLite refuses such text: kept as bytes
    finally:
        index.close()
    path = tmp_path / "nul.jsonl"
    path.write_text('{"Account Name": "x\\u0000y"}\n' * 2)
    assert scan(str(path), ReadOptions(), "account").first == [Repeat("Account Name 'x\\x00y'", [1, 2], 2)]


def test_an_import_with_a_lone_surrogate_in_a_key_fails_those_rows_not_the_run(cg, server) -> None:
    """A JSON "\\ud800" is valid JSON but no text: the duplicate scan crashed on it (exit 1); now its rows fail."""
    sandbox = server()
    Path("odd.jsonl").write_text('{"Account Name": "a\\ud800"}\n{"Account Name": "a\\ud800"}\n{"Account Name": "b"}\n')
    result = cg("records", "import", "odd.jsonl", "--mapping", "accounts", "--duplicates", "last", "-o", "json")
    assert result.exit_code == 6, result.output
    document = json.loads(result.stdout)
    assert (document["sent"], document["failed"], document["duplicate_keys"]) == (1, 2, 0)
    assert [r["record"] for r in sandbox.records()] == [{"Account Name": "b"}]


def test_the_report_as_json_names_keys_rows_and_the_first_repeats() -> None:
    report = DuplicateReport(2, 6, [Repeat("Email 'a@x.com'", [1, 4], 2), Repeat("Email 'b@x.com'", [2, 3], 4)])
    assert report.as_json() == {
        "keys": 2,
        "rows": 6,
        "first": [
            {"key": "Email 'a@x.com'", "rows": [1, 4], "rows_truncated": False},
            {"key": "Email 'b@x.com'", "rows": [2, 3], "rows_truncated": True},  # on rows 2, 3 and two more
        ],
        "first_truncated": False,
    }
    assert DuplicateReport(4, 8, report.first).as_json()["first_truncated"] is True


def test_the_index_lives_in_a_cg_named_temporary_directory_removed_at_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hard kill leaves the directory behind: its name says whose it is."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    index = DuplicateIndex("account")
    [made] = [p for p in tmp_path.iterdir() if p.is_dir() and p.name not in ("home", "work")]
    assert made.name.startswith("cg-keys-")
    index.close()
    assert not made.exists()
