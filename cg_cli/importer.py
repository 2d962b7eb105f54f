"""The bulk runner behind `records import`: many rows, a few workers, nothing lost.

Every row ends as sent, failed (failed file + journal) or not attempted
(resumable). The main thread reads rows and records outcomes in the journal
and the failed file; workers only send (and, for survey mappings, durably
mark a row in flight before its request leaves).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cg_cli.errors import ApiValidationError, AuthError, CgError, NetworkError
from cg_cli.failed_file import FailedFile
from cg_cli.journal import FAILED, IN_FLIGHT, SENT, Journal, row_digest
from cg_cli.mappings import Mapping, Problem, check_fields, check_values
from cg_cli.readers import Row
from cg_cli.records import RecordBody

MAX_KEPT_PROBLEMS = 20
MAYBE_ARRIVED = (
    "may have arrived: the run was killed while this survey row was in flight; "
    "check in CustomerGauge before you send it again"
)


class Sender(Protocol):
    def put(self, content_type: str, body: bytes) -> None: ...

    def close(self) -> None: ...


class Progress(Protocol):
    def update(self, stats: ImportStats) -> None: ...

    def close(self) -> None: ...


@dataclass
class ImportStats:
    sent: int = 0
    failed: int = 0
    sent_earlier: int = 0  # --resume: accepted by an earlier run, skipped
    failed_earlier: int = 0  # --resume: failed for good in an earlier run, skipped (still not accepted)
    valid: int = 0  # dry run: rows that would be sent
    changed: int = 0  # --resume: journaled rows whose content no longer matches (sent as new)
    maybe_arrived: int = 0  # --resume: survey rows in flight when a run was killed; reported, not sent
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def skipped(self) -> int:
        return self.sent_earlier + self.failed_earlier

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped + self.valid

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def rows_per_second(self) -> float:
        return (self.sent + self.failed + self.valid) / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class ImportResult:
    stats: ImportStats
    stopped_by: CgError | None = None  # the service stayed down, credentials were refused, a disk filled
    stop_signal: str | None = None  # "SIGINT" or "SIGTERM": stopped on request, resumable
    problems: list[Problem] = field(default_factory=list)  # the first few, for a dry run

    @property
    def interrupted(self) -> bool:
        return self.stop_signal is not None

    @property
    def complete(self) -> bool:
        """Every row of the input was read and reached a final state (in this run or an earlier one)."""
        return self.stopped_by is None and self.stop_signal is None


class RateLimiter:
    """Spaces requests evenly so that all workers together stay under `per_second`."""

    def __init__(self, per_second: float | None) -> None:
        self._interval = 1.0 / per_second if per_second else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event) -> bool:
        """Wait for this request's slot; False when the run was stopped meanwhile."""
        if not self._interval:
            return not stop.is_set()
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + self._interval
        if slot > now and stop.wait(slot - now):
            return False
        return not stop.is_set()


@dataclass(frozen=True)
class _Job:
    row: Row
    digest: bytes


@dataclass(frozen=True)
class _Outcome:
    job: _Job
    error: str | None = None  # the row failed for good
    stop: CgError | None = None  # the run must stop; the row stays unattempted
    unattempted: bool = False  # never sent: the run was stopping when its turn came


