"""Streaming readers for CSV and JSONL record files: one row at a time, never the whole file."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cg_cli.errors import UsageError
from cg_cli.files import check_readable_file
from cg_cli.records import JsonValueError, strict_json_loads

FORMATS = ("csv", "jsonl")
# Columns cg adds to failed and results files; ignored on input, so such a file imports as is.
ROW_COLUMN = "_row"
ERROR_COLUMN = "_error"
STATUS_COLUMN = "_status"
RESERVED_COLUMNS = frozenset({ROW_COLUMN, ERROR_COLUMN, STATUS_COLUMN})
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class Row:
    number: int  # 1-based data row number (the CSV header is not a data row)
    record: dict[str, Any]  # what would be sent: empty CSV cells left out
    original: list[str] | dict[str, Any] | str  # the row as read: CSV cells, a JSON object, or a bad line
    error: str | None = None  # the row could not be read as a record


def detect_format(path: str, given: str | None) -> str:
    if given is not None:
        if given not in FORMATS:
            raise UsageError(f"unknown format {given!r}", hint="use --format csv or --format jsonl")
        return given
    if path == "-":
        raise UsageError("reading stdin needs --format csv or --format jsonl")
    kind = _EXTENSIONS.get(Path(path).suffix.lower())
    if kind is None:
        raise UsageError(f"cannot tell the format of {path} from its extension", hint="pass --format csv or jsonl")
    return kind


class RecordFile:
    """An open CSV or JSONL file; iterate it for rows. Use as a context manager."""

    def __init__(self, path: str, fmt: str | None = None) -> None:
        self.path = path
        self.format = detect_format(path, fmt)
        self.header: list[str] | None = None
        self._stream = self._open()
        self._csv: Any = None
        if self.format == "csv":
            self._read_header()

    def _open(self) -> IO[str]:
        if self.path == "-":
            if sys.stdin is None:
                raise UsageError("reading -: stdin is closed", hint="pipe the input in, or name a file")
            return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        path = Path(self.path)
        check_readable_file(path, "input file")
        try:
            return path.open(encoding="utf-8-sig", newline="")
        except PermissionError:
            raise UsageError(f"{self.path}: permission denied") from None
        except OSError as exc:
            raise UsageError(f"{self.path}: cannot read ({exc.strerror})") from None

    def _read_header(self) -> None:
        self._csv = csv.reader(self._stream)
        try:
            header = next(self._safe_csv_rows(), None)
        except UsageError:
            self.close()
            raise
        if header is None:
            self.close()
            raise UsageError(f"{self.path} is empty: expected a header row of Field Headings")
        seen: set[str] = set()
        for index, heading in enumerate(header, start=1):
            if not heading.strip():
                self.close()
                raise UsageError(f"{self.path}: column {index} of the header row has no heading")
            if heading in seen:
                self.close()
                raise UsageError(f"{self.path}: heading {heading!r} appears twice in the header row")
            seen.add(heading)
        self.header = header

    def _safe_csv_rows(self) -> Iterator[list[str]]:
        """csv.reader's rows without blank lines; decoding and NUL errors become usage errors."""
        while True:
            try:
                cells = next(self._csv)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise UsageError(f"{self.path}: not UTF-8 text (near line {self._csv.line_num + 1})") from None
            except csv.Error as exc:
                raise UsageError(f"{self.path}, line {self._csv.line_num}: {exc}") from None
            if any("\x00" in cell for cell in cells):
                raise UsageError(
                    f"{self.path}, line {self._csv.line_num}: contains a NUL byte (a binary or UTF-16 file?)"
                )
            if cells:  # csv.reader gives [] for a blank line
                yield cells

    def __iter__(self) -> Iterator[Row]:
        return self._csv_rows() if self.format == "csv" else self._jsonl_rows()

    def _csv_rows(self) -> Iterator[Row]:
        assert self.header is not None
        header = self.header
        for number, cells in enumerate(self._safe_csv_rows(), start=1):
            if len(cells) != len(header):
                error = f"row has {len(cells)} cells but the header has {len(header)}"
                yield Row(number, {}, cells, error)
                continue
            record = {k: v for k, v in zip(header, cells, strict=True) if v != "" and k not in RESERVED_COLUMNS}
            yield Row(number, record, cells)

    def _jsonl_rows(self) -> Iterator[Row]:
        number = 0
        line_number = 0
        while True:
            try:
                line = self._stream.readline()
            except UnicodeDecodeError:
                raise UsageError(f"{self.path}: not UTF-8 text (near line {line_number + 1})") from None
            if not line:
                return
            line_number += 1
            if not line.strip():
                continue
            number += 1
            yield _jsonl_row(number, line_number, line.strip())

    def estimated_rows(self) -> int | None:
        """Data rows, counted as lines (a quoted cell with a newline counts twice); None for stdin."""
        if self.path == "-":
            return None
        with open(self.path, "rb") as raw:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: raw.read(1 << 16), b""))
        return max(lines - (1 if self.format == "csv" else 0), 0)

    def close(self) -> None:
        if self.path != "-":
            self._stream.close()

    def __enter__(self) -> RecordFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _jsonl_row(number: int, line_number: int, line: str) -> Row:
    try:
        data = strict_json_loads(line)
    except json.JSONDecodeError as exc:
        return Row(number, {}, line, f"line {line_number}: invalid JSON at column {exc.colno}: {exc.msg}")
    except JsonValueError as exc:
        return Row(number, {}, line, f"line {line_number}: {exc}")
    except RecursionError:
        return Row(number, {}, line, f"line {line_number}: JSON nested too deeply")
    if not isinstance(data, dict):
        return Row(number, {}, line, f"line {line_number}: expected a JSON object")
    return Row(number, {k: v for k, v in data.items() if k not in RESERVED_COLUMNS}, data)
