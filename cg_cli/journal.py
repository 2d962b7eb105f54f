"""The two files `records import` keeps beside its input.

The journal is an append-only list of rows that reached a final state
(`S 12` sent, `F 12` failed); `--resume` skips them. The failed file holds
each failed row as read, plus `_row` and `_error`. Both are written as rows
finish and flushed, so a crash keeps what was done.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import IO, Any

from cg_cli.errors import UsageError
from cg_cli.mappings import RESERVED_COLUMNS
from cg_cli.readers import Row

JOURNAL_HEADER = "# cg records import journal v1"
SENT = "S"
FAILED = "F"
FSYNC_INTERVAL = 1.0


def default_journal_path(input_path: str) -> Path:
    return Path("stdin.cg-journal") if input_path == "-" else Path(input_path).with_suffix(".cg-journal")


def default_failed_path(input_path: str, fmt: str) -> Path:
    if input_path == "-":
        return Path(f"stdin.failed.{fmt}")
    path = Path(input_path)
    return path.with_name(f"{path.stem}.failed{path.suffix or '.' + fmt}")


class Journal:
    def __init__(self, path: Path, configuration: str) -> None:
        self.path = path
        self.configuration = configuration
        self._stream: IO[str] | None = None
        self._last_sync = 0.0
        self._unsynced = False

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> set[int]:
        """Row numbers already final; refuses a journal of another configuration."""
        done: set[int] = set()
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return done
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read journal {self.path}: {exc}") from None
        for number, line in enumerate(lines, start=1):
            if line.startswith("#"):
                key, _, value = line[2:].partition("=")
                if key == "configuration" and value != self.configuration:
                    raise UsageError(
                        f"journal {self.path} belongs to configuration {value!r}, not {self.configuration!r}",
                        hint="resume with the same configuration, or pass another --journal",
                    )
                continue
            status, _, row = line.partition(" ")
            if status not in (SENT, FAILED) or not row.isdigit():
                if number == len(lines):
                    break  # a line cut short by a crash: that row is simply not final
                raise UsageError(f"journal {self.path}, line {number}: not a journal line")
            done.add(int(row))
        return done

    def open(self) -> None:
        fresh = not self.path.exists()
        self._stream = self.path.open("a", encoding="utf-8")
        if fresh:
            self._stream.write(f"{JOURNAL_HEADER}\n# configuration={self.configuration}\n")
        self._sync()

    def record(self, row_number: int, status: str) -> None:
        assert self._stream is not None
        self._stream.write(f"{status} {row_number}\n")
        self._stream.flush()
        self._unsynced = True
        self.sync_if_due()

    def sync_if_due(self) -> None:
        """fsync what was written, at most once a second; the runner also calls this while it waits."""
        if self._unsynced and time.monotonic() - self._last_sync >= FSYNC_INTERVAL:
            self._sync()

    def _sync(self) -> None:
        if self._stream is not None:
            self._stream.flush()
            os.fsync(self._stream.fileno())
        self._last_sync = time.monotonic()
        self._unsynced = False

    def close(self) -> None:
        if self._stream is not None:
            self._sync()
            self._stream.close()
            self._stream = None

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


class FailedFile:
    """Failed rows as read, plus `_row` and `_error`; opened at the first failure."""

    def __init__(self, path: Path, fmt: str, header: list[str] | None, *, append: bool) -> None:
        self.path = path
        self.format = fmt
        # _row and _error of an earlier failed file are replaced, not repeated.
        self._width = len(header or [])
        self._keep = [i for i, h in enumerate(header or []) if h not in RESERVED_COLUMNS]
        self.header = [h for h in header or [] if h not in RESERVED_COLUMNS]
        self.append = append
        self.count = 0
        self._stream: IO[str] | None = None
        self._csv: Any = None

    def write(self, row: Row, error: str) -> None:
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
                data: dict[str, Any] = {**kept, "_row": row.number, "_error": error}
            else:
                data = {"_row": row.number, "_error": error, "_line": row.original}
            self._stream.write(json.dumps(data, ensure_ascii=False) + "\n")
        self._stream.flush()
        self.count += 1

    def _open(self) -> None:
        existed = self.path.exists() and self.path.stat().st_size > 0
        mode = "a" if self.append else "w"
        try:
            self._stream = self.path.open(mode, encoding="utf-8", newline="")
        except OSError as exc:
            raise UsageError(f"cannot write the failed file {self.path}: {exc.strerror}") from None
        if self.format == "csv":
            self._csv = csv.writer(self._stream)
            if not (self.append and existed):
                self._csv.writerow([*(self.header or []), "_row", "_error"])

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
