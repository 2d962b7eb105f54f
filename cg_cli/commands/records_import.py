"""cg records import: push a whole CSV or JSONL file, resumable, losing nothing."""

from __future__ import annotations

import functools
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cg_cli import render
from cg_cli.commands.common import (
    ConfigOption,
    MappingOption,
    MappingsFileOption,
    NoCheckOption,
    OutputOption,
    RetriesOption,
    TimeoutOption,
    http_options,
    settings_for,
)
from cg_cli.constants import DEFAULT_RETRIES, DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from cg_cli.importer import Importer, ImportResult
    from cg_cli.journal import FailedFile, Journal
    from cg_cli.readers import RecordFile
    from cg_cli.settings import HttpOptions, Settings
    from cg_cli.targets import Target

IMPORT_EXAMPLES = """\b
Examples:
  cg records import accounts.csv --mapping accounts            # header checked, 4 workers
  cg records import accounts.csv --config REF --workers 8 --rate 50
  cg records import accounts.csv --mapping accounts --resume   # after Ctrl-C or a failure
  cg records import export.csv --mapping accounts --dry-run    # validate every row, send nothing
  producer | cg records import - --format jsonl --config REF
\b
CSV: a header row of Field Headings (UTF-8, BOM or not); an empty cell leaves
that field out of the record. JSONL: one object per line; blank lines skipped.
Columns _row and _error (added to failed files) are ignored, so a fixed failed
file can be imported as it is.
"""


def import_records(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="CSV or JSONL file; - reads stdin (needs --format).")],
    config: ConfigOption = None,
    mapping: MappingOption = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from the extension).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Parallel requests.", min=1, max=64)] = 4,
    rate: Annotated[
        float | None, typer.Option("--rate", help="At most this many requests per second overall.", min=0.01)
    ] = None,
    failed: Annotated[
        Path | None, typer.Option("--failed", help="Failed rows go here (default: FILE.failed.csv/jsonl).")
    ] = None,
    journal: Annotated[
        Path | None, typer.Option("--journal", help="Progress journal (default: FILE.cg-journal).")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Skip rows the journal holds as done.")] = False,
    no_check: NoCheckOption = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and check every row; send nothing.")] = False,
    output: OutputOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
    mappings_file: MappingsFileOption = None,
) -> None:
    """Push every row of a CSV or JSONL file, one request per row.

    Exit codes: 0 every row sent; 6 some rows failed (see the failed file);
    5 the service stayed unreachable (the rest is resumable); 4 the header
    check failed; 3 credentials refused; 2 bad input; 130 interrupted.
    """
    from cg_cli.errors import CheckFailed, UsageError
    from cg_cli.journal import FailedFile, Journal, default_failed_path, default_journal_path
    from cg_cli.mappings import check_header
    from cg_cli.readers import RecordFile
    from cg_cli.targets import resolve_target

    settings = settings_for(ctx, configuration=config, output=output, mappings_file=mappings_file)
    target = resolve_target(settings, mapping)
    with RecordFile(file, file_format) as records:
        if target.mapping is not None and records.header is not None and not no_check:
            problems = check_header(target.mapping, records.header)
            if problems:
                raise CheckFailed(
                    f"the header of {file} has {len(problems)} column(s) the mapping does not know; nothing was sent",
                    problems,
                )
        options = http_options(timeout, retries, resend_after_send=not target.sends_surveys)
        run = functools.partial(
            _run, records, target, settings, options=options, workers=workers, rate=rate, no_check=no_check
        )
        journal_file = Journal(journal or default_journal_path(file), target.reference)
        if dry_run:
            _finish_dry_run(run(journal=None, failed=None, dry_run=True), file, settings.json_output)
            return
        if journal_file.exists() and not resume:
            raise UsageError(
                f"journal {journal_file.path} exists: an earlier import of this file did not finish",
                hint="pass --resume to continue (rows already sent are skipped), or delete the journal to start over",
            )
        done_before = journal_file.load() if resume else set()
        failed_path = failed or default_failed_path(file, records.format)
        failed_file = FailedFile(failed_path, records.format, records.header, append=resume)
        journal_file.open()
        try:
            result = run(journal=journal_file, failed=failed_file, dry_run=False, done_before=done_before)
        finally:
            journal_file.close()
            failed_file.close()
    _finish(result, file, str(failed_path), journal_file, settings.json_output)


