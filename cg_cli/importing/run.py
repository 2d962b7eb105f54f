"""One `records import` run, from options to outcome: the journal and resume
rules, the failed file's lifecycle, and the exit code the run earns.

The command gathers options, builds an `ImportRequest`, calls `ImportRun.run`
and renders what it returns (or the `ImportEnded` it raises). Nothing here
prints: one-line notices go through the `notice` callback.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cg_cli.errors import CheckFailed, ExitCode, ImportEnded, UsageError
from cg_cli.importing.duplicates import DuplicateIndex, DuplicatePolicy, DuplicateReport
from cg_cli.importing.failed_file import FailedFile, default_failed_path
from cg_cli.importing.importer import MAX_KEPT_PROBLEMS, Importer, ImportResult, Progress, Sender, summary_json
from cg_cli.importing.journal import (
    FAILED,
    SENT,
    Journal,
    JournalError,
    RunState,
    default_journal_path,
    journal_fingerprint,
    remove_regular_file,
    row_digest,
)
from cg_cli.importing.outputs import FAILED_FILE, JOURNAL, JUNIT, RESULTS_FILE, STATE, Output, check_outputs
from cg_cli.importing.results_file import ResultsFile
from cg_cli.importing.state import StateError, StateStore
from cg_cli.records.checks import header_verdict
from cg_cli.records.mappings import Problem
from cg_cli.records.readers import ReadOptions, RecordFile

if TYPE_CHECKING:
    from cg_cli.config.targets import Target

SIGNAL_EXIT_CODES = {"SIGINT": ExitCode.INTERRUPTED, "SIGTERM": ExitCode.TERMINATED}


@dataclass(frozen=True)
class ImportRequest:
    file: str
    target: Target
    read: ReadOptions = field(default_factory=ReadOptions)
    check: bool = True  # --no-check turns the mapping checks off
    duplicates: DuplicatePolicy = DuplicatePolicy.ORDERED
    results_path: Path | None = None
    state_path: Path | None = None  # --state: skip records the service already holds unchanged
    full: bool = False  # --full: send every row anyway, still updating the state
    workers: int = 4
    rate: float | None = None
    failed_path: Path | None = None
    journal_path: Path | None = None
    resume: bool = False
    restart: bool = False
    dry_run: bool = False
    junit_path: Path | None = None  # written by the command; checked here with the other outputs


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
        if request.resume and request.restart:
            raise UsageError("give --resume or --restart, not both")
        if request.rate is not None and not (math.isfinite(request.rate) and request.rate > 0):
            raise UsageError(f"--rate must be a number of requests per second above 0, not {request.rate}")
        if request.file == "-" and request.duplicates != DuplicatePolicy.ORDERED:
            raise UsageError(
                f"--duplicates {request.duplicates} needs the whole file before sending; stdin cannot be read twice",
                hint="write the input to a file first, or use --duplicates ordered",
            )
        if request.full and request.state_path is None:
            raise UsageError("--full goes with --state PATH", hint="--full sends every row and still updates the state")
        with RecordFile(request.file, options=request.read) as records:
            self._check_header(records)
            self._refuse_shared_paths(records)
            if not request.dry_run:
                self._refuse_an_unfinished_journal()  # before the pre-flight reads a large file for nothing
            duplicates = self._preflight(records)
            state = (
                StateStore(request.state_path, request.target.reference, full=request.full)
                if request.state_path
                else None
            )
            try:
                if request.dry_run:
                    return self._dry_run(records, state)
                return self._import(records, duplicates, state)
            finally:
                if duplicates is not None:
                    duplicates.close()
                if state is not None:
                    with contextlib.suppress(StateError):  # what was not committed is simply sent again next time
                        state.close()

    def _preflight(self, records: RecordFile) -> DuplicateIndex | None:
        """One line on how the file is read and which identity keys repeat; refuse them if asked."""
        request = self.request
        if request.file == "-":
            self._notice(f"reading stdin: {records.described}")
            return None
        resuming = request.resume and not request.dry_run
        if resuming and self._journal_saw_this_input and request.duplicates == DuplicatePolicy.ORDERED:
            # The earlier run reported this file's keys already: a resume of a million rows needs no second scan.
            self._notice(f"reading {request.file}: {records.described}; unchanged since the journal was written")
            return None
        index = DuplicateIndex(request.target.mapping.type if request.target.mapping else None)
        with RecordFile(request.file, options=request.read) as again:
            report = index.build(again)
        self._duplicate_report = report
        what = "; rows sharing a key are sent in file order" if report.keys else ""
        if request.duplicates == DuplicatePolicy.LAST and report.keys:
            what = "; only the last row of each is sent"
        self._notice(f"reading {request.file}: {records.described}; {report.describe()}{what}")
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
        return index

    @property
    def _journal_path(self) -> Path:
        return self.request.journal_path or default_journal_path(self.request.file)

    def _failed_path(self, records: RecordFile) -> Path:
        return self.request.failed_path or default_failed_path(self.request.file, records.format)

    @functools.cached_property
    def _fingerprint(self) -> str | None:
        return input_fingerprint(self.request.file)

    @functools.cached_property
    def _journal_saw_this_input(self) -> bool:
        """The journal recorded this very file (asked before this run records its own fingerprint)."""
        seen = journal_fingerprint(self._journal_path)
        return seen is not None and seen == self._fingerprint

    def _check_header(self, records: RecordFile) -> None:
        """Refuse columns the mapping does not know (the typo guard); name what is left out, or sent unchecked."""
        mapping = self.request.target.mapping
        if mapping is not None and records.header is not None:
            for notice in header_verdict(mapping, records, f"the header of {_named(self.request.file)}",
                                         check=self.request.check):  # fmt: skip
                self._notice(notice)

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
        result = self._execute(self._importer_for(records, state=state))
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
        if stats.failed:
            raise ImportEnded(f"dry run of {_named(self.request.file)}: {line}", ExitCode.VALIDATION, summary)
        return ImportReport(f"Dry run of {_named(self.request.file)}: {line}.", summary)

    def _import(self, records: RecordFile, duplicates: DuplicateIndex | None, state: StateStore | None) -> ImportReport:
        request = self.request
        journal = Journal(self._journal_path, request.target.reference, durable_in_flight=request.target.sends_surveys)
        failed_path = self._failed_path(records)
        resuming = self._start_journal(journal)
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
            if resuming:
                self._say_what_changed(journal)
            journal.begin_run(self._fingerprint)
            importer = self._importer_for(
                records,
                journal=journal,
                failed=failed,
                resume=resuming,
                sends_surveys=request.target.sends_surveys,
                on_changed_input=self._changed_during_run if request.file == "-" else None,
                results=results,
                state=state,
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

    def _refuse_shared_paths(self, records: RecordFile) -> None:
        """Before anything is created, read twice or sent: every output can be opened, and none is the input."""
        request = self.request
        writes = not request.dry_run  # a dry run writes no journal or failed file
        outputs = [
            (JOURNAL, self._journal_path if writes else None),
            (FAILED_FILE, self._failed_path(records) if writes else None),
            (RESULTS_FILE, request.results_path),
            (STATE, request.state_path),
            (JUNIT, request.junit_path),
        ]
        check_outputs(request.file, [Output(role, path) for role, path in outputs if path is not None])

    def _refuse_an_unfinished_journal(self) -> None:
        """An earlier run's journal and neither --resume nor --restart: say how that run ended, and the choices."""
        request = self.request
        journal = Journal(self._journal_path, request.target.reference)
        if not journal.exists() or request.resume or request.restart:
            return
        try:
            journal.open(create=False)
            what = journal.describe()
        finally:
            journal.close()
        raise UsageError(
            f"journal {journal.path} exists: {what}",
            hint="pass --resume to send only the rows not yet accepted (rows that failed stay failed), "
            "or --restart to discard the journal and send every row",
        )

    def _start_journal(self, journal: Journal) -> bool:
        """Open the journal under the resume rules; True when this run resumes an earlier one."""
        request = self.request
        if journal.exists() and request.restart:
            journal.remove()
        existed = journal.exists()  # without --resume or --restart, run() has refused it already
        journal.open(create=True)
        return existed and request.resume

    def _say_what_changed(self, journal: Journal) -> None:
        """Before sending: how many journaled rows the input no longer holds as they were."""
        if self._fingerprint is None or self._journal_saw_this_input:
            return  # stdin cannot be read twice: a changed row is named when the run reaches it
        changed = count_changed_rows(journal, self.request.file, self.request.read)
        if changed:
            self._notice(
                f"{self.request.file} changed since the journal was written: {changed} journaled row(s) "
                "no longer match and are sent as new rows"
            )

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
        summary = {
            **summary_json(result),
            "failed_file": str(failed_path) if not_accepted else None,
            "journal": str(journal.path),
            "results_file": str(self.request.results_path) if self.request.results_path else None,
            "stopped_by": result.stopped_by.message if result.stopped_by else None,
            "first_failures": [{"row": r, "line": n, "error": e} for r, n, e in result.failures[:MAX_KEPT_PROBLEMS]],
        }
        if self._duplicate_report is not None:
            summary["duplicate_keys"] = self._duplicate_report.keys
        line = progress_line(result)
        ended = functools.partial(ImportEnded, summary=summary, failures=result.failures)  # failures: for CI reports
        resume_hint = f"rerun the same command with --resume to continue (journal {journal.path})"
        if result.stop_signal is not None:
            _end_quietly(journal, RunState.INTERRUPTED)
            what = "terminated" if result.stop_signal == "SIGTERM" else "interrupted"
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
        summary["journal"] = None
        return ImportReport(f"Imported {_named(self.request.file)}: {line}.", summary)


