"""Reading the files users name (--json, --env-file, mapping files, imports) with clean errors."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

from cg_cli.errors import UsageError


def check_readable_file(path: Path, what: str) -> None:
    """Refuse what cannot be read as a file: missing, a directory, a FIFO or device (would block)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UsageError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot read ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{what} {path} is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise UsageError(f"{what} {path} is not a regular file")


def read_bytes(path: Path, what: str) -> bytes:
    check_readable_file(path, what)
    try:
        return path.read_bytes()
    except PermissionError:
        raise UsageError(f"{what} {path}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot read ({exc.strerror})") from None


def decode(data: bytes, what: str, source: str | Path) -> str:
    """UTF-8 text, with or without a BOM."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {source} is not UTF-8 text (byte {exc.start})") from None


def read_text(path: Path, what: str) -> str:
    return decode(read_bytes(path, what), what, path)


def read_text_or_stdin(path: str, what: str) -> str:
    """The text of a file, or of stdin for `-`."""
    if path != "-":
        return read_text(Path(path), what)
    if sys.stdin is None:
        raise UsageError(f"{what} -: stdin is closed", hint="pipe the input in, or name a file")
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    return decode(data, what, "stdin")
