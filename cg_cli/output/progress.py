"""Progress of `records import` on stderr: a rich bar on a terminal, plain lines in CI logs."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from cg_cli.output.render import err

if TYPE_CHECKING:
    from cg_cli.importing.importer import ImportStats

PLAIN_INTERVAL = 5.0


class PlainProgress:
    """A line every few seconds: no carriage returns or colour codes for CI logs."""

    def __init__(self, label: str, total: int | None, interval: float = PLAIN_INTERVAL) -> None:
        self._label = label
        self._total = total
        self._interval = interval
        self._last = time.monotonic()

    def update(self, stats: ImportStats) -> None:
        now = time.monotonic()
        if now - self._last < self._interval:
            return
        self._last = now
        of_total = f"/{self._total}" if self._total else ""
        err(
            f"{self._label}: {stats.done}{of_total} rows ({stats.sent} sent, {stats.failed} failed, "
            f"{stats.skipped} skipped), {pace(stats)}, {stats.rows_per_second:.0f} rows/s"
        )

    def close(self) -> None:
        pass


class BarProgress:
    def __init__(self, label: str, total: int | None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TextColumn("{task.fields[pace]}"),
            TextColumn("{task.fields[rate]:.0f} rows/s"),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr, markup=False, highlight=False),
            transient=False,
        )
        self._task = self._progress.add_task(label, total=total, failed=0, rate=0.0, pace="")
        self._progress.start()

    def update(self, stats: ImportStats) -> None:
        self._progress.update(
            self._task, completed=stats.done, failed=stats.failed, rate=stats.rows_per_second, pace=pace(stats)
        )

    def close(self) -> None:
        self._progress.stop()


def pace(stats: ImportStats) -> str:
    """`8 in flight` (what the service sustains now), and how often it said "slow down"."""
    throttled = f", throttled {stats.throttled}×" if stats.throttled else ""
    return f"{stats.in_flight} in flight{throttled}"


def progress_for(label: str, total: int | None) -> PlainProgress | BarProgress:
    return BarProgress(label, total) if sys.stderr.isatty() else PlainProgress(label, total)
