"""cg records import: push a whole CSV or JSONL file, resumable, losing nothing."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from cg_cli.commands.ci_output import CiOption, JunitOption, check_mode, report_check, report_import, stop_of
from cg_cli.commands.common import (
    ConfigOption,
    DelimiterOption,
    EncodingOption,
    FormatOption,
    IgnoreOption,
    MappingOption,
    MappingsFileOption,
    NoCheckOption,
    RenameOption,
    RetriesOption,
    SetOption,
    TimeoutOption,
    http_options,
    read_options,
    settings_for,
)
from cg_cli.commands.completers import complete_duplicates
from cg_cli.constants import DEFAULT_RETRIES, DEFAULT_TIMEOUT
from cg_cli.output import render

if TYPE_CHECKING:
    from cg_cli.config.settings import HttpOptions, Settings
    from cg_cli.importing.delivery import Destination
    from cg_cli.importing.importer import Sender
    from cg_cli.importing.run import ImportRequest, ImportRun

IMPORT_EXAMPLES = """\b
Examples:
  cg records import accounts.csv --mapping accounts   # header checked first
  cg records import accounts.csv --config REF --workers 8 --rate 50
  cg records import accounts.csv -m accounts --resume  # after a stop
  cg records import export.csv -m accounts --dry-run   # check rows, send none
  cg records import export.csv -m accounts --state s.db   # only what changed
  cg records import export.csv -m accounts --ignore "Account ID"   # not sent
  producer | cg records import - --format jsonl --config REF