class Importer:
    def __init__(
        self,
        rows: Iterable[Row],
        *,
        reference: str,
        mapping: Mapping | None,
        check_unknown_fields: bool,
        new_sender: Callable[[], Sender],
        journal: Journal | None = None,
        failed: FailedFile | None = None,
        resume: bool = False,
        sends_surveys: bool = False,
        workers: int = 4,
        rate: float | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
        on_changed_input: Callable[[int], None] | None = None,
    ) -> None:
        self._rows = rows
        self._reference = reference
        self._mapping = mapping
        self._check_unknown_fields = check_unknown_fields
        self._new_sender = new_sender
        self._journal = journal
        self._failed = failed
        self._resume = resume and journal is not None
        # Survey rows are marked in flight before they leave: at most once, even across a hard kill.
        self._mark_in_flight = sends_surveys and journal is not None and not dry_run
        self._workers = workers
        self._limiter = RateLimiter(rate)
        self._dry_run = dry_run
        self._progress = progress
        self._on_changed_input = on_changed_input
        self._stop = threading.Event()
        self._local = threading.local()
        self._senders: list[Sender] = []
        self._senders_lock = threading.Lock()
        self.result = ImportResult(ImportStats())

    def request_stop(self, signal_name: str = "SIGINT") -> None:
        """A first Ctrl-C or SIGTERM: take no new rows, let the ones in flight finish.

        Only sets flags: it runs in a signal handler, between any two lines of the main thread.
        """
        if self.result.stop_signal is None:
            self.result.stop_signal = signal_name
        self._stop.set()

    def run(self) -> ImportResult:
        """Read rows on this thread, send them on the workers, record outcomes here."""
        todo: queue.Queue[_Job | None] = queue.Queue(maxsize=2 * self._workers)
        outcomes: queue.SimpleQueue[_Outcome] = queue.SimpleQueue()
        workers = [
            threading.Thread(target=self._work, args=(todo, outcomes), name=f"cg-import-{n}", daemon=True)
            for n in range(self._workers if not self._dry_run else 0)
        ]
        for worker in workers:
            worker.start()
        pending = 0
        failure: BaseException | None = None
        try:
            for row in self._rows:
                if self._stop.is_set():
                    break
                job = self._job(row)
                if job is None:
                    continue
                problem = self._local_problem(row)
                if problem is not None:
                    self._finish(_Outcome(job, error=problem))
                elif self._dry_run:
                    self.result.stats.valid += 1
                    self._report()
                else:
                    while not self._stop.is_set():
                        try:
                            todo.put(job, timeout=0.2)
                        except queue.Full:
                            pending -= self._drain(outcomes, wait=True)
                        else:
                            pending += 1
                            break
                    pending -= self._drain(outcomes, wait=False)
        except BaseException as exc:  # the input broke off (or a bug): record what was sent, then raise
            failure = exc
            self._stop.set()
        for _ in workers:
            todo.put(None)
        while pending:
            pending -= self._drain(outcomes, wait=True)
        for worker in workers:
            worker.join()
        for sender in self._senders:
            sender.close()
        self.result.stats.finished = time.monotonic()
        self._report()
        if failure is not None:
            raise failure
        return self.result

    def _job(self, row: Row) -> _Job | None:
        """The row with its digest; None when an earlier run already brought it to a final state."""
        journal = self._journal
        if journal is None:
            return _Job(row, b"")
        digest = row_digest(row)
        if not self._resume:
            return _Job(row, digest)
        previous = journal.previous(row.number)
        if previous is None:
            return _Job(row, digest)
        stats = self.result.stats
        previous_digest, status = previous
        if previous_digest != digest:
            stats.changed += 1
            if stats.changed == 1 and self._on_changed_input is not None:
                self._on_changed_input(row.number)
            return _Job(row, digest)
        if status == SENT:
            stats.sent_earlier += 1
        elif status == FAILED:
            stats.failed_earlier += 1
        elif status == IN_FLIGHT:
            # In flight when a run was killed: it may have arrived. Report it; never send it twice.
            stats.maybe_arrived += 1
            self._finish(_Outcome(_Job(row, digest), error=MAYBE_ARRIVED))
            return None
        self._report()
        return None

    def _work(self, todo: queue.Queue[_Job | None], outcomes: queue.SimpleQueue[_Outcome]) -> None:
        while (job := todo.get()) is not None:
            try:
                outcome = self._send(job)
            except CgError as exc:  # the journal could not take the in-flight mark: the row did not leave
                outcome = _Outcome(job, stop=exc, unattempted=True)
            except Exception as exc:  # a bug must stop the run, not leave the reader waiting for this row
                outcome = _Outcome(job, stop=CgError(f"internal error sending row {job.row.number}: {exc!r}"))
            outcomes.put(outcome)

    def _drain(self, outcomes: queue.SimpleQueue[_Outcome], *, wait: bool) -> int:
        """Record the outcomes that are ready (waiting briefly for one if asked); how many."""
        count = 0
        while True:
            try:
                outcome = outcomes.get(block=wait and count == 0, timeout=0.2)
            except queue.Empty:
                self._commit(now=count > 0)
                return count
            self._finish(outcome)
            count += 1

    def _commit(self, *, now: bool) -> None:
        """Outcomes reach the journal's file as soon as they are known: a kill then loses only rows in flight."""
        if self._journal is None:
            return
        try:
            if now:
                self._journal.commit()
            else:
                self._journal.commit_if_due()
        except CgError as exc:
            self._stop_with(exc)

    def _local_problem(self, row: Row) -> str | None:
        if row.error is not None:
            return row.error
        problems = check_values(self._mapping, row.record, row.number)
        if self._check_unknown_fields and self._mapping is not None:
            problems = check_fields(self._mapping, row.record, row.number) + problems
        if not problems:
            return None
        if len(self.result.problems) < MAX_KEPT_PROBLEMS:
            self.result.problems.extend(problems[: MAX_KEPT_PROBLEMS - len(self.result.problems)])
        return "; ".join(f"{p.field}: {p.problem}" if p.field else p.problem for p in problems)

    def _finish(self, outcome: _Outcome) -> None:
        """Record one outcome; a journal or failed file that cannot be written stops the run cleanly."""
        try:
            self._record(outcome)
        except CgError as exc:
            self._stop_with(exc)
        self._report()

    def _record(self, outcome: _Outcome) -> None:
        stats, journal, job = self.result.stats, self._journal, outcome.job
        if outcome.stop is not None or outcome.unattempted:
            if outcome.stop is not None:
                self._stop_with(outcome.stop)
            if self._mark_in_flight and journal is not None:
                journal.forget(job.row.number)  # it never left: a resume sends it
            return
        if outcome.error is not None:
            if self._failed is not None:
                self._failed.write(job.row, outcome.error)
            stats.failed += 1
            status = FAILED
        else:
            stats.sent += 1
            status = SENT
        if journal is not None and not self._dry_run:
            journal.record(job.row.number, job.digest, status)

    def _stop_with(self, error: CgError) -> None:
        if self.result.stopped_by is None:
            self.result.stopped_by = error
        self._stop.set()

    def _report(self) -> None:
        if self._progress is not None:
            self._progress.update(self.result.stats)

    def _sender(self) -> Sender:
        sender: Sender | None = getattr(self._local, "sender", None)
        if sender is None:
            sender = self._new_sender()
            self._local.sender = sender
            with self._senders_lock:
                self._senders.append(sender)
        return sender

    def _send(self, job: _Job) -> _Outcome:
        if not self._limiter.wait(self._stop):
            return _Outcome(job, unattempted=True)
        body = RecordBody(self._reference, job.row.record)
        payload = body.encode()
        if self._mark_in_flight:
            assert self._journal is not None
            self._journal.mark_in_flight(job.row.number, job.digest)
        try:
            self._sender().put(body.content_type, payload)
        except ApiValidationError as exc:
            return _Outcome(job, error=f"422 {exc.message} {json.dumps(exc.errors, ensure_ascii=False)}")
        except NetworkError as exc:
            if exc.maybe_delivered or (exc.status is not None and 400 <= exc.status < 500 and exc.status != 429):
                return _Outcome(job, error=exc.message)
            return _Outcome(job, stop=exc)
        except AuthError as exc:
            return _Outcome(job, stop=exc)
        return _Outcome(job)


def summary_json(result: ImportResult) -> dict[str, Any]:
    """The counts of a run, as the JSON summary and the job summary show them."""
    stats = result.stats
    return {
        "sent": stats.sent,
        "failed": stats.failed,
        "skipped": stats.skipped,
        "sent_earlier": stats.sent_earlier,
        "failed_earlier": stats.failed_earlier,
        "changed_since_journal": stats.changed,
        "maybe_arrived": stats.maybe_arrived,
        "elapsed_seconds": round(stats.elapsed, 3),
        "rows_per_second": round(stats.rows_per_second, 1),
        "interrupted": result.interrupted,
    }
