"""What an import checks before its first request: the header against the mapping, and which
identity keys repeat (refused with `--duplicates error`)."""

from __future__ import annotations

from collections.abc import Callable

from cg_cli.errors import CheckFailed
from cg_cli.importing.duplicates import DuplicateIndex, DuplicatePolicy, DuplicateReport
from cg_cli.importing.request import ImportFiles, ImportRequest
from cg_cli.records.checks import header_verdict
from cg_cli.records.mappings import Problem
from cg_cli.records.readers import RecordFile


def check_header_row(request: ImportRequest, records: RecordFile, notice: Callable[[str], None]) -> None:
    """Refuse columns the mapping does not know (the typo guard); name what is left out, or sent unchecked."""
    mapping = request.target.mapping
    if mapping is not None and records.header is not None:
        for line in header_verdict(mapping, records, f"the header of {named(request.file)}", check=request.check):
            notice(line)


def named(file: str) -> str:
    """The input as messages name it."""
    return "stdin" if file == "-" else file


def scan_duplicates(
    files: ImportFiles, records: RecordFile, notice: Callable[[str], None]
) -> tuple[DuplicateIndex | None, DuplicateReport | None]:
    """One line on how the file is read and which identity keys repeat; refuse them if asked."""
    request = files.request
    if request.file == "-":
        notice(f"reading stdin: {records.described}")
        return None, None
    resuming = request.resume and not request.dry_run
    if resuming and files.journal_saw_this_input and request.duplicates == DuplicatePolicy.ORDERED:
        # The earlier run reported this file's keys already: a resume of a million rows needs no second scan.
        notice(f"reading {request.file}: {records.described}; unchanged since the journal was written")
        return None, None
    index = DuplicateIndex(request.target.mapping.type if request.target.mapping else None)
    with RecordFile(request.file, options=request.read) as again:
        report = index.build(again)
    what = "; rows sharing a key are sent in file order" if report.keys else ""
    if request.duplicates == DuplicatePolicy.LAST and report.keys:
        what = "; only the last row of each is sent"
    notice(f"reading {request.file}: {records.described}; {report.describe()}{what}")
    if request.duplicates == DuplicatePolicy.ERROR and report.keys:
        index.close()
        problems = [
            Problem(r.rows[0], r.key, f"also on row{'s' * (len(r.rows) > 2)} {', '.join(map(str, r.rows[1:]))}")
            for r in report.first
        ]
        raise CheckFailed(
            f"{report.keys} identity key(s) repeat in {request.file} (--duplicates error); nothing was sent",
            problems,
        )
    return index, report
