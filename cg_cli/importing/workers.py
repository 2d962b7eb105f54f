"""The worker threads of an import: each takes a job, sends its body, and hands back an outcome.
Workers only send (and, for survey mappings, durably mark a row in flight before it leaves)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable

from cg_cli.constants import API_BODY_LIMIT
from cg_cli.errors import ApiValidationError, AuthError, CgError, NetworkError
from cg_cli.importing import results_file as status
from cg_cli.importing.concurrency import Pace, ServiceFailing, Stopped
from cg_cli.importing.jobs import Job, Outcome
from cg_cli.importing.stats import ImportStats, Sender
from cg_cli.records.body import RecordBody


class Workers:
    def __init__(
        self,
        count: int | None,  # None: adaptive (`--workers auto`); else a ceiling
        *,
        reference: str,
        new_sender: Callable[[], Sender],
        stop: threading.Event,
        rate: float | None = None,
        leaving: Callable[[Job], None] | None = None,
    ) -> None:
        self.pace = Pace(count, rate)
        self.count = self.pace.workers if count != 0 else 0  # 0: a dry run sends nothing
        self._reference = reference
        self._new_sender = new_sender
        self._stop = stop
        self._leaving = leaving  # what must be on disk before a body leaves (the delivery model's marks)
        self._senders: list[Sender] = []  # every sender made; the idle ones wait in `_idle`, last used first
        self._idle: list[Sender] = []
        self._threads: list[threading.Thread] = []
        self.todo: queue.Queue[Job | None] = queue.Queue(maxsize=2 * max(self.count, 1))
        self.outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._work, name=f"cg-import-{n}", daemon=True) for n in range(self.count)
        ]
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        """Every job given has its outcome back: end the threads and close their connections."""
        for _ in self._threads:
            self.todo.put(None)
        for thread in self._threads:
            thread.join()
        for sender in self._senders:
            sender.close()

    def _work(self) -> None:
        while (job := self.todo.get()) is not None:
            try:
                outcome = self.send(job)
            except CgError as exc:  # the journal or state could not take its mark: the row did not leave
                outcome = Outcome(job, status.NOT_SENT, stop=exc)
            except Exception as exc:  # a bug must stop the run, not leave the reader waiting for this row
                error = CgError(f"internal error sending row {job.row.number}: {exc!r}")
                outcome = Outcome(job, status.NOT_SENT, stop=error)
            self.outcomes.put(outcome)

    def copy_pace(self, stats: ImportStats, final: bool) -> None:
        """The pace into the stats, for the progress line (without a lock) and, at the end, the summary."""
        pace = self.pace.figures(settled=final)
        stats.throttled, stats.in_flight, stats.level = pace.throttled, pace.in_flight, pace.level
        if final:
            stats.settled_at = pace.settled_at

    def _put(self, content_type: str, payload: bytes) -> None:
        """Send on an idle sender (its keep-alive connection), taken only once the row has its place in the
        pace: as many connections as requests were ever in flight, not one per worker thread."""
        try:
            sender = self._idle.pop()  # list.pop and append are atomic: no lock on the way of every row
        except IndexError:
            sender = self._new_sender()
            self._senders.append(sender)
        try:
            sender.put(content_type, payload)
        finally:
            self._idle.append(sender)

    def send(self, job: Job) -> Outcome:
        """One row, one request: what the answer means for the row (and whether the run must stop)."""
        if self._stop.is_set():
            return Outcome(job, status.NOT_SENT)
        body = RecordBody(self._reference, job.row.record)
        payload = body.encode()
        if len(payload) > API_BODY_LIMIT:
            size = f"{len(payload) / 1_000_000:.1f} MB"
            return Outcome(job, status.FAILED, f"the record is {size}; the API takes at most 2 MB: not sent")
        if self._leaving is not None:
            self._leaving(job)
        try:  # at the run's pace: throttled rows wait and go again; a failing service opens the breaker
            self.pace.send(lambda: self._put(body.content_type, payload), self._stop)
        except Stopped:
            return Outcome(job, status.NOT_SENT)
        except ApiValidationError as exc:
            return Outcome(job, status.FAILED, f"422 {exc.message} {json.dumps(exc.errors, ensure_ascii=False)}")
        except ServiceFailing as exc:
            return Outcome(job, status.NOT_SENT, stop=exc)
        except NetworkError as exc:  # this row failed for good (it may have arrived, a 4xx, every attempt failed)
            return Outcome(job, status.FAILED, exc.message, uncertain=exc.maybe_delivered)
        except AuthError as exc:
            return Outcome(job, status.NOT_SENT, stop=exc)
        return Outcome(job, status.SENT)
