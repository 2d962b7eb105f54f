"""Everything cg writes to the terminal: results on stdout, the rest on stderr.

Text that came from a server or a user is printed literally: rich markup is
off, and control characters (terminal escapes) are shown as \\xNN. Nothing it
prints is a CI runner's workflow command unless cg means it (`command`): the
Actions runner obeys its legacy `##[command]` form anywhere in a line and
`::command::` at a line's start, and the Azure Pipelines agent obeys
`##vso[area.command]` anywhere in a line, so `##[` becomes `#\\x23[`, `##vso[`
becomes `#\\x23vso[` and a leading `::` becomes `\\x3a:` (in JSON, `##` before
either is written `\\u0023#`, the same string to any JSON reader).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Collection, Iterable, Sequence
from typing import IO, TYPE_CHECKING, Any

from cg_cli.errors import ApiValidationError, CgError, CheckFailed

if TYPE_CHECKING:
    from rich.console import Console

    from cg_cli.records.mappings import Problem

# Control characters drive the terminal; bidi controls reorder what it shows (`gnp.exe` as `exe.png`).
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI}]")
_CONTROL_OR_NEWLINE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI}]")


# `##[` (the Actions runner's older form) and `##vso[` (Azure Pipelines), each obeyed anywhere in a line.
_ANYWHERE_COMMAND = re.compile(r"##(?=(?:vso)?\[)", re.IGNORECASE)
_AZURE_COMMAND = re.compile(r"##(?=vso\[)", re.IGNORECASE)
_LINE_COMMAND = re.compile(r"(^|[\r\n])(\s*):(?=:)")  # `::name::` after white space (lines end at CR or LF)


def safe(text: str, *, one_line: bool = True) -> str:
    """`text` with control characters made visible, so it cannot drive the terminal or a CI runner."""
    return defuse(visible(text, one_line=one_line))


def visible(text: str, *, one_line: bool = True) -> str:
    """`text` with control and bidi characters shown as \\xNN / \\uNNNN (newlines too, when `one_line`)."""
    return (_CONTROL_OR_NEWLINE if one_line else _CONTROL).sub(_visible, text)


def defuse(text: str) -> str:
    """No workflow command in `text`, however it is cut into lines: `##[`, `##vso[` anywhere, `::` at a line's start."""
    return _LINE_COMMAND.sub(r"\1\2\\x3a", _ANYWHERE_COMMAND.sub(r"#\\x23", text))


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def out(text: str) -> None:
    sys.stdout.write(defuse(text) + "\n")
    sys.stdout.flush()


def err(text: str) -> None:
    sys.stderr.write(defuse(text) + "\n")
    sys.stderr.flush()


def command(line: str) -> None:
    """A workflow command cg means (`::error …`, `::add-mask::…`), built by output/ci.py with its values escaped."""
    # One line. Its values may hold `##[` (a file name): the runner tries the `::` form first and a line has one
    # command, so they stay as they are and the annotation still points at the file. `##vso[` is Azure's, whose
    # agent would obey it anywhere in the line: defused.
    sys.stderr.write(_AZURE_COMMAND.sub(r"#\\x23", visible(line)) + "\n")
    sys.stderr.flush()


def json_document(data: Any, *, ascii_only: bool = False) -> str:
    """`data` as indented JSON in which no CI runner finds a workflow command (no line starts with `::`)."""
    return _ANYWHERE_COMMAND.sub(r"\\u0023#", json.dumps(data, indent=2, ensure_ascii=ascii_only, default=str))


documents_written = 0  # the entry point adds an interrupted run's document only when there is none yet


def json_out(data: Any) -> None:
    """One JSON document on stdout; \\u escapes when stdout cannot carry UTF-8, so it never fails after a send."""
    global documents_written
    utf8 = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "").startswith("utf")
    out(json_document(data, ascii_only=not utf8))
    documents_written += 1


def console(stream: IO[str] | None = None) -> Console:
    from rich.console import Console

    return Console(file=stream or sys.stdout, markup=False, highlight=False, emoji=False)


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    stderr: bool = False,
    whole: Collection[str] = (),
) -> None:
    """A table; the `whole` columns (counts, times) are never folded, the others fold to fit the terminal."""
    from rich import box
    from rich.table import Table

    grid = Table(title=safe(title) if title else None, box=box.SQUARE, title_justify="left")
    for column in columns:
        grid.add_column(column, overflow="fold", no_wrap=column in whole)
    for row in rows:
        grid.add_row(*("" if cell is None else safe(str(cell)) for cell in row))
    console(sys.stderr if stderr else sys.stdout).print(grid)


def error(exc: CgError, *, json_output: bool = False) -> None:
    """The one rendering of every typed error: `error: …` and `hint: …` on stderr."""
    if json_output:
        json_out(exc.as_json())
    elif isinstance(exc, ApiValidationError):
        field_errors(exc.errors)
    elif isinstance(exc, CheckFailed):
        problems(exc.problems, stderr=not exc.report)
    err(f"error: {safe(exc.headline)}")
    if exc.hint:
        err(f"hint: {safe(exc.hint)}")
    if isinstance(exc, CheckFailed) and exc.paste:
        err(f"  {safe(exc.paste)}")


def field_errors(errors: dict[str, list[str]]) -> None:
    """A 422's field errors, one row per message; the message itself is the `error:` line."""
    rows = [(name, text) for name, messages in errors.items() for text in messages]
    if rows:
        table(None, ("Field", "Message"), rows, stderr=True)


def problems(found: Sequence[Problem], *, stderr: bool = False) -> None:
    rows = [("-" if p.row is None else p.row, p.field or "", p.problem, p.suggestion or "") for p in found]
    table(None, ("Row", "Field", "Problem", "Suggestion"), rows, stderr=stderr)


_quiet = False


def configure(*, verbose: bool, quiet: bool) -> None:
    """Set up what reaches stderr: -v adds each HTTP attempt, -q keeps only errors and warnings."""
    from cg_cli.output import log

    global _quiet
    _quiet = quiet
    for stream in (sys.stdout, sys.stderr):
        # Text the stream's encoding cannot carry is written as escapes, never an error after a send.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    log.connect(lambda message: err(safe(message)), verbose=verbose, quiet=quiet)


def note(text: str) -> None:
    """A line on stderr that a script can do without: success lines, notices. Not under --quiet."""
    if not _quiet:
        err(safe(text))


def quiet() -> bool:
    return _quiet
