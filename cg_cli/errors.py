"""Typed errors: each carries the exit code DESIGN.md gives it.

The core raises these; only the top of the CLI turns them into a message and
an exit status.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1
    USAGE = 2
    AUTH = 3
    VALIDATION = 4
    NETWORK = 5
    PARTIAL = 6
    INTERRUPTED = 130


class CgError(Exception):
    """An error the user can act on; never shown with a traceback."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(CgError):
    """Bad option, unreadable or malformed input, missing settings."""

    exit_code = ExitCode.USAGE


class AuthError(CgError):
    """Credentials rejected, or not logged in."""

    exit_code = ExitCode.AUTH


class NetworkError(CgError):
    """The service stayed unreachable or kept failing after retries."""

    exit_code = ExitCode.NETWORK

    def __init__(self, message: str, hint: str | None = None, *, status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


class ApiValidationError(CgError):
    """The API answered 422: the record was refused, with field errors."""

    exit_code = ExitCode.VALIDATION

    def __init__(self, message: str, errors: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.errors = errors
        self.summary = f"the API refused the record (422): {message}"

    def as_json(self) -> dict[str, Any]:
        return {"ok": False, "status": 422, "message": self.message, "errors": self.errors}


class CheckFailed(CgError):
    """A local mapping check found problems; nothing was sent.

    `report` says the problems are the command's result (stdout), not a
    diagnostic of a command that stopped (stderr).
    """

    exit_code = ExitCode.VALIDATION

    def __init__(self, message: str, problems: list[Any], *, report: bool = False) -> None:
        super().__init__(message)
        self.problems = problems
        self.report = report


class ImportIncomplete(CgError):
    """`records import` finished, but some rows failed."""

    exit_code = ExitCode.PARTIAL


class Interrupted(CgError):
    """Stopped by Ctrl-C."""

    exit_code = ExitCode.INTERRUPTED
