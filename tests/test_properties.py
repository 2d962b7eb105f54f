"""Property-based tests: any input gives a result or a clean UsageError, never a crash."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cg_cli.errors import UsageError
from cg_cli.records.body import parse_field_option, parse_json_input
from cg_cli.records.mappings import TYPES, parse_mappings
from cg_cli.records.readers import RecordFile

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(st.text())
def test_field_option_splits_at_the_first_equals_or_refuses(text: str) -> None:
    try:
        name, value = parse_field_option(text)
    except UsageError as exc:
        assert "=" not in text or not text.partition("=")[0].strip()
        assert exc.message
        return
    assert f"{name}={value}" == text
    assert "=" not in name and name.strip()


@FAST
@given(st.text())
def test_json_input_gives_a_record_or_a_clean_error(text: str) -> None:
    try:
        parsed = parse_json_input(text, "--json")
    except UsageError as exc:
        assert exc.message.startswith("--json")
        return
    assert isinstance(parsed.record, dict)


def read_all(path: Path, fmt: str) -> list[object]:
    with RecordFile(str(path), fmt) as records:
        return [(row.number, row.record, row.error) for row in records]


@FAST
@given(st.binary(max_size=400))
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_readers_take_any_bytes(tmp_path: Path, fmt: str, data: bytes) -> None:
    path = tmp_path / f"input.{fmt}"
    path.write_bytes(data)
    try:
        rows = read_all(path, fmt)
    except UsageError as exc:
        assert str(path) in exc.message
        return
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))  # type: ignore[index]


# No NUL (cg refuses a CSV holding one) and no U+FEFF: a BOM inside a value fails its row, never sent
# (tests/test_edge_values.py pins that rule).
csv_cell = st.text(alphabet=st.characters(blacklist_characters="\x00\ufeff", blacklist_categories=("Cs",)), max_size=8)


@FAST
@given(st.lists(st.lists(csv_cell, min_size=1, max_size=4), min_size=1, max_size=6))
def test_csv_written_by_python_reads_back(tmp_path: Path, table: list[list[str]]) -> None:
    import csv

    header = [f"H{i}" for i in range(len(table[0]))]
    path = tmp_path / "t.csv"
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(table)
    rows = read_all(path, "csv")
    assert len(rows) == len(table)
    for (_, record, error), cells in zip(rows, table, strict=True):  # type: ignore[misc]
        if len(cells) == len(header):
            assert error is None
            assert record == {h: c for h, c in zip(header, cells, strict=True) if c != ""}
        else:
            assert error is not None and "cells but the header has" in error


toml_values = st.one_of(st.text(max_size=10), st.integers(), st.booleans(), st.lists(st.text(max_size=6), max_size=4))


@FAST
@given(st.text(max_size=300))
def test_mapping_loader_takes_any_text(text: str) -> None:
    try:
        loaded = parse_mappings(text, Path("m.toml"))
    except UsageError as exc:
        assert exc.message.startswith("m.toml")
        return
    for mapping in loaded.mappings.values():
        assert mapping.type in TYPES


@FAST
@given(st.dictionaries(st.sampled_from(["reference", "type", "fields", "extra"]), toml_values, max_size=4))
def test_mapping_loader_takes_any_table(table: dict[str, object]) -> None:
    import json

    lines = ["[m]"] + [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    try:
        loaded = parse_mappings("\n".join(lines) + "\n", Path("m.toml"))
    except UsageError as exc:
        assert exc.message.startswith("m.toml, line ") or exc.message.startswith("m.toml: ")
        return
    assert loaded.get("m").reference == table["reference"]


def test_stdin_reader_is_the_same_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"A": 1}\n\n{"B": 2}\n')))
    with RecordFile("-", "jsonl") as records:
        assert [row.record for row in records] == [{"A": 1}, {"B": 2}]