def _run(
    records: RecordFile,
    target: Target,
    settings: Settings,
    *,
    options: HttpOptions,
    journal: Journal | None,
    failed: FailedFile | None,
    workers: int,
    rate: float | None,
    dry_run: bool,
    no_check: bool,
    done_before: set[int] | None = None,
) -> ImportResult:
    """Run the importer over `records` with progress and Ctrl-C handling."""
    from cg_cli.importer import Importer
    from cg_cli.progress import progress_for

    new_sender: Any = None
    if not dry_run:
        from cg_cli.auth import token_provider
        from cg_cli.client import RecordsClient

        records_url = settings.records_url()
        tokens = token_provider(settings, options)
        tokens.get()  # refused credentials stop the run before any row is read

        def new_sender() -> RecordsClient:
            return RecordsClient(records_url, tokens, options)

    label = "checking" if dry_run else f"importing {Path(records.path).name}"
    progress = progress_for(render.safe(label), records.estimated_rows())
    importer = Importer(
        records,
        reference=target.reference,
        mapping=target.mapping,
        check_unknown_fields=not no_check,
        new_sender=new_sender,
        journal=journal,
        failed=failed,
        workers=workers,
        rate=rate,
        dry_run=dry_run,
        progress=progress,
    )
    restore = _stop_on_ctrl_c(importer, journal)
    try:
        return importer.run(done_before or set())
    finally:
        restore()
        progress.close()


def _stop_on_ctrl_c(importer: Importer, journal: Journal | None) -> Any:
    """First Ctrl-C: finish the requests in flight, then stop. Second: quit at once."""
    from cg_cli.errors import ExitCode

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if importer.result.interrupted:
            if journal is not None:
                journal.close()
            render.err("interrupted again: quitting now; rows in flight may be sent again on --resume")
            os._exit(int(ExitCode.INTERRUPTED))
        importer.request_stop()
        render.err("stopping: finishing the requests in flight (Ctrl-C again quits at once)")

    previous = signal.signal(signal.SIGINT, on_sigint)
    return lambda: signal.signal(signal.SIGINT, previous)


def _finish(result: ImportResult, file: str, failed_path: str, journal: Journal, json_output: bool) -> None:
    from cg_cli.errors import ExitCode, ImportEnded
    from cg_cli.importer import summary_json

    stats = result.stats
    summary = summary_json(result, failed_path=failed_path if stats.failed else None, journal_path=str(journal.path))
    everything_sent = stats.failed == 0 and result.stopped_by is None and not result.interrupted
    if everything_sent:
        journal.remove()
        summary["journal"] = None
    line = (
        f"{stats.sent} sent, {stats.failed} failed, {stats.skipped} skipped (done before); "
        f"{stats.elapsed:.1f} s, {stats.rows_per_second:.0f} rows/s"
    )
    resume = f"rerun the same command with --resume to continue (journal {journal.path})"
    if result.interrupted:
        raise ImportEnded(f"interrupted: {line}", ExitCode.INTERRUPTED, summary, hint=resume)
    if result.stopped_by is not None:  # credentials refused (3), service down (5), or a bug (1)
        code = result.stopped_by.exit_code
        raise ImportEnded(f"stopped: {result.stopped_by.message}; {line}", code, summary, hint=resume)
    if stats.failed:
        raise ImportEnded(
            f"{stats.failed} row(s) failed: {line}",
            ExitCode.PARTIAL,
            summary,
            hint=f"the failed rows and their errors are in {failed_path}; fix them and import that file",
        )
    if json_output:
        render.json_out(summary)
    render.err(f"Imported {render.safe(file)}: {line}.")


def _finish_dry_run(result: ImportResult, file: str, json_output: bool) -> None:
    from cg_cli.errors import ExitCode, ImportEnded
    from cg_cli.importer import summary_json

    stats = result.stats
    summary = summary_json(result, failed_path=None, journal_path=None)
    line = f"{stats.valid} row(s) would be sent, {stats.failed} would fail; nothing was sent"
    if stats.failed:
        if not json_output:
            render.problems(result.problems, stderr=True)
        raise ImportEnded(f"dry run of {file}: {line}", ExitCode.VALIDATION, summary)
    if json_output:
        render.json_out(summary)
    render.err(f"Dry run of {render.safe(file)}: {line}.")
