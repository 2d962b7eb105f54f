"""`--results PATH`: one line per input row with its final outcome, in input order, streamed to disk.

CSV (`_row,_status,_error`) unless PATH ends in .jsonl or .ndjson. For CI
artifacts, as `sf data bulk results` gives success and failure files.
"""

from __future__ import annotations

import contextlib
import csv
import json
from pathlib import Path
from typing import IO, Any

from cg_cli.errors import UsageError
from cg_cli.records.readers import ERROR_COLUMN, ROW_COLUMN, STATUS_COLUMN

SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"  # done by an earlier run (--resume)
UNCHANGED = "unchanged"  # --state: the service already has exactly this record
SUPERSEDED = "superseded"  # --duplicates last: a later row has the same key
NOT_SENT = "not-sent"  # the run stopped before this row's turn


class ResultsFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
        try:
            # A lone surrogate (a JSONL key "\udfff" in an error) is written as \udfff: in JSON, the same string.
            self._stream: IO[str] = path.open("w", encoding="utf-8", errors="backslashreplace", newline="")
        except OSError as exc:
            raise UsageError(f"cannot write the results file {path} ({exc.strerror})") from None
        self._csv: Any = None
        if not self._jsonl:
            self._csv = csv.writer(self._stream)
            self._csv.writerow([ROW_COLUMN, STATUS_COLUMN, ERROR_COLUMN])

    def write(self, row: int, status: str, error: str | None = None) -> None:
        try:
            if self._jsonl:
                line = {ROW_COLUMN: row, STATUS_COLUMN: status, ERROR_COLUMN: error}
                self._stream.write(json.dumps(line, ensure_ascii=False) + "\n")
            else:
                self._csv.writerow([row, status, error or ""])
        except OSError as exc:
            raise UsageError(f"cannot write the results file {self.path} ({exc.strerror})") from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise UsageError(f"cannot write the results file {self.path} ({exc.strerror})") from None

    def close(self) -> None:
        with contextlib.suppress(OSError):  # every line was flushed as rows finished
            self._stream.close()
