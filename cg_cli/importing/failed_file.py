"""The failed file `records import` writes beside its input: each failed row as read, plus `_row` and `_error`.

It re-imports with the same options to the same values: it is written in the input's encoding
(UTF-8 keeps the input's BOM or its absence; UTF-16 has a BOM). When a line holds a character that
encoding cannot (a server's message, usually), a CSV failed file becomes UTF-8 with a BOM, rows
already written included, and a BOM wins over `--encoding` when it is read again; a JSONL line is
written with JSON escapes instead (`\u0153` reads back as the same value).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

from cg_cli.errors import UsageError
from cg_cli.records.encodings import mojibake
from cg_cli.records.readers import ERROR_COLUMN, RESERVED_COLUMNS, ROW_COLUMN, Row


def default_failed_path(input_path: str, fmt: str) -> Path:
    if input_path == "-":
        return Path(f"stdin.failed.{fmt}")
    path = Path(input_path)
    return path.with_name(f"{path.stem}.failed{path.suffix or '.' + fmt}")


class FailedFile:
    """Failed rows as read, plus `_row` and `_error`; opened at the first failure, flushed per row."""

    def __init__(
        self,
        path: Path,
        fmt: str,
        header: list[str] | None,
        *,
        append: bool,
        delimiter: str = ",",
        encoding: str = "utf-8",
    ) -> None:
        self.path = path
        self.format = fmt
        self.delimiter = delimiter  # the input's: a semicolon export's failed rows open in the same Excel
        self.encoding = encoding  # the input's, until a line does not fit: then UTF-8 with a BOM
        # A legacy input's encoding: its values the reader fails as mojibake are written as their bytes meant.
        self._legacy = None if codecs.lookup(encoding).name.startswith("utf") else encoding
        # _row and _error of an earlier failed file are replaced, not repeated.
        self._width = len(header or [])
        self._keep = [i for i, h in enumerate(header or []) if h not in RESERVED_COLUMNS]
        self.header = [h for h in header or [] if h not in RESERVED_COLUMNS]
        self.append = append
        self.count = 0
        self._stream: IO[str] | None = None
        self._line = io.StringIO()
        self._csv: Any = csv.writer(self._line, delimiter=delimiter)

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
        text = self._text(row, error)
        if not _fits(text, self.encoding):
            if self.format == "jsonl":
                text = self._text(row, error, ascii_only=True)
            else:
                self._become_utf8()
                text = self._text(row, error)
        self._stream.write(text)
        self._stream.flush()

    def _text(self, row: Row, error: str, *, ascii_only: bool = False) -> str:
        """One line of the failed file."""
        if self.format == "csv":
            cells = row.original if isinstance(row.original, list) else []
            if len(cells) == self._width:  # a ragged row is kept exactly as it was
                cells = [cells[i] for i in self._keep]
            if self.encoding == "utf-8-sig" and self._legacy is not None:
                cells = [as_meant(cell, self._legacy) if isinstance(cell, str) else cell for cell in cells]
            # A NUL in a server's message: cg refuses a CSV holding one, and the file would not import again.
            return self._csv_line([*cells, row.number, error.replace("\x00", "\\x00")])
        if isinstance(row.original, dict):
            kept = {k: v for k, v in row.original.items() if k not in RESERVED_COLUMNS}
            data: dict[str, Any] = {**kept, ROW_COLUMN: row.number, ERROR_COLUMN: error}
        else:
            data = {ROW_COLUMN: row.number, ERROR_COLUMN: error, "_line": row.original}
        return json.dumps(data, ensure_ascii=ascii_only, default=str) + "\n"

    def _csv_line(self, cells: list[Any]) -> str:
        self._line.seek(0)
        self._line.truncate()
        self._csv.writerow(cells)
        return self._line.getvalue()

    def _open(self) -> None:
        existed = self.path.exists() and self.path.stat().st_size > 0
        appending = self.append and existed
        if appending:
            self.encoding = _encoding_of(self.path, self.encoding)
        # Each line is checked to fit before it is written; backslashreplace is the last resort for a lone
        # surrogate, which JSON reads back as the same string (\udfff).
        self._stream = self.path.open(
            "a" if self.append else "w", encoding=self.encoding, errors="backslashreplace", newline=""
        )
        if self.format == "csv" and not appending:
            header = self._csv_line([*(self.header or []), ROW_COLUMN, ERROR_COLUMN])
            if not _fits(header, self.encoding):
                self.encoding = "utf-8-sig"
                self._stream.close()
                self._stream = self.path.open("w", encoding=self.encoding, errors="backslashreplace", newline="")
            self._stream.write(header)

    def _become_utf8(self) -> None:
        """Rewrite what was written so far as UTF-8 with a BOM, atomically, and go on in it."""
        assert self._stream is not None
        self._stream.close()
        if self.path.is_file():  # a device (/dev/null) keeps nothing to carry over
            _rewrite_as_utf8(Path(os.path.realpath(self.path)), self.encoding)  # a symlink stays one
        self.encoding = "utf-8-sig"
        self._stream = self.path.open("a", encoding=self.encoding, newline="", errors="backslashreplace")

    def close(self) -> None:
        if self._stream is not None:
            # Every row was flushed as it was written: a failing close loses nothing more.
            with contextlib.suppress(OSError):
                self._stream.close()
            self._stream = None


def _fits(text: str, encoding: str) -> bool:
    """`text` can be written in `encoding` and read back as itself. Under a legacy encoding the reader
    fails a value whose bytes are also valid UTF-8 (mojibake); such a value holds a run of
    non-ASCII characters, so a line with one does not fit (cautious: the file becomes UTF-8 with a BOM)."""
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    if text.isascii() or codecs.lookup(encoding).name.startswith(("utf-8", "utf-16", "utf-32")):
        return True
    return not any(_is_utf8(run.encode(encoding)) for run in _NON_ASCII_RUN.findall(text))


_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def as_meant(value: str, read_as: str) -> str:
    """`value` as its bytes meant it when the reader fails it as mojibake (read in a legacy encoding, the
    whole value's bytes are UTF-8): in the UTF-8 failed file it then reads back right with the same options.
    Any other value (one the reader would send) is kept as it was given."""
    if mojibake(value, read_as) is None:
        return value
    return value.encode(read_as).decode("utf-8")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _encoding_of(path: Path, encoding: str) -> str:
    """The encoding of a failed file --resume appends to: a BOM says, else the input's."""
    with path.open("rb") as stream:
        head = stream.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and encoding.startswith("utf-16"):
        return "utf-16"
    return encoding


def _rewrite_as_utf8(path: Path, encoding: str) -> None:
    """`path`, in `encoding`, as UTF-8 with a BOM, streamed; a kill leaves the old file or the new one."""
    mode = path.stat().st_mode & 0o777
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with (
            path.open(encoding=encoding, newline="") as source,
            os.fdopen(handle, "w", encoding="utf-8-sig", newline="") as target,
        ):
            shutil.copyfileobj(source, target, 1 << 20)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
