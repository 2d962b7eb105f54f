"""Where each row's outcome is written for the user: the counts, the failed file and the results file,
in input order (the order a user reads them in). The journal and the state take outcomes as they
arrive instead (`delivery.py`)."""

from __future__ import annotations

from collections.abc import Callable

from cg_cli.errors import CgError
from cg_cli.importing import results_file as status
from cg_cli.importing.failed_file import FailedFile
from cg_cli.importing.jobs import VALID, Outcome
from cg_cli.importing.results_file import ResultsFile
from cg_cli.importing.stats import ImportResult, Progress

MAX_KEPT_PROBLEMS = 20
MAX_KEPT_FAILURES = 1000  # failed rows kept for the CI reports (a JUnit case each); the JSON shows the first 20
MAX_KEPT_ERROR = 4000  # characters of each error past the first 20: a hostile server's 1 MiB answers stay out of memory


class OutcomeRecorder:
    """Takes outcomes in any order, records them in input order. Never raises a CgError: a file that
    cannot be written goes to `stop_with`, and the run stops."""

    def __init__(
        self,
        result: ImportResult,
        *,
        stop_with: Callable[[CgError], None],
        failed: FailedFile | None = None,
        results: ResultsFile | None = None,
        progress: Progress | None = None,
        pace: Callable[[bool], None] | None = None,
    ) -> None:
        self.result = result
        self._pace = pace  # copies the run's pace (level, throttled) into the stats; True: the final figures
        self._stop_with = stop_with
        self._failed = failed
        self._results = results
        self._progress = progress
        self._done: dict[int, Outcome] = {}  # outcomes waiting for an earlier row's, to be recorded in order
        self._next_row = 1

    @property
    def waiting(self) -> int:
        return len(self._done)

    def finish(self, outcome: Outcome) -> None:
        number = outcome.job.row.number
        if number == self._next_row and not self._done:  # the common case: nothing waits, record it now
            self._next_row += 1
            self._record_reporting(outcome)
            return
        self._done[number] = outcome
        self.flush()

    def flush(self, *, final: bool = False) -> None:
        while self._done:
            outcome = self._done.pop(self._next_row, None)
            if outcome is None:
                if not final:
                    return
                self._next_row = min(self._done)  # only after a bug or a broken input: record the rest
                continue
            self._next_row += 1
            self._record_reporting(outcome)

    def report(self, *, final: bool = False) -> None:
        if self._pace is not None:
            self._pace(final)
        if self._progress is not None:
            self._progress.update(self.result.stats)

    def _record_reporting(self, outcome: Outcome) -> None:
        try:
            self._record(outcome)
        except CgError as exc:  # a failed or results file that cannot be written
            self._stop_with(exc)
        self.report()

    def _record(self, outcome: Outcome) -> None:
        stats, job = self.result.stats, outcome.job
        number = job.row.number
        kind = outcome.status
        if outcome.stop is not None:
            self._stop_with(outcome.stop)
            kind = status.NOT_SENT
        if kind == status.FAILED:
            if self._failed is not None:
                self._failed.write(job.row, outcome.error or "")
            stats.failed += 1
            if outcome.uncertain:  # a survey row: its answer was lost now, or an earlier run could not tell
                stats.maybe_arrived += 1
            if len(self.result.failures) < MAX_KEPT_FAILURES:
                kept = (outcome.error or "")[
                    : None if len(self.result.failures) < MAX_KEPT_PROBLEMS else MAX_KEPT_ERROR
                ]
                self.result.failures.append((number, job.row.line, kept))
        elif kind == status.SENT:
            stats.sent += 1
        elif kind == status.SKIPPED:
            if outcome.error == "sent earlier":
                stats.sent_earlier += 1
            else:
                stats.failed_earlier += 1
        elif kind == status.UNCHANGED:
            stats.unchanged += 1
        elif kind == status.SUPERSEDED:
            stats.superseded += 1
        elif kind == status.NOT_SENT:
            stats.not_sent += 1
        elif kind == VALID:
            stats.valid += 1
        if self._results is not None and kind != VALID:
            self._results.write(number, kind, outcome.error)