\b
CSV: a header row of Field Headings (UTF-8, BOM or not); an empty cell leaves
that field out of the record. JSONL: one object per line; blank lines skipped.
Columns _row and _error (added to failed files) are ignored, so a fixed failed
file can be imported as it is. The journal (FILE.cg-journal) remembers each
row's content: --resume skips only rows that are unchanged and were done.
"""


def import_records(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="CSV or JSONL file; - reads stdin (needs --format).", metavar="FILE")],
    config: ConfigOption = None,
    mapping: MappingOption = None,
    file_format: FormatOption = None,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = None,
    rename: RenameOption = None,
    set_fields: SetOption = None,
    ignore: IgnoreOption = None,
    duplicates: Annotated[
        str,
        typer.Option(
            "--duplicates",
            help="Rows sharing an identity key: send all in file order, only the last, or refuse the file.",
            metavar="ordered|last|error",
            autocompletion=complete_duplicates,
        ),
    ] = "ordered",
    state: Annotated[
        Path | None,
        typer.Option("--state", help="Remember what was accepted; send only new and changed records.", metavar="PATH"),
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="With --state: send every row, still updating it.")] = False,
    results: Annotated[
        Path | None,
        typer.Option(
            "--results", help="Write each row's outcome here, in input order (CSV or .jsonl).", metavar="PATH"
        ),
    ] = None,
    workers: Annotated[
        str,
        typer.Option(
            "--workers",
            help="Requests in flight: auto finds what the service sustains (up to 64); N is a ceiling.",
            metavar="auto|N",
            callback=_workers_option,
        ),
    ] = "auto",
    rate: Annotated[
        float | None,
        typer.Option("--rate", help="At most this many requests per second overall.", min=0.01, metavar="PER_SECOND"),
    ] = None,
    failed: Annotated[
        Path | None,
        typer.Option("--failed", help="Failed rows go here (default: FILE.failed.csv/jsonl).", metavar="PATH"),
    ] = None,
    journal: Annotated[
        Path | None, typer.Option("--journal", help="Progress journal (default: FILE.cg-journal).", metavar="PATH")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Skip rows the journal saw done, if they are unchanged.")
    ] = False,
    restart: Annotated[
        bool, typer.Option("--restart", help="Discard an earlier run's journal and send every row.")
    ] = False,
    no_check: NoCheckOption = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and check every row; send nothing.")] = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
    mappings_file: MappingsFileOption = None,
    ci_mode: CiOption = None,
    junit: JunitOption = None,
) -> None:
    """Push every row of a CSV or JSONL file, one request per row.

    Exit codes: 0 every row accepted (in this run or, with --resume, an
    earlier one); 6 some rows failed (see the failed file); 5 the service
    failed persistently (the rest is resumable; throttling alone never ends a run);
    4 the header check failed;
    3 credentials refused; 2 bad input, or the journal cannot be written;
    130 interrupted; 143 terminated (SIGTERM).
    """
    from cg_cli.config.targets import resolve_target
    from cg_cli.errors import CheckFailed, ImportEnded, UsageError
    from cg_cli.importing.concurrency import parse_workers
    from cg_cli.importing.duplicates import DuplicatePolicy
    from cg_cli.importing.run import ImportRequest, ImportRun
    from cg_cli.output.progress import progress_for

    check_mode(ci_mode)
    settings = settings_for(ctx, mappings_file=mappings_file)
    target = resolve_target(settings, config=config, mapping_name=mapping)
    if duplicates not in {p.value for p in DuplicatePolicy}:
        raise UsageError(f"--duplicates {duplicates!r}: use ordered, last or error")
    request = ImportRequest(
        file=file,
        target=target,
        read=read_options(file_format, delimiter, encoding, rename, set_fields, target.mapping, ignore),
        check=not no_check,
        duplicates=DuplicatePolicy(duplicates),
        results_path=results,
        state_path=state,
        full=full,
        workers=parse_workers(workers),
        rate=rate,
        failed_path=failed,
        journal_path=journal,
        resume=resume,
        restart=restart,
        dry_run=dry_run,
        junit_path=junit,
        where=None if dry_run and state is None else _destination(settings, target.reference),
    )
    options = http_options(timeout, retries, resend_after_send=not target.sends_surveys, pass_throttling=True)
    try:
        new_sender = None if dry_run else _first_token(request, settings, options)
        run = ImportRun(request, new_sender, progress=None if render.quiet() else progress_for, notice=render.note)
        with _stop_on_signals(run):
            report = run.run()
    except ImportEnded as ended:  # failed rows, a stop, a signal: CI still gets its annotations and summary
        if not dry_run:
            report_import(ci_mode, junit, file, ended.summary, ended.message, ended.failures, stop_of(ended))
        raise
    except CheckFailed as refused:  # the header (or --duplicates error): nothing was sent
        from cg_cli.records.checks import FileCheck

        report_check(ci_mode, junit, file, mapping or config or "", FileCheck.of(refused.problems))
        raise
    if not dry_run:
        report_import(ci_mode, junit, file, report.summary, report.message, [])
    if settings.json_output:
        render.json_out({"ok": True, **report.summary})
    render.note(report.message)


def _workers_option(value: str) -> str:
    """--workers auto or 1..64, checked as Typer checks its own options (a usage error naming the option)."""
    from cg_cli.errors import UsageError
    from cg_cli.importing.concurrency import parse_workers

    try:
        parse_workers(value)
    except UsageError as exc:
        raise typer.BadParameter(exc.message.removeprefix("--workers must be ")) from None
    return value


def _destination(settings: Settings, reference: str) -> Destination:
    """Where the rows go: what the journal and the state are bound to."""
    from cg_cli.importing.delivery import Destination

    return Destination(reference, settings.records_url(), settings.token_url(), settings.client_id.value or "")


def _first_token(request: ImportRequest, settings: Settings, options: HttpOptions) -> Callable[[], Sender]:
    """The senders, once a token is in hand; what stops the import here still ends it with its summary."""
    from cg_cli.errors import CgError, Terminated
    from cg_cli.importing.run import ended_before_the_first_row

    try:
        return _sender_factory(settings, options)
    except (CgError, KeyboardInterrupt, Terminated) as exc:
        raise ended_before_the_first_row(request, exc) from None


def _sender_factory(settings: Settings, options: HttpOptions) -> Callable[[], Sender]:
    """One records client per worker, sharing one token; refused credentials stop before any row is read."""
    from cg_cli.service.auth import token_provider

    records_url = settings.records_url()
    tokens = token_provider(settings, options._replace(pass_throttling=False))  # the token service retries its 429s
    tokens.get()

    def new_sender() -> Sender:
        from cg_cli.service.client import (
            RecordsClient,  # requests loads only when a row is sent, not for unchanged files
        )

        return RecordsClient(records_url, tokens, options)

    return new_sender


@contextmanager
def _stop_on_signals(run: ImportRun) -> Iterator[None]:
    """First Ctrl-C or SIGTERM: finish the requests in flight, then stop. A second one: quit at once.

    The handlers only set flags and write with os.write: a signal lands between
    any two lines of the main thread, which may be inside a buffered write.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from cg_cli.errors import ExitCode

    exit_codes = {signal.SIGINT: ExitCode.INTERRUPTED, signal.SIGTERM: ExitCode.TERMINATED}
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            os.write(2, b"stopped again: quitting now; rows in flight may be sent again on --resume\n")
            os._exit(int(exit_codes.get(signal.Signals(signum), ExitCode.INTERRUPTED)))
        stopping = True
        run.request_stop(signal.Signals(signum).name)
        again = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        os.write(2, f"stopping: finishing the requests in flight (a second {again} quits at once)\n".encode())

    previous = {signum: signal.signal(signum, on_signal) for signum in exit_codes}
    try:
        yield
    finally:
        if not stopping:  # once stopping, a late second signal still quits at once instead of a traceback
            for signum, handler in previous.items():
                signal.signal(signum, handler)
