"""The counts of an import run and how they read as JSON; the parts a run plugs in
(a sender, a progress display, a state). Its pace (level, rate, breaker) is concurrency.py's."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from cg_cli.errors import CgError
from cg_cli.records.mappings import Problem


@dataclass
class ImportStats:
    sent: int = 0
    failed: int = 0
    sent_earlier: int = 0  # --resume: accepted by an earlier run, skipped
    failed_earlier: int = 0  # --resume: failed for good in an earlier run, skipped (still not accepted)
    unchanged: int = 0  # --state: the service already holds exactly this record; not sent
    superseded: int = 0  # --duplicates last: a later row has the same key; not sent
    not_sent: int = 0  # read, but the run stopped before their turn (a signal, the service down): resumable
    valid: int = 0  # dry run: rows that would be sent
    changed: int = 0  # --resume: journaled rows whose content no longer matches (sent as new)
    maybe_arrived: int = 0  # of `failed`: survey rows that may have arrived (now or at a kill); never resent
    throttled: int = 0  # answers that said "slow down" (429, 503 with Retry-After); those rows went again
    in_flight: int = 0  # requests on their way now
    level: int = 0  # requests allowed in flight now
    settled_at: int | None = None  # the level most requests went at
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def skipped(self) -> int:
        return self.sent_earlier + self.failed_earlier

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped + self.valid + self.unchanged + self.superseded

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
    failures: list[tuple[int, int, str]] = field(default_factory=list)  # (row, line, error): the first few

    @property
    def interrupted(self) -> bool:
        return self.stop_signal is not None


def summary_json(result: ImportResult) -> dict[str, Any]:
    """The counts of a run, as the JSON summary and the job summary show them."""
    stats = result.stats
    return {
        "sent": stats.sent,
        "failed": stats.failed,
        "skipped": stats.skipped,
        "sent_earlier": stats.sent_earlier,
        "failed_earlier": stats.failed_earlier,
        "unchanged": stats.unchanged,
        "superseded": stats.superseded,
        "not_sent": stats.not_sent,
        "changed_since_journal": stats.changed,
        "maybe_arrived": stats.maybe_arrived,
        "elapsed_seconds": round(stats.elapsed, 3),
        "rows_per_second": round(stats.rows_per_second, 1),
        "throttled": stats.throttled,
        "settled_in_flight": stats.settled_at,
        "interrupted": result.interrupted,
    }


def pace_words(stats: ImportStats) -> str:
    """`throttled 12×, settled at 6 in flight, ` for a summary line ("" before anything was sent)."""
    throttled = f"throttled {stats.throttled}×, " if stats.throttled else ""
    settled = f"settled at {stats.settled_at} in flight, " if stats.settled_at is not None else ""
    return throttled + settled


class Sender(Protocol):
    def put(self, content_type: str, body: bytes) -> None: ...

    def close(self) -> None: ...


class Progress(Protocol):
    def update(self, stats: ImportStats) -> None: ...

    def close(self) -> None: ...


class State(Protocol):
    """What a target already holds (`--state`), per key: the digest of the row it accepted, or of an event
    that may have arrived. See `delivery.py` for what the keys are."""

    def lookup(self, key: str) -> tuple[bytes, bool] | None:
        """(digest, accepted) for `key`; accepted is False for an event that may have arrived."""
        ...

    def before_send(self, key: str, event_digest: bytes | None) -> None:
        """Durably, before a body leaves: forget an entity's key, or mark an event as possibly arrived."""
        ...

    def remember(self, key: str, digest: bytes) -> None: ...

    def mark_uncertain(self, key: str, digest: bytes) -> None: ...

    def forget_uncertain(self, key: str) -> None: ...

    def commit(self) -> None: ...
