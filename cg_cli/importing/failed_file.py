"""The failed file `records import` writes beside its input: each failed row as read, plus `_row` and `_error`."""

from __future__ import annotations

import contextlib
import csv
import json
from pathlib import Path
from typing import IO, Any

from cg_cli.errors import UsageError
from cg_cli.records.readers import ERROR_COLUMN, RESERVED_COLUMNS, ROW_COLUMN, Row


def default_failed_path(input_path: str, fmt: str) -> Path:
    if input_path == "-":
        return Path(f"stdin.failed.{fmt}")
    path = Path(input_path)
    return path.with_name(f"{path.stem}.failed{path.suffix or '.' + fmt}")


class FailedFile:
    """Failed rows as read, plus `_row` and `_error`; opened at the first failure, flushed per row."""

    def __init__(self, path: Path, fmt: str, header: list[str] | None, *, append: bool, delimiter: str = ",") -> None:
        self.path = path
        self.format = fmt
        self.delimiter = delimiter  # the input's: a semicolon export's failed rows open in the same Excel
        # _row and _error of an earlier failed file are replaced, not repeated.
        self._width = len(header or [])
        self._keep = [i for i, h in enumerate(header or []) if h not in RESERVED_COLUMNS]
        self.header = [h for h in header or [] if h not in RESERVED_COLUMNS]
        self.append = append
        self.count = 0
        self._stream: IO[str] | None = None
        self._csv: Any = None

    def write(self, row: Row, error: str) -> None:
        try:
            self._write(row, error)
        except OSError as exc:
            raise UsageError(
                f"cannot write the failed file {self.path} ({exc.strerror or exc})",
                hint="free some space or pass another --failed, then rerun the same command with --resume",
            ) from None
        self.count += 1

    def _write(self, row: Row, error: str) -> None:
        if self._stream is None:
            self._open()
        assert self._stream is not None
        if self.format == "csv":
            cells = row.original if isinstance(row.original, list) else []
            if len(cells) == self._width:  # a ragged row is kept exactly as it was
                cells = [cells[i] for i in self._keep]
            self._csv.writerow([*cells, row.number, error])
        else:
            if isinstance(row.original, dict):
                kept = {k: v for k, v in row.original.items() if k not in RESERVED_COLUMNS}
                data: dict[str, Any] = {**kept, ROW_COLUMN: row.number, ERROR_COLUMN: error}
            else:
                data = {ROW_COLUMN: row.number, ERROR_COLUMN: error, "_line": row.original}
            self._stream.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
        self._stream.flush()

    def _open(self) -> None:
        existed = self.path.exists() and self.path.stat().st_size > 0
        # A lone surrogate (a JSONL key "\udfff") is written as \udfff: in JSON, the escape of the same string.
        self._stream = self.path.open("a" if self.append else "w", encoding="utf-8", errors="backslashreplace",
                                      newline="")  # fmt: skip
        if self.format == "csv":
            self._csv = csv.writer(self._stream, delimiter=self.delimiter)
            if not (self.append and existed):
                self._csv.writerow([*(self.header or []), ROW_COLUMN, ERROR_COLUMN])

    def close(self) -> None:
        if self._stream is not None:
            # Every row was flushed as it was written: a failing close loses nothing more.
            with contextlib.suppress(OSError):
                self._stream.close()
            self._stream = None
