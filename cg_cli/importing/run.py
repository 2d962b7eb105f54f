"""One `records import` run, from options to outcome: the journal and resume
rules, the failed file's lifecycle, and the exit code the run earns.

The command gathers options, builds an `ImportRequest`, calls `ImportRun.run`
and renders what it returns (or the `ImportEnded` it raises). Nothing here
prints: one-line notices go through the `notice` callback. The option checks
and the files' paths are in `request.py`, the checks before the first request
in `preflight.py`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cg_cli.errors import CgError, ExitCode, ImportEnded, Terminated
from cg_cli.importing.delivery import Delivery, Kind, kind_of
from cg_cli.importing.duplicates import DuplicateIndex, DuplicatePolicy, DuplicateReport
from cg_cli.importing.failed_file import FailedFile
from cg_cli.importing.importer import Importer, ImportResult, Progress, Sender, summary_json
from cg_cli.importing.journal import Journal, JournalError, RunState, remove_regular_file
from cg_cli.importing.preflight import check_header_row, named, scan_duplicates
from cg_cli.importing.recorder import MAX_KEPT_PROBLEMS
from cg_cli.importing.request import ImportFiles, ImportRequest, input_fingerprint
from cg_cli.importing.results_file import ResultsFile
from cg_cli.importing.state import StateError, StateStore
from cg_cli.importing.stats import ImportStats, pace_words
from cg_cli.records.readers import RecordFile

SIGNAL_EXIT_CODES = {"SIGINT": ExitCode.INTERRUPTED, "SIGTERM": ExitCode.TERMINATED}
__all__ = ["ImportReport", "ImportRequest", "ImportRun", "input_fingerprint", "progress_line"]


@dataclass(frozen=True)
class ImportReport:
    """A run in which every row of the input was accepted (or, for a dry run, would be sent)."""

    message: str
    summary: dict[str, Any]


ProgressFactory = Callable[[str, int | None], Progress]


class ImportRun:
    def __init__(
        self,
        request: ImportRequest,
        new_sender: Callable[[], Sender] | None,
        *,
        progress: ProgressFactory | None = None,
        notice: Callable[[str], None] = lambda text: None,
    ) -> None:
        self.request = request
        self._new_sender = new_sender
        self._progress_factory = progress
        self._notice = notice
        self._files = ImportFiles(request, notice)
        self._importer: Importer | None = None
        self._duplicate_report: DuplicateReport | None = None
        self._progress: Progress | None = None
        self._early_stop: str | None = None

    def request_stop(self, signal_name: str) -> None:
        """From a signal handler: flags only."""
        if self._importer is not None:
            self._importer.request_stop(signal_name)
        else:
            self._early_stop = signal_name

    def run(self) -> ImportReport:
        request = self.request
        request.check_options()
        with RecordFile(request.file, options=request.read) as records:
            check_header_row(request, records, self._notice)
            self._files.refuse_shared_paths(records)
            if request.dry_run:
                return self._checked_run(records)
            with self._files.holding_the_journal():  # one writer: a second run is refused at once
                self._files.refuse_an_unfinished_journal()  # before the pre-flight reads a large file for nothing
                return self._checked_run(records)

    def _checked_run(self, records: RecordFile) -> ImportReport:
        request = self.request
        with contextlib.ExitStack() as cleanup:
            state = None
            if request.state_path:  # first: a state another run holds is refused before a long pre-flight
                state = StateStore(request.state_path, request.destination, write=not request.dry_run)
                cleanup.callback(_close_state, state)
            duplicates, self._duplicate_report = scan_duplicates(self._files, records, self._notice)
            if duplicates is not None:
                cleanup.callback(duplicates.close)
            if request.dry_run:
                return self._dry_run(records, state)
            return self._import(records, duplicates, state)
        raise AssertionError("unreachable")  # pragma: no cover - mypy cannot see that ExitStack never swallows

    @property
    def _kind(self) -> Kind:
        return kind_of(self.request.target.mapping.type if self.request.target.mapping else None)

    def _importer_for(self, records: RecordFile, **kwargs: Any) -> Importer:
        request = self.request
        progress = None
        if self._progress_factory is not None:
            label = "checking" if request.dry_run else f"importing {Path(records.path).name}"
            progress = self._progress_factory(label, records.estimated_rows())
        self._progress = progress
        importer = Importer(
            records,
            reference=request.target.reference,
            mapping=request.target.mapping,
            check_unknown_fields=request.check,
            new_sender=self._new_sender or _no_sender,
            workers=request.workers,
            rate=request.rate,
            dry_run=request.dry_run,
            progress=progress,
            **kwargs,
        )
        self._importer = importer
        if self._early_stop is not None:
            importer.request_stop(self._early_stop)
        return importer

    def _dry_run(self, records: RecordFile, state: StateStore | None) -> ImportReport:
        delivery = Delivery(self._kind, state=state, dry_run=True)
        result = self._execute(self._importer_for(records, delivery=delivery))
        stats = result.stats
        summary = {
            "dry_run": True,
            "would_send": stats.valid,
            "would_fail": stats.failed,
            **({"unchanged": stats.unchanged} if state is not None else {}),
            "problems": [p.as_json() for p in result.problems],
            "problems_truncated": stats.failed > len(result.problems),
        }
        line = f"{stats.valid} row(s) would be sent, {stats.failed} would fail; nothing was sent"
        if result.stop_signal is not None:  # a verdict on the rows read so far would pass for the whole file's
            what = _stopped_by_signal(result.stop_signal)
            summary["interrupted"] = True
            line = f"{line} (stopped after {stats.done} row(s))"
            raise ImportEnded(
                f"{what}: dry run of {named(self.request.file)}: {line}", SIGNAL_EXIT_CODES[result.stop_signal], summary
            )
        if stats.failed:
            raise ImportEnded(f"dry run of {named(self.request.file)}: {line}", ExitCode.VALIDATION, summary)
        return ImportReport(f"Dry run of {named(self.request.file)}: {line}.", summary)

    def _import(self, records: RecordFile, duplicates: DuplicateIndex | None, state: StateStore | None) -> ImportReport:
        request = self.request
        journal = Journal(self._files.journal_path, request.destination, durable_in_flight=self._kind == Kind.EVENT)
        failed_path = self._files.failed_path(records)
        resuming = self._files.start_journal(journal)
        if not resuming:
            remove_regular_file(failed_path)  # a fresh run's failed file holds only its own rows
        failed = FailedFile(
            failed_path,
            records.format,
            records.source_header,
            append=resuming,
            delimiter=records.delimiter,
            encoding=records.read_as.for_writing,
        )
        results = ResultsFile(request.results_path) if request.results_path else None
        try:
            resend = self._files.say_what_changed(journal) if resuming else set()
            journal.begin_run(self._files.fingerprint)
            importer = self._importer_for(
                records,
                delivery=Delivery(
                    self._kind, journal=journal, state=state, resume=resuming, full=request.full, resend=resend
                ),
                failed=failed,
                on_changed_input=self._changed_during_run if request.file == "-" else None,
                results=results,
                superseded=duplicates.superseded
                if duplicates is not None and request.duplicates == DuplicatePolicy.LAST
                else None,
            )
            try:
                result = self._execute(importer)
            except BaseException as exc:  # the input broke off mid-file, or a bug: what was sent stays journaled
                _end_quietly(journal, RunState.STOPPED, str(getattr(exc, "message", exc.__class__.__name__)))
                raise
            return self._outcome(result, journal, failed_path)
        finally:
            failed.close()
            if results is not None:
                results.close()
            # A journal that cannot take its last commit: the run already stopped over it, or those rows
            # are simply sent again on --resume.
            with contextlib.suppress(JournalError):
                journal.close()

    def _changed_during_run(self, row_number: int) -> None:
        self._notice(
            f"stdin differs from what the journal saw (first at row {row_number}): rows that no longer match "
            "are sent as new rows"
        )

    def _execute(self, importer: Importer) -> ImportResult:
        try:
            return importer.run()
        finally:
            if self._progress is not None:
                self._progress.close()

    def _outcome(self, result: ImportResult, journal: Journal, failed_path: Path) -> ImportReport:
        stats = result.stats
        not_accepted = stats.failed + stats.failed_earlier
        summary = run_summary(result, self.request, failed_path if not_accepted else None, journal.path)
        if self._duplicate_report is not None:
            summary["duplicate_keys"] = self._duplicate_report.keys
        line = progress_line(result)
        counted = self._duplicate_report.read if self._duplicate_report is not None else None
        ended = functools.partial(  # failures and rows: for CI reports
            ImportEnded, summary=summary, failures=result.failures, rows_in_input=counted
        )
        resume_hint = f"rerun the same command with --resume to continue (journal {journal.path})"
        if result.stop_signal is not None:
            _end_quietly(journal, RunState.INTERRUPTED)
            what = _stopped_by_signal(result.stop_signal)
            raise ended(f"{what}: {line}", SIGNAL_EXIT_CODES[result.stop_signal], hint=resume_hint)
        if result.stopped_by is not None:  # credentials refused (3), service down (5), a journal (2), a bug (1)
            _end_quietly(journal, RunState.STOPPED, result.stopped_by.message)
            raise ended(
                f"stopped: {result.stopped_by.message}; {line}",
                result.stopped_by.exit_code,
                hint=f"make {journal.path} writable (free space, permissions), then {resume_hint}"
                if isinstance(result.stopped_by, JournalError)
                else resume_hint,
            )
        if not_accepted:
            _end_quietly(journal, RunState.FAILED_ROWS)
            earlier = f" ({stats.failed_earlier} in an earlier run)" if stats.failed_earlier else ""
            raise ended(
                f"{not_accepted} row(s) failed{earlier}: {line}",
                ExitCode.PARTIAL,
                hint=f"the failed rows and their errors are in {failed_path}; fix them and import that file",
            )
        journal.remove()
        # Every row accepted: an earlier run's failed file (a --resume appends to it) would show failures in a
        # green run's artifacts. The path was checked as an output: never the input, another output or a device.
        self._remove_stale(failed_path)
        summary["journal"] = None
        return ImportReport(f"Imported {named(self.request.file)}: {line}.", summary)

    def _remove_stale(self, failed_path: Path) -> None:
        try:
            remove_regular_file(failed_path)
        except OSError as exc:  # everything was sent: say it, do not fail the run over it
            self._notice(f"could not remove {failed_path}, which holds an earlier run's failed rows ({exc.strerror})")


def run_summary(
    result: ImportResult, request: ImportRequest, failed_path: Path | None, journal_path: Path | None
) -> dict[str, Any]:
    """The JSON summary of a run that sent (or could have sent): its counts and where its files are."""
    return {
        **summary_json(result),
        "failed_file": str(failed_path) if failed_path else None,
        "journal": str(journal_path) if journal_path else None,
        "results_file": str(request.results_path) if request.results_path else None,
        "stopped_by": result.stopped_by.message if result.stopped_by else None,
        "first_failures": [{"row": r, "line": n, "error": e} for r, n, e in result.failures[:MAX_KEPT_PROBLEMS]],
        "first_failures_truncated": result.stats.failed > MAX_KEPT_PROBLEMS,
    }


def ended_before_the_first_row(request: ImportRequest, exc: BaseException) -> ImportEnded:
    """Credentials refused (3), the token service down (5), Ctrl-C or SIGTERM while the token was fetched:
    the import ends with its summary (every count 0) and reports, as a run that stopped later does."""
    if isinstance(exc, CgError):
        result = ImportResult(ImportStats(), stopped_by=exc)
        message, code, hint = f"stopped: {exc.message}; nothing was sent", exc.exit_code, exc.hint
    else:
        signal_name = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
        result = ImportResult(ImportStats(), stop_signal=signal_name)
        what = _stopped_by_signal(signal_name)
        message, code, hint = f"{what} before the first row was sent", SIGNAL_EXIT_CODES[signal_name], None
    return ImportEnded(message, code, run_summary(result, request, None, None), hint=hint)


def progress_line(result: ImportResult) -> str:
    stats = result.stats
    earlier = ""
    if stats.skipped:
        earlier = f", {stats.skipped} skipped (done before: {stats.sent_earlier} sent, {stats.failed_earlier} failed)"
    if stats.unchanged:
        earlier += f", {stats.unchanged} unchanged"
    if stats.superseded:
        earlier += f", {stats.superseded} superseded (a later row has the same key)"
    if stats.not_sent:
        earlier += f", {stats.not_sent} not sent (the run stopped before their turn)"
    rate = f"{pace_words(stats)}{stats.rows_per_second:.0f} rows/s"
    return f"{stats.sent} sent, {stats.failed} failed{earlier}; {stats.elapsed:.1f} s, {rate}"


def _stopped_by_signal(signal_name: str) -> str:
    return "terminated" if signal_name == "SIGTERM" else "interrupted"


def _end_quietly(journal: Journal, state: RunState, reason: str = "") -> None:
    # If it cannot be written, the journal's state stays "running": described as a run that did not finish.
    with contextlib.suppress(JournalError):
        journal.end_run(state, reason)


def _close_state(state: StateStore) -> None:
    with contextlib.suppress(StateError):  # what was not committed is simply sent again next time
        state.close()


def _no_sender() -> Sender:
    raise AssertionError("a dry run sends nothing")
