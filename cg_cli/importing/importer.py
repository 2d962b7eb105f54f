"""The bulk runner behind `records import`: many rows, a few workers, nothing lost.

Every row ends as sent, failed (failed file + journal), skipped (done before,
unchanged, superseded) or not attempted (resumable). The main thread reads rows,
keeps rows that share an identity key in file order (one in flight at a time),
and records outcomes in input order; workers only send (and, for survey
mappings, durably mark a row in flight before its request leaves).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cg_cli.constants import API_BODY_LIMIT
from cg_cli.errors import ApiValidationError, AuthError, CgError, NetworkError
from cg_cli.importing import results_file as status
from cg_cli.importing.failed_file import FailedFile
from cg_cli.importing.journal import FAILED, IN_FLIGHT, SENT, Journal, row_digest
from cg_cli.importing.results_file import ResultsFile
from cg_cli.importing.stats import ImportResult, ImportStats, Progress, RateLimiter, Sender, State, summary_json
from cg_cli.records.body import RecordBody
from cg_cli.records.mappings import Mapping, check_fields, check_values, identity_keys
from cg_cli.records.readers import Row

MAX_KEPT_PROBLEMS = 20
MAX_KEPT_FAILURES = 1000  # failed rows kept for the CI reports (a JUnit case each); the JSON shows the first 20
MAX_KEPT_ERROR = 4000  # characters of each error past the first 20: a hostile server's 1 MiB answers stay out of memory
MAYBE_ARRIVED = (
    "may have arrived: the run was killed while this survey row was in flight; "
    "check in CustomerGauge before you send it again"
)
__all__ = ["ImportResult", "ImportStats", "Importer", "Progress", "Sender", "State", "summary_json"]


@dataclass(frozen=True)
class _Job:
    row: Row
    digest: bytes
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Outcome:
    job: _Job
    status: str  # results_file: sent, failed, skipped, unchanged, superseded, not-sent; or "valid" (dry run)
    error: str | None = None
    stop: CgError | None = None  # the run must stop (the service is down, credentials refused)


VALID = "valid"


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
        results: ResultsFile | None = None,
        resume: bool = False,
        sends_surveys: bool = False,
        superseded: Callable[[int], bool] | None = None,
        state: State | None = None,
        workers: int = 4,
        rate: float | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
        on_changed_input: Callable[[int], None] | None = None,
    ) -> None:
        self._rows = rows
        self._reference = reference
        self._mapping = mapping
        self._mapping_type = mapping.type if mapping is not None else None
        self._check_unknown_fields = check_unknown_fields
        self._new_sender = new_sender
        self._journal = journal
        self._failed = failed
        self._results = results
        self._resume = resume and journal is not None
        # Survey rows are marked in flight before they leave: at most once, even across a hard kill.
        self._mark_in_flight = sends_surveys and journal is not None and not dry_run
        self._superseded = superseded
        self._state = state
        self._workers = workers
        self._limiter = RateLimiter(rate)
        self._dry_run = dry_run
        self._progress = progress
        self._on_changed_input = on_changed_input
        self._stop = threading.Event()
        self._local = threading.local()
        self._senders: list[Sender] = []
        self._senders_lock = threading.Lock()
        self._todo: queue.Queue[_Job | None] = queue.Queue(maxsize=2 * workers)
        self._outcomes: queue.SimpleQueue[_Outcome] = queue.SimpleQueue()
        self._pending = 0  # jobs given to the workers, outcome not yet back
        self._busy: Counter[str] = Counter()  # identity keys with a row in flight
        self._blocked: deque[_Job] = deque()  # rows waiting for an earlier row with the same key
        self._blocked_keys: Counter[str] = Counter()
        self._ready: deque[_Job] = deque()  # released from `_blocked`, to be given to the workers
        self._done: dict[int, _Outcome] = {}  # outcomes waiting for an earlier row's, to be recorded in order
        self._next_row = 1
        self._room = 64 * workers + 256  # rows held back (blocked or out of order) before reading pauses
        self.result = ImportResult(ImportStats())

    def request_stop(self, signal_name: str = "SIGINT") -> None:
        """A first Ctrl-C or SIGTERM: take no new rows, let the ones in flight finish.

        Only sets flags: it runs in a signal handler, between any two lines of the main thread.
        """
        if self.result.stop_signal is None:
            self.result.stop_signal = signal_name
        self._stop.set()

    # -- the main thread -----------------------------------------------------------

    def run(self) -> ImportResult:
        """Read rows on this thread, send them on the workers, record outcomes here, in input order."""
        workers = [
            threading.Thread(target=self._work, name=f"cg-import-{n}", daemon=True)
            for n in range(self._workers if not self._dry_run else 0)
        ]
        for worker in workers:
            worker.start()
        failure: BaseException | None = None
        try:
            for row in self._rows:
                if self._stop.is_set():
                    break
                self._take(row)
                self._push_ready()
                while len(self._blocked) + len(self._done) > self._room and not self._stop.is_set():
                    self._drain(wait=True)
                    self._push_ready()
        except BaseException as exc:  # the input broke off (or a bug): record what was sent, then raise
            failure = exc
            self._stop.set()
        while self._pending or self._blocked or self._ready:
            if self._stop.is_set():
                self._give_up_waiting_rows()
            self._push_ready()
            if self._pending:
                self._drain(wait=True)
        for _ in workers:
            self._todo.put(None)
        for worker in workers:
            worker.join()
        for sender in self._senders:
            sender.close()
        self._flush_in_order(final=True)
        self.result.stats.finished = time.monotonic()
        self._report()
        if failure is not None:
            raise failure
        return self.result

    def _take(self, row: Row) -> None:
        job = self._job(row)
        if job is None:
            return
        problem = self._local_problem(row)
        if problem is not None:
            self._finish(_Outcome(job, status.FAILED, problem))
        elif self._superseded is not None and self._superseded(row.number):
            self._finish(_Outcome(job, status.SUPERSEDED, "a later row has the same identity key"))
        elif any(self._busy[k] or self._blocked_keys[k] for k in job.keys):
            self._blocked.append(job)  # an earlier row with this key is on its way: this one waits its turn
            self._blocked_keys.update(job.keys)
        else:
            self._dispatch(job)

    def _dispatch(self, job: _Job) -> None:
        """A row whose turn it is: unchanged since the last accepted push, or on its way to a worker.

        Asked only now, when every earlier row with its key has finished (and been remembered)."""
        if self._state is not None and job.keys and self._state.unchanged(job.keys[0], job.digest):
            self._finish(_Outcome(job, status.UNCHANGED))
        elif self._dry_run:
            self._finish(_Outcome(job, VALID))
        else:
            self._busy.update(job.keys)
            self._ready.append(job)

    def _job(self, row: Row) -> _Job | None:
        """The row with its digest and keys; None when an earlier run brought it to a final state."""
        journal = self._journal
        if journal is None and self._state is None:
            return _Job(row, b"", self._keys(row))
        digest = row_digest(row)
        previous = journal.previous(row.number) if self._resume and journal is not None else None
        if previous is None:
            return _Job(row, digest, self._keys(row))
        job = _Job(row, digest)  # done before, or changed: its keys are needed only if it is sent
        previous_digest, earlier = previous
        if previous_digest != digest:
            job = _Job(row, digest, self._keys(row))
            self.result.stats.changed += 1
            if self.result.stats.changed == 1 and self._on_changed_input is not None:
                self._on_changed_input(row.number)
            return job
        if earlier == IN_FLIGHT:
            # In flight when a run was killed: it may have arrived. Report it; never send it twice.
            self.result.stats.maybe_arrived += 1
            self._finish(_Outcome(job, status.FAILED, MAYBE_ARRIVED))
        else:
            self._finish(_Outcome(job, status.SKIPPED, "sent earlier" if earlier == SENT else "failed earlier"))
        return None

    def _keys(self, row: Row) -> tuple[str, ...]:
        return identity_keys(self._mapping_type, row.record) if row.error is None else ()

    def _push_ready(self) -> None:
        """Give released rows to the workers; while the queue is full, record outcomes instead."""
        while self._ready and not self._stop.is_set():
            try:
                self._todo.put(self._ready[0], timeout=0.2)
            except queue.Full:
                self._drain(wait=True)
            else:
                self._ready.popleft()
                self._pending += 1
                self._drain(wait=False)

    def _drain(self, *, wait: bool) -> None:
        """Take the outcomes that are ready (waiting briefly for one if asked)."""
        count = 0
        while True:
            try:
                outcome = self._outcomes.get(block=wait and count == 0, timeout=0.2)
            except queue.Empty:
                break
            self._pending -= 1
            _release(self._busy, outcome.job.keys)
            if outcome.status == status.SENT and self._state is not None and outcome.job.keys:
                self._remember(outcome.job)
            self._finish(outcome)
            count += 1
        if count:
            self._release_blocked()
        self._commit(now=count > 0)

    def _release_blocked(self) -> None:
        """Rows whose keys are free again move on, in file order; a row still blocked holds its keys."""
        claimed: set[str] = set()
        still: deque[_Job] = deque()
        for job in self._blocked:
            if any(self._busy[k] for k in job.keys) or claimed.intersection(job.keys):
                claimed.update(job.keys)
                still.append(job)
            else:
                _release(self._blocked_keys, job.keys)
                self._dispatch(job)
        self._blocked = still

    def _give_up_waiting_rows(self) -> None:
        """Stopping: rows not yet given to a worker are not sent (resumable)."""
        for job in (*self._blocked, *self._ready):
            self._finish(_Outcome(job, status.NOT_SENT))
        for job in self._ready:
            _release(self._busy, job.keys)
        self._blocked.clear()
        self._blocked_keys.clear()
        self._ready.clear()

    def _remember(self, job: _Job) -> None:
        """Accepted (200): the state may now say the service holds this record. Never before."""
        assert self._state is not None
        try:
            self._state.remember(job.keys[0], job.digest)
        except CgError as exc:
            self._stop_with(exc)

    def _commit(self, *, now: bool) -> None:
        """Outcomes reach the journal's file as soon as they are known: a kill then loses only rows in flight."""
        try:
            if self._state is not None and now:
                self._state.commit()
            if self._results is not None and now:
                self._results.flush()
            if self._journal is not None:
                self._journal.commit() if now else self._journal.commit_if_due()
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

    # -- recording, in input order ------------------------------------------------------

    def _finish(self, outcome: _Outcome) -> None:
        number = outcome.job.row.number
        if number == self._next_row and not self._done:  # the common case: nothing waits, record it now
            self._next_row += 1
            self._record_reporting(outcome)
            return
        self._done[number] = outcome
        self._flush_in_order()

    def _flush_in_order(self, *, final: bool = False) -> None:
        while self._done:
            outcome = self._done.pop(self._next_row, None)
            if outcome is None:
                if not final:
                    return
                self._next_row = min(self._done)  # only after a bug or a broken input: record the rest
                continue
            self._next_row += 1
            self._record_reporting(outcome)

    def _record_reporting(self, outcome: _Outcome) -> None:
        try:
            self._record(outcome)
        except CgError as exc:  # a journal, failed or results file that cannot be written
            self._stop_with(exc)
        self._report()

    def _record(self, outcome: _Outcome) -> None:
        stats, journal, job = self.result.stats, self._journal, outcome.job
        number = job.row.number
        kind = outcome.status
        if outcome.stop is not None:
            self._stop_with(outcome.stop)
            kind = status.NOT_SENT
        if kind == status.NOT_SENT:
            if self._mark_in_flight and journal is not None:
                journal.forget(number)  # it never left: a resume sends it
        elif kind == status.FAILED:
            if self._failed is not None:
                self._failed.write(job.row, outcome.error or "")
            stats.failed += 1
            if len(self.result.failures) < MAX_KEPT_FAILURES:
                kept = (outcome.error or "")[
                    : None if len(self.result.failures) < MAX_KEPT_PROBLEMS else MAX_KEPT_ERROR
                ]
                self.result.failures.append((number, job.row.line, kept))
            if journal is not None and not self._dry_run:
                journal.record(number, job.digest, FAILED)
        elif kind == status.SENT:
            stats.sent += 1
            if journal is not None:
                journal.record(number, job.digest, SENT)
        elif kind == status.SKIPPED:
            if outcome.error == "sent earlier":
                stats.sent_earlier += 1
            else:
                stats.failed_earlier += 1
        elif kind == status.UNCHANGED:
            stats.unchanged += 1
        elif kind == status.SUPERSEDED:
            stats.superseded += 1
        elif kind == VALID:
            stats.valid += 1
        if self._results is not None and kind != VALID:
            self._results.write(number, kind, outcome.error)

    def _stop_with(self, error: CgError) -> None:
        if self.result.stopped_by is None:
            self.result.stopped_by = error
        self._stop.set()

    def _report(self) -> None:
        if self._progress is not None:
            self._progress.update(self.result.stats)

    # -- the workers ------------------------------------------------------------------------

    def _work(self) -> None:
        while (job := self._todo.get()) is not None:
            try:
                outcome = self._send(job)
            except CgError as exc:  # the journal could not take the in-flight mark: the row did not leave
                outcome = _Outcome(job, status.NOT_SENT, stop=exc)
            except Exception as exc:  # a bug must stop the run, not leave the reader waiting for this row
                error = CgError(f"internal error sending row {job.row.number}: {exc!r}")
                outcome = _Outcome(job, status.NOT_SENT, stop=error)
            self._outcomes.put(outcome)

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
            return _Outcome(job, status.NOT_SENT)
        body = RecordBody(self._reference, job.row.record)
        payload = body.encode()
        if len(payload) > API_BODY_LIMIT:
            size = f"{len(payload) / 1_000_000:.1f} MB"
            return _Outcome(job, status.FAILED, f"the record is {size}; the API takes at most 2 MB: not sent")
        if self._mark_in_flight:
            assert self._journal is not None
            self._journal.mark_in_flight(job.row.number, job.digest)
        try:
            self._sender().put(body.content_type, payload)
        except ApiValidationError as exc:
            return _Outcome(job, status.FAILED, f"422 {exc.message} {json.dumps(exc.errors, ensure_ascii=False)}")
        except NetworkError as exc:
            if exc.maybe_delivered or (exc.status is not None and 400 <= exc.status < 500 and exc.status != 429):
                return _Outcome(job, status.FAILED, exc.message)
            return _Outcome(job, status.NOT_SENT, stop=exc)
        except AuthError as exc:
            return _Outcome(job, status.NOT_SENT, stop=exc)
        return _Outcome(job, status.SENT)


def _release(counts: Counter[str], keys: tuple[str, ...]) -> None:
    """One row fewer holds `keys`; a key no row holds leaves the counter (Counter.subtract keeps zeros,
    which would grow by one entry per key of the file)."""
    for key in keys:
        if counts[key] <= 1:
            del counts[key]
        else:
            counts[key] -= 1