def progress_line(result: ImportResult) -> str:
    stats = result.stats
    earlier = ""
    if stats.skipped:
        earlier = f", {stats.skipped} skipped (done before: {stats.sent_earlier} sent, {stats.failed_earlier} failed)"
    if stats.unchanged:
        earlier += f", {stats.unchanged} unchanged"
    if stats.superseded:
        earlier += f", {stats.superseded} superseded (a later row has the same key)"
    return (
        f"{stats.sent} sent, {stats.failed} failed{earlier}; {stats.elapsed:.1f} s, {stats.rows_per_second:.0f} rows/s"
    )


def input_fingerprint(path: str) -> str | None:
    """Size, modification time and the first 64 KiB of a file: when it matches, the pre-pass is skipped."""
    if path == "-":
        return None
    try:
        info = os.stat(path)
        with open(path, "rb") as stream:
            head = hashlib.blake2b(stream.read(1 << 16), digest_size=16).hexdigest()
    except OSError:
        return None
    return f"{info.st_size}:{info.st_mtime_ns}:{head}"


def count_changed_rows(journal: Journal, path: str, read: ReadOptions) -> int:
    """Journaled final rows that the input no longer holds with the same content at the same row."""
    final = journal.count(SENT) + journal.count(FAILED)
    matched = 0
    with RecordFile(path, options=read) as records:
        for row in records:
            previous = journal.previous(row.number)
            if previous is not None and previous[1] in (SENT, FAILED) and previous[0] == row_digest(row):
                matched += 1
    return final - matched


def _end_quietly(journal: Journal, state: RunState, reason: str = "") -> None:
    # If it cannot be written, the journal's state stays "running": described as a run that did not finish.
    with contextlib.suppress(JournalError):
        journal.end_run(state, reason)


def _named(file: str) -> str:
    return "stdin" if file == "-" else file


def _no_sender() -> Sender:
    raise AssertionError("a dry run sends nothing")
