"""A row on its way through an import (a job) and what became of it (an outcome)."""

from __future__ import annotations

from dataclasses import dataclass

from cg_cli.errors import CgError
from cg_cli.records.readers import Row

VALID = "valid"  # a dry run's outcome: the row would be sent


@dataclass(frozen=True)
class Job:
    row: Row
    digest: bytes
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    job: Job
    status: str  # results_file: sent, failed, skipped, unchanged, superseded, not-sent; or VALID (dry run)
    error: str | None = None
    stop: CgError | None = None  # the run must stop (the service is down, credentials refused)
    uncertain: bool = False  # the body may have reached the service (answer lost, timeout after sending)
