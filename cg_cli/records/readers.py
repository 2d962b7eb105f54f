"""Streaming readers for CSV and JSONL record files: one row at a time, never the whole file."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import os
import stat
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cg_cli.errors import UsageError
from cg_cli.records.body import (
    JsonValueError,
    UnsendableText,
    strict_json_loads,
    unsendable_character,
)
from cg_cli.records.encodings import Encoding, choose_encoding, mojibake, refuse_utf8_read_as_legacy
from cg_cli.records.files import check_readable_file

FORMATS = ("csv", "jsonl")
# Columns cg adds to failed and results files; ignored on input, so such a file imports as is.
ROW_COLUMN = "_row"
ERROR_COLUMN = "_error"
STATUS_COLUMN = "_status"
RESERVED_COLUMNS = frozenset({ROW_COLUMN, ERROR_COLUMN, STATUS_COLUMN})
IGNORED_MARK = "\0ignored"  # stands for an ignored column in a row's header: never a heading (a NUL cannot be one)
SKIPPED = RESERVED_COLUMNS | {IGNORED_MARK}
_EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


CSV_FIELD_LIMIT = 16 << 20  # a cell may be large (the API takes 2 MB bodies): csv's own 128 KiB is too small
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass(frozen=True)
class Row:
    number: int  # 1-based data row number (the CSV header is not a data row)
    record: dict[str, Any]  # what would be sent: empty CSV cells left out, renames and --set applied
    original: list[str] | dict[str, Any] | str  # the row as read: CSV cells, a JSON object, or a bad line
    error: str | None = None  # the row could not be read as a record
    line: int = 0  # the physical line where the row starts


@dataclass(frozen=True)
class ReadOptions:
    """How to read an export: what the file is, and what to change in each record."""

    file_format: str | None = None  # csv or jsonl; None: from the extension
    delimiter: str | None = None  # None: detected from the header line
    encoding: str | None = None  # None: UTF-8 (with or without BOM), or UTF-16 by its BOM
    renames: Mapping[str, str] = field(default_factory=dict)  # input column → Field Heading
    constants: Mapping[str, str] = field(default_factory=dict)  # --set: a field added to every record
    ignore: frozenset[str] = frozenset()  # columns (as the file or a rename names them) never put in a record


def parse_delimiter(text: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(text.lower(), text)
    if len(value) != 1 or value in '"\r\n':
        raise UsageError(f"--delimiter {text!r} is not one character", hint="for example ; or tab")
    return value


def detect_format(path: str, given: str | None) -> str:
    if given is not None:
        if given not in FORMATS:
            raise UsageError(f"unknown format {given!r}", hint="use --format csv or --format jsonl")
        return given
    if path == "-":
        raise UsageError("reading stdin needs --format csv or --format jsonl")
    if _starts_utf16(path):  # Excel's "Unicode Text": UTF-16 with a BOM, tab-separated, whatever the name
        return "csv"
    kind = _EXTENSIONS.get(Path(path).suffix.lower())
    if kind is None:
        raise UsageError(
            f"cannot tell the format of {path} from its extension",
            hint="pass --format csv (also for tab-separated text) or jsonl",
        )
    return kind


def _starts_utf16(path: str) -> bool:
    """A UTF-16 BOM and a tab in the first line: Excel's Unicode Text, saved as .txt (or renamed)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False  # a FIFO or a device is read once, by the reader: never peeked (open could block)
        with open(path, "rb") as stream:
            head = stream.read(4096)
    except OSError:
        return False  # opening it for real names the problem
    if head[:2] not in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return False
    text = head[: len(head) // 2 * 2].decode("utf-16", "replace")
    return "\t" in text.split("\n", 1)[0]


class RecordFile:
    """An open CSV or JSONL file; iterate it for rows. Use as a context manager."""

    def __init__(self, path: str, fmt: str | None = None, *, options: ReadOptions | None = None) -> None:
        self.options = options or ReadOptions(file_format=fmt)
        self.path = path
        self.format = detect_format(path, fmt or self.options.file_format)
        self.header: list[str] | None = None  # Field Headings, after renames
        self.source_header: list[str] | None = None  # the columns as the file names them
        self.delimiter = ","
        self.encoding = "utf-8-sig"
        self.read_as = Encoding(self.encoding)  # the codec, its BOM, and whether values are checked for mojibake
        self._stream = self._open()
        self._csv: Any = None
        if self.format == "csv":
            self._read_header()

    @property
    def described(self) -> str:
        """'semicolon-separated, UTF-16' for the pre-flight line."""
        encoding = self.read_as.name + (f" ({self.read_as.note})" if self.read_as.note else "")
        if self.format == "jsonl":
            return f"JSONL, {encoding}"
        ignore, pairs = self.options.ignore, zip(self.header or [], self.source_header or [], strict=True)
        ignored = [s for h, s in pairs if h in ignore or s in ignore]
        left_out = f"; left out (ignored, never sent): {', '.join(ignored)}" if ignored else ""
        return f"{DELIMITERS.get(self.delimiter, repr(self.delimiter))}-separated, {encoding}{left_out}"

    def _open(self) -> IO[str]:
        if self.path == "-":
            if sys.stdin is None:
                raise UsageError("reading -: stdin is closed", hint="pipe the input in, or name a file")
            binary: Any = sys.stdin.buffer
            if not hasattr(binary, "peek"):  # the BOM is looked at without being consumed
                binary = io.BufferedReader(binary)
        else:
            path = Path(self.path)
            check_readable_file(path, "input file")
            try:
                binary = path.open("rb")
            except PermissionError:
                raise UsageError(f"{self.path}: permission denied") from None
            except OSError as exc:
                raise UsageError(f"{self.path}: cannot read ({exc.strerror})") from None
        try:
            self.read_as = choose_encoding(binary, self.options.encoding, "stdin" if self.path == "-" else self.path)
            if self.path != "-":
                refuse_utf8_read_as_legacy(Path(self.path), self.read_as)
        except UsageError:
            if self.path != "-":
                binary.close()
            raise
        self.encoding = self.read_as.codec
        return io.TextIOWrapper(binary, encoding=self.encoding, newline="")

    def _read_header(self) -> None:
        try:
            first = self._stream.readline()
        except UnicodeDecodeError:
            self.close()
            raise self._decode_error(1) from None
        self.delimiter = self.options.delimiter or _sniff_delimiter(first)
        self._csv = csv.reader(itertools.chain([first], self._stream), delimiter=self.delimiter)
        csv.field_size_limit(CSV_FIELD_LIMIT)
        try:
            header = next(self._safe_csv_rows(), None)
        except UsageError:
            self.close()
            raise
        if header is None:
            self.close()
            raise UsageError(f"{self.path} is empty: expected a header row of Field Headings")
        renames = self.options.renames
        renamed = [renames.get(h, h) for h in header]
        seen: dict[str, str] = {}
        for index, (source, heading) in enumerate(zip(header, renamed, strict=True), start=1):
            if not heading.strip():
                self.close()
                raise UsageError(f"{self.path}: column {index} of the header row has no heading")
            problem = unsendable_character(heading)
            if problem is not None:
                self.close()
                raise UsageError(f"{self.path}: column {index} of the header row {problem}")
            if heading in seen:
                self.close()
                if source == heading == seen[heading]:
                    raise UsageError(f"{self.path}: heading {heading!r} appears twice in the header row")
                raise UsageError(
                    f"{self.path}: columns {seen[heading]!r} and {source!r} both become {heading!r}",
                    hint="drop the --rename (or the mapping's column), or one of the two columns",
                )
            seen[heading] = source
        self.source_header = header
        self.header = renamed

    def _decode_error(self, line: int) -> UsageError:
        where = ""
        if self.path != "-":
            found = first_undecodable_byte(Path(self.path), self.encoding)
            if found is not None:
                where, line = f" (byte {found[0]})", found[1]
        encoding = self.read_as.name
        return UsageError(
            f"{self.path}: the row at line {line} cannot be read as {encoding}{where}",
            hint="pass --encoding with the file's encoding (for example cp1252 or latin-1 for older Excel exports)",
        )

    def _safe_csv_rows(self) -> Iterator[list[str]]:
        """csv.reader's rows without blank lines; decoding and NUL errors become usage errors."""
        while True:
            try:
                cells = next(self._csv)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise self._decode_error(self._csv.line_num + 1) from None
            except csv.Error as exc:
                raise UsageError(f"{self.path}, line {self._csv.line_num}: {exc}") from None
            if any("\x00" in cell for cell in cells):
                raise UsageError(
                    f"{self.path}, line {self._csv.line_num}: contains a NUL byte (a binary file, or pass --encoding?)"
                )
            if cells:  # csv.reader gives [] for a blank line
                yield cells

    def __iter__(self) -> Iterator[Row]:
        return self._csv_rows() if self.format == "csv" else self._jsonl_rows()

    def _csv_rows(self) -> Iterator[Row]:
        assert self.header is not None
        ignore = self.options.ignore
        assert self.source_header is not None
        # An ignored column is left out of every record (by its name in the file, or the name a rename gives it).
        header = [
            IGNORED_MARK if h in ignore or s in ignore else h
            for h, s in zip(self.header, self.source_header, strict=True)
        ]
        constants = dict(self.options.constants)
        legacy = self.read_as.legacy
        line = self._csv.line_num + 1
        for number, cells in enumerate(self._safe_csv_rows(), start=1):
            error: str | None = None
            if len(cells) != len(header):
                error = f"row has {len(cells)} cells but the header has {len(header)}"
            # Decoded text holds no lone surrogate: a BOM is the one character to look for.
            elif not (joined := "".join(cells)).isascii() and (legacy or "\ufeff" in joined):
                error = self._unsendable(cells, header)  # which cell, and why
            if error is not None:
                yield Row(number, {}, cells, error, line)
            else:
                record = {k: v for k, v in zip(header, cells, strict=True) if v != "" and k not in SKIPPED}
                if constants:
                    record.update(constants)
                yield Row(number, record, cells, None, line)
            line = self._csv.line_num + 1

    def _unsendable(self, values: list[str], names: list[str]) -> str | None:
        """Why a row with non-ASCII text must not be sent: a BOM or lone surrogate, or mojibake."""
        for name, value in zip(names, values, strict=True):
            problem = unsendable_character(value)
            if problem is None and self.read_as.legacy:
                problem = mojibake(value, self.encoding)
            if problem is not None:
                return f"{name}: {problem}"
        return None

    def _jsonl_rows(self) -> Iterator[Row]:
        number = 0
        line_number = 0
        renames, constants, ignore = self.options.renames, dict(self.options.constants), self.options.ignore
        legacy = self.read_as.legacy
        while True:
            try:
                line = self._stream.readline()
            except UnicodeDecodeError:
                raise self._decode_error(line_number + 1) from None
            if not line:
                return
            line_number += 1
            if not line.strip():
                continue
            number += 1
            garbled = mojibake(line, self.encoding) if legacy else None
            if garbled is not None:
                yield Row(number, {}, line.strip(), f"line {line_number}: {garbled}", line_number)
                continue
            row = _jsonl_row(number, line_number, line.strip())
            if row.error is None and ignore:  # an ignored key is dropped by its own name, or the one a rename gives it
                kept = {k: v for k, v in row.record.items() if k not in ignore and renames.get(k, k) not in ignore}
                row = Row(row.number, kept, row.original, None, row.line)
            if row.error is None and (renames or constants):
                row = _renamed(row, renames, constants, self.path)
            yield row

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


def _sniff_delimiter(header_line: str) -> str:
    """The candidate that occurs most often outside quotes in the header line; a comma on a tie."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda c: (counts[c], c == ","))
    return best if counts[best] else ","


def first_undecodable_byte(path: Path, encoding: str) -> tuple[int, int] | None:
    """(byte offset, line) where decoding `path` first fails: found again on the error path only."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, lines = 0, 1
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 16):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start, lines + chunk[: exc.start].count(b"\n")
            offset += len(chunk)
            lines += chunk.count(b"\n")
    return None


