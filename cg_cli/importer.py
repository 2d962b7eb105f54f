"""The bulk runner behind `records import`: many rows, a few workers, nothing lost.

Every row ends as sent, failed (failed file + journal) or not attempted
(resumable). Only the main thread touches the journal and the failed file;
workers only send.
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
from cg_cli.journal import FAILED, SENT, FailedFile, Journal
from cg_cli.mappings import Mapping, Problem, check_fields, check_values
from cg_cli.readers import Row
from cg_cli.records import RecordBody

MAX_KEPT_PROBLEMS = 20


class Sender(Protocol):
    def put(self, content_type: str, body: bytes) -> None: ...

    def close(self) -> None: ...


class Progress(Protocol):
    def update(self, stats: ImportStats) -> None: ...


@dataclass
class ImportStats:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    valid: int = 0  # dry run: rows that would be sent
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

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
    stopped_by: CgError | None = None  # the service stayed down, or credentials were refused
    interrupted: bool = False
    problems: list[Problem] = field(default_factory=list)  # the first few, for a dry run


class RateLimiter:
    """Spaces requests evenly so that all workers together stay under `per_second`."""

    def __init__(self, per_second: float | None) -> None:
        self._interval = 1.0 / per_second if per_second else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


@dataclass(frozen=True)
class _Outcome:
    row: Row
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
        journal: Journal | None,
        failed: FailedFile | None,
        workers: int = 4,
        rate: float | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self._rows = rows
        self._reference = reference
        self._mapping = mapping
        self._check_unknown_fields = check_unknown_fields
        self._new_sender = new_sender
        self._journal = journal
        self._failed = failed
        self._workers = workers
        self._limiter = RateLimiter(rate)
        self._dry_run = dry_run
        self._progress = progress
        self._stop = threading.Event()
        self._local = threading.local()
        self._senders: list[Sender] = []
        self._senders_lock = threading.Lock()
        self.result = ImportResult(ImportStats())

    def request_stop(self) -> None:
        """The first Ctrl-C: take no new rows, let the ones in flight finish."""
        self.result.interrupted = True
        self._stop.set()

    def run(self, done_before: set[int] | frozenset[int] = frozenset()) -> ImportResult:
        """Read rows on this thread, send them on the workers, record outcomes here."""
        stats = self.result.stats
        todo: queue.Queue[Row | None] = queue.Queue(maxsize=2 * self._workers)
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
                if row.number in done_before:
                    stats.skipped += 1
                    self._report()
                    continue
                problem = self._local_problem(row)
                if problem is not None:
                    self._finish(_Outcome(row, error=problem))
                elif self._dry_run:
                    stats.valid += 1
                    self._report()
                else:
                    while not self._stop.is_set():
                        try:
                            todo.put(row, timeout=0.2)
                        except queue.Full:
                            pending -= self._drain(outcomes, wait=True)
                        else:
                            pending += 1
                            break
                    pending -= self._drain(outcomes, wait=False)
        except BaseException as exc:  # the input broke off: journal what was sent, then raise
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
        stats.finished = time.monotonic()
        self._report()
        if failure is not None:
            raise failure
        return self.result

    def _work(self, todo: queue.Queue[Row | None], outcomes: queue.SimpleQueue[_Outcome]) -> None:
        while (row := todo.get()) is not None:
            try:
                outcome = self._send(row)
            except Exception as exc:  # a bug must stop the run, not leave the reader waiting for this row
                outcome = _Outcome(row, stop=CgError(f"internal error sending row {row.number}: {exc!r}"))
            outcomes.put(outcome)

    def _drain(self, outcomes: queue.SimpleQueue[_Outcome], *, wait: bool) -> int:
        """Record the outcomes that are ready (waiting briefly for one if asked); how many."""
        count = 0
        while True:
            try:
                outcome = outcomes.get(block=wait and count == 0, timeout=0.2)
            except queue.Empty:
                if self._journal is not None:
                    self._journal.sync_if_due()  # rows journaled before a lull still reach the disk
                return count
            self._finish(outcome)
            count += 1

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
        stats = self.result.stats
        if outcome.unattempted:
            return
        if outcome.stop is not None:
            if self.result.stopped_by is None:
                self.result.stopped_by = outcome.stop
            self._stop.set()
        elif outcome.error is not None:
            stats.failed += 1
            if self._failed is not None:
                self._failed.write(outcome.row, outcome.error)
            if self._journal is not None:
                self._journal.record(outcome.row.number, FAILED)
        else:
            stats.sent += 1
            if self._journal is not None:
                self._journal.record(outcome.row.number, SENT)
        self._report()

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

    def _send(self, row: Row) -> _Outcome:
        if self._stop.is_set():
            return _Outcome(row, unattempted=True)
        body = RecordBody(self._reference, row.record)
        self._limiter.wait()
        try:
            self._sender().put(body.content_type, body.encode())
        except ApiValidationError as exc:
            return _Outcome(row, error=f"422 {exc.message} {json.dumps(exc.errors, ensure_ascii=False)}")
        except NetworkError as exc:
            if exc.maybe_delivered or (exc.status is not None and 400 <= exc.status < 500 and exc.status != 429):
                return _Outcome(row, error=exc.message)
            return _Outcome(row, stop=exc)
        except AuthError as exc:
            return _Outcome(row, stop=exc)
        return _Outcome(row)


def summary_json(result: ImportResult, *, failed_path: str | None, journal_path: str | None) -> dict[str, Any]:
    stats = result.stats
    return {
        "ok": stats.failed == 0 and result.stopped_by is None and not result.interrupted,
        "sent": stats.sent,
        "failed": stats.failed,
        "skipped": stats.skipped,
        "would_send": stats.valid,
        "elapsed_seconds": round(stats.elapsed, 3),
        "rows_per_second": round(stats.rows_per_second, 1),
        "failed_file": failed_path,
        "journal": journal_path,
        "interrupted": result.interrupted,
        "stopped_by": result.stopped_by.message if result.stopped_by else None,
        "problems": [p.as_json() for p in result.problems],
    }
