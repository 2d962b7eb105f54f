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
from cg_cli.importing.jobs import Job, Outcome
from cg_cli.importing.stats import RateLimiter, Sender
from cg_cli.records.body import RecordBody


class Workers:
    def __init__(
        self,
        count: int,
        *,
        reference: str,
        new_sender: Callable[[], Sender],
        stop: threading.Event,
        rate: float | None = None,
        leaving: Callable[[Job], None] | None = None,
    ) -> None:
        self._count = count
        self._reference = reference
        self._new_sender = new_sender
        self._stop = stop
        self._limiter = RateLimiter(rate)
        self._leaving = leaving  # what must be on disk before a body leaves (the delivery model's marks)
        self._local = threading.local()
        self._senders: list[Sender] = []
        self._senders_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.todo: queue.Queue[Job | None] = queue.Queue(maxsize=2 * max(count, 1))
        self.outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._work, name=f"cg-import-{n}", daemon=True) for n in range(self._count)
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

    def _sender(self) -> Sender:
        sender: Sender | None = getattr(self._local, "sender", None)
        if sender is None:
            sender = self._new_sender()
            self._local.sender = sender
            with self._senders_lock:
                self._senders.append(sender)
        return sender

    def send(self, job: Job) -> Outcome:
        """One row, one request: what the answer means for the row (and whether the run must stop)."""
        if not self._limiter.wait(self._stop):
            return Outcome(job, status.NOT_SENT)
        body = RecordBody(self._reference, job.row.record)
        payload = body.encode()
        if len(payload) > API_BODY_LIMIT:
            size = f"{len(payload) / 1_000_000:.1f} MB"
            return Outcome(job, status.FAILED, f"the record is {size}; the API takes at most 2 MB: not sent")
        if self._leaving is not None:
            self._leaving(job)
        try:
            self._sender().put(body.content_type, payload)
        except ApiValidationError as exc:
            return Outcome(job, status.FAILED, f"422 {exc.message} {json.dumps(exc.errors, ensure_ascii=False)}")
        except NetworkError as exc:
            if exc.maybe_delivered:
                return Outcome(job, status.FAILED, exc.message, uncertain=True)
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                return Outcome(job, status.FAILED, exc.message)
            return Outcome(job, status.NOT_SENT, stop=exc)
        except AuthError as exc:
            return Outcome(job, status.NOT_SENT, stop=exc)
        return Outcome(job, status.SENT)