def _renamed(row: Row, renames: Mapping[str, str], constants: dict[str, str], path: str) -> Row:
    """A JSONL record under --rename and --set. Two keys that become one are refused, as in a CSV header:
    exit 2 (for a file, in the pre-flight read, before anything is sent)."""
    record: dict[str, Any] = {}
    source: dict[str, str] = {}
    for key, value in row.record.items():
        heading = renames.get(key, key)
        if heading in record:
            raise UsageError(
                f"{path}, line {row.line}: keys {source[heading]!r} and {key!r} both become {heading!r}",
                hint="drop the --rename (or the mapping's column), or one of the two keys",
            )
        record[heading] = value
        source[heading] = key
    record.update(constants)
    return Row(row.number, record, row.original, None, row.line)


def _jsonl_row(number: int, line_number: int, line: str) -> Row:
    try:
        data = strict_json_loads(line, decoded=True)
    except json.JSONDecodeError as exc:
        return Row(number, {}, line, f"line {line_number}: invalid JSON at column {exc.colno}: {exc.msg}", line_number)
    except UnsendableText as exc:  # the object is whole: it goes to the failed file as it was
        return Row(number, {}, _lenient(line), f"line {line_number}: {exc}", line_number)
    except JsonValueError as exc:
        return Row(number, {}, line, f"line {line_number}: {exc}", line_number)
    except RecursionError:
        return Row(number, {}, line, f"line {line_number}: JSON nested too deeply", line_number)
    if not isinstance(data, dict):
        return Row(number, {}, line, f"line {line_number}: expected a JSON object", line_number)
    return Row(number, {k: v for k, v in data.items() if k not in RESERVED_COLUMNS}, data, None, line_number)


def _lenient(line: str) -> dict[str, Any] | str:
    """The object on a line strict parsing refused for its text only (a lone surrogate); else the line."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):  # a huge number besides
        return line
    return data if isinstance(data, dict) else line
