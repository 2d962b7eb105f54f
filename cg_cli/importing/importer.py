"""The bulk runner behind `records import`: many rows, a few workers, nothing lost.

Every row ends as sent, failed (failed file + journal), skipped (done before,
unchanged, superseded) or not attempted (resumable). The main thread reads rows,
keeps rows that share an identity key in file order (`KeyOrder`), gives them to
the workers (`Workers`) and records outcomes in input order (`OutcomeRecorder`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from cg_cli.errors import CgError
from cg_cli.importing import results_file as status
from cg_cli.importing.delivery import MAYBE_ARRIVED, MAYBE_ARRIVED_BEFORE, Delivery, Kind, Verdict
from cg_cli.importing.failed_file import FailedFile
from cg_cli.importing.jobs import VALID, Job, Outcome
from cg_cli.importing.journal import row_digest
from cg_cli.importing.key_order import KeyOrder
from cg_cli.importing.recorder import MAX_KEPT_PROBLEMS, OutcomeRecorder
from cg_cli.importing.results_file import ResultsFile
from cg_cli.importing.stats import ImportResult, ImportStats, Progress, Sender, State, summary_json
from cg_cli.importing.workers import Workers
from cg_cli.records.mappings import Mapping, check_fields, check_values, identity_keys
from cg_cli.records.readers import Row

# Looked up once: a resume asks these for every row of a large file.
_CHANGED, _AGAIN, _MAYBE_ARRIVED, _UNCHANGED = Verdict.CHANGED, Verdict.AGAIN, Verdict.MAYBE_ARRIVED, Verdict.UNCHANGED
_SENT_EARLIER = Verdict.SENT_EARLIER
__all__ = ["ImportResult", "ImportStats", "Importer", "Progress", "Sender", "State", "summary_json"]


class Importer:
    def __init__(
        self,
        rows: Iterable[Row],
        *,
        reference: str,
        mapping: Mapping | None,
        check_unknown_fields: bool,
        new_sender: Callable[[], Sender],
        delivery: Delivery | None = None,
        failed: FailedFile | None = None,
        results: ResultsFile | None = None,
        superseded: Callable[[int], bool] | None = None,
        workers: int | None = 4,  # None: adaptive (`--workers auto`); else a ceiling
        rate: float | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
        on_changed_input: Callable[[int], None] | None = None,
    ) -> None:
        self._rows = rows
        self._mapping = mapping
        self._mapping_type = mapping.type if mapping is not None else None
        self._check_unknown_fields = check_unknown_fields
        self._results = results
        self._delivery = delivery or Delivery(Kind.ENTITY, dry_run=dry_run)
        self._superseded = superseded
        self._dry_run = dry_run
        self._on_changed_input = on_changed_input
        self._stop = threading.Event()
        self.result = ImportResult(ImportStats())
        self._workers = Workers(
            0 if dry_run else workers,
            reference=reference,
            new_sender=new_sender,
            stop=self._stop,
            rate=rate,
            leaving=self._delivery.leaving,
        )
        self._order = KeyOrder()
        self._recorder = OutcomeRecorder(
            self.result,
            stop_with=self._stop_with,
            failed=failed,
            results=results,
            progress=progress,
            pace=lambda final: self._workers.copy_pace(self.result.stats, final),
        )
        self._pending = 0  # jobs given to the workers, outcome not yet back
        self._ready: deque[Job] = deque()  # released by `_order`, to be given to the workers
        self._room = 64 * self._workers.count + 256  # rows held back (blocked or out of order) before reading pauses

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
        self._workers.start()
        failure: BaseException | None = None
        try:
            for row in self._rows:
                if self._stop.is_set():
                    break
                self._take(row)
                self._push_ready()
                while self._order.waiting + self._recorder.waiting > self._room and not self._stop.is_set():
                    self._drain(wait=True)
                    self._push_ready()
        except BaseException as exc:  # the input broke off (or a bug): record what was sent, then raise
            failure = exc
            self._stop.set()
        while self._pending or self._order.waiting or self._ready:
            if self._stop.is_set():
                self._give_up_waiting_rows()
            self._push_ready()
            if self._pending:
                self._drain(wait=True)
        self._workers.close()
        self._recorder.flush(final=True)
        self.result.stats.finished = time.monotonic()
        self._recorder.report(final=True)
        if failure is not None:
            raise failure
        return self.result

    def _take(self, row: Row) -> None:
        job = self._job(row)
        if job is None:
            return
        problem = self._local_problem(row)
        if problem is not None:
            self._finish(Outcome(job, status.FAILED, problem))
        elif self._superseded is not None and self._superseded(row.number):
            self._finish(Outcome(job, status.SUPERSEDED, "a later row has the same identity key"))
        elif self._order.admit(job):  # else an earlier row with this key is on its way: this one waits its turn
            self._dispatch(job)

    def _dispatch(self, job: Job) -> None:
        """A row whose turn it is: unchanged since the last accepted push, or on its way to a worker.

        Asked only now, when every earlier row with its key has finished (and been written down)."""
        verdict = self._delivery.now(job)
        if verdict == Verdict.UNCHANGED:
            self._finish(Outcome(job, status.UNCHANGED))
        elif verdict == Verdict.UNCERTAIN:
            self._finish(Outcome(job, status.FAILED, MAYBE_ARRIVED_BEFORE, uncertain=True))
        elif self._dry_run:
            self._finish(Outcome(job, VALID))
        else:
            self._order.claim(job)
            self._ready.append(job)

    def _job(self, row: Row) -> Job | None:
        """The row with its digest and keys; None when an earlier run brought it to a final state."""
        if not self._delivery.needs_digest:
            return Job(row, b"", self._keys(row))
        digest = row_digest(row)
        verdict = self._delivery.earlier(row, digest, self._keys)
        if verdict is None or verdict is _CHANGED or verdict is _AGAIN:
            if verdict is _CHANGED:
                self.result.stats.changed += 1
                if self.result.stats.changed == 1 and self._on_changed_input is not None:
                    self._on_changed_input(row.number)
            return Job(row, digest, self._keys(row, digest))
        # Done before: its keys are needed only if it is sent, or if a state is to learn it.
        job = Job(row, digest, self._keys(row) if verdict is _SENT_EARLIER and self._delivery.has_state else ())
        if verdict is _MAYBE_ARRIVED:
            # In flight when a run was killed: it may have arrived. Report it; never send it twice.
            self._finish(Outcome(job, status.FAILED, MAYBE_ARRIVED, uncertain=True))
        elif verdict is _UNCHANGED:
            self._finish(Outcome(job, status.UNCHANGED))
        else:  # sent or failed earlier: the journal holds it already; the recorder counts it
            if verdict is _SENT_EARLIER:
                self._delivery.sent_earlier(job)
            self._recorder.finish(Outcome(job, status.SKIPPED, verdict))
        return None

    def _finish(self, outcome: Outcome) -> None:
        """Written down for the model at once (journal, state), for the user in input order."""
        try:
            self._delivery.settle(outcome)
        except CgError as exc:
            self._stop_with(exc)
        self._recorder.finish(outcome)

    def _keys(self, row: Row, digest: bytes = b"") -> tuple[str, ...]:
        """The row's identity keys; an event's content is one more, so identical events go one after another
        (the second then finds the first written down and is not sent)."""
        keys = identity_keys(self._mapping_type, row.record) if row.error is None else ()
        return (*keys, "\0event\0" + digest.hex()) if digest and self._delivery.kind == Kind.EVENT else keys

    def _push_ready(self) -> None:
        """Give released rows to the workers; while the queue is full, record outcomes instead."""
        while self._ready and not self._stop.is_set():
            try:
                self._workers.todo.put(self._ready[0], timeout=0.2)
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
                outcome = self._workers.outcomes.get(block=wait and count == 0, timeout=0.2)
            except queue.Empty:
                break
            self._pending -= 1
            if outcome.stop is not None:  # now, not when the recorder reaches it: the row's key must not
                self._stop_with(outcome.stop)  # let a later row of that key go ahead of it
            self._order.done(outcome.job)
            self._finish(outcome)
            count += 1
        if count:
            self._order.release(self._dispatch)
        self._commit(now=count > 0)

    def _give_up_waiting_rows(self) -> None:
        """Stopping: rows not yet given to a worker are not sent (resumable)."""
        for job in (*self._order.give_up(), *self._ready):
            self._finish(Outcome(job, status.NOT_SENT))
        for job in self._ready:
            self._order.done(job)
        self._ready.clear()

    def _commit(self, *, now: bool) -> None:
        """Outcomes reach the journal's file as soon as they are known: a kill then loses only rows in flight."""
        try:
            self._delivery.commit(now=now)
            if self._results is not None and now:
                self._results.flush()
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

    def _stop_with(self, error: CgError) -> None:
        if self.result.stopped_by is None:
            self.result.stopped_by = error
        self._stop.set()
