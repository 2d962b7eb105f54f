"""Rows that share an identity key go one at a time, in file order: concurrency never changes
which row of a key the service holds last."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable

from cg_cli.importing.jobs import Job


class KeyOrder:
    """Which rows may go now. A row waits while an earlier row with one of its keys is in flight
    or waiting; when that row's outcome is back, the waiting rows move on in file order."""

    def __init__(self) -> None:
        self._busy: Counter[str] = Counter()  # identity keys with a row in flight
        self._blocked: deque[Job] = deque()  # rows waiting for an earlier row with the same key
        self._blocked_keys: Counter[str] = Counter()

    @property
    def waiting(self) -> int:
        return len(self._blocked)

    def admit(self, job: Job) -> bool:
        """True when no earlier row holds one of the job's keys; else the job waits its turn."""
        if any(self._busy[k] or self._blocked_keys[k] for k in job.keys):
            self._blocked.append(job)
            self._blocked_keys.update(job.keys)
            return False
        return True

    def claim(self, job: Job) -> None:
        """The job goes to a worker: its keys are busy until `done`."""
        self._busy.update(job.keys)

    def done(self, job: Job) -> None:
        """The job's outcome is back (or it will never be sent)."""
        _release(self._busy, job.keys)

    def release(self, dispatch: Callable[[Job], None]) -> None:
        """Rows whose keys are free again go to `dispatch`, in file order (which may `claim` them before
        the next is looked at); a row still blocked holds its keys."""
        claimed: set[str] = set()
        still: deque[Job] = deque()
        for job in self._blocked:
            if any(self._busy[k] for k in job.keys) or claimed.intersection(job.keys):
                claimed.update(job.keys)
                still.append(job)
            else:
                _release(self._blocked_keys, job.keys)
                dispatch(job)
        self._blocked = still

    def give_up(self) -> list[Job]:
        """Stopping: every waiting row, which will not be sent."""
        waiting = list(self._blocked)
        self._blocked.clear()
        self._blocked_keys.clear()
        return waiting


def _release(counts: Counter[str], keys: tuple[str, ...]) -> None:
    """One row fewer holds `keys`; a key no row holds leaves the counter (Counter.subtract keeps zeros,
    which would grow by one entry per key of the file)."""
    for key in keys:
        if counts[key] <= 1:
            del counts[key]
        else:
            counts[key] -= 1
