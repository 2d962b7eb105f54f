"""Typed errors: each carries its documented exit code (the README's exit code table).

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
    TERMINATED = 143


class Terminated(BaseException):
    """SIGTERM (how CI cancels a job) outside an import's own drain: like Ctrl-C, it ends the command (143).
    A BaseException, as KeyboardInterrupt is: no `except Exception` on the way swallows it."""


class CgError(Exception):
    """An error the user can act on; never shown with a traceback."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.extra: dict[str, Any] = {}

    def with_details(self, **extra: Any) -> CgError:
        """This error, carrying the command's own keys for its JSON document."""
        self.extra.update(extra)
        return self

    def as_json(self) -> dict[str, Any]:
        """The one document printed on stdout for this error under --output json."""
        return {
            "ok": False,
            "exit_code": int(self.exit_code),
            "error": self.headline,
            "hint": self.hint,
            **self.details(),
        }

    @property
    def headline(self) -> str:
        """The one line after `error:`."""
        return self.message

    def details(self) -> dict[str, Any]:
        """The command's own keys added to the error document (field errors, problems, a summary)."""
        return self.extra


class UsageError(CgError):
    """Bad option, unreadable or malformed input, missing settings."""

    exit_code = ExitCode.USAGE


class AuthError(CgError):
    """Credentials rejected, or not logged in."""

    exit_code = ExitCode.AUTH


class NetworkError(CgError):
    """The service stayed unreachable or kept failing after retries."""

    exit_code = ExitCode.NETWORK

    def __init__(
        self, message: str, hint: str | None = None, *, status: int | None = None, maybe_delivered: bool = False
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        # True when the request may have reached the service and was not resent.
        self.maybe_delivered = maybe_delivered


class Throttled(NetworkError):
    """429, or 503 with Retry-After: the service turned the request away unprocessed and said when to come
    back (`retry_after` seconds; None when it did not say). Sending the same body again is safe."""

    def __init__(self, message: str, *, status: int, retry_after: float | None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ApiValidationError(CgError):
    """The API answered 422: the record was refused, with field errors."""

    exit_code = ExitCode.VALIDATION

    def __init__(self, message: str, errors: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.errors = errors
        self.summary = f"the API refused the record (422): {message}"

    @property
    def headline(self) -> str:
        return self.summary

    def details(self) -> dict[str, Any]:
        return {**self.extra, "status": 422, "message": self.message, "errors": self.errors}


class CheckFailed(CgError):
    """A local mapping check found problems; nothing was sent.

    `report` says the problems are the command's result (stdout), not a
    diagnostic of a command that stopped (stderr).
    """

    exit_code = ExitCode.VALIDATION

    def __init__(
        self, message: str, problems: list[Any], *, report: bool = False, hint: str | None = None, paste: str = ""
    ) -> None:
        super().__init__(message, hint)
        self.problems = problems
        self.report = report
        self.paste = paste  # a line to paste into the mapping file (`ignore = [...]`), shown on its own

    def details(self) -> dict[str, Any]:
        pasted = {"ignore_line": self.paste} if self.paste else {}
        return {**self.extra, "problems": [p.as_json() for p in self.problems], **pasted}


class ImportEnded(CgError):
    """`records import` ended short of every row accepted: failed rows (6), a
    service that stayed down (5), credentials refused (3), a journal that
    could not be written (2), Ctrl-C (130) or SIGTERM (143).
    Carries the run's summary, which joins the JSON document for this error."""

    def __init__(
        self,
        message: str,
        exit_code: ExitCode,
        summary: dict[str, Any],
        hint: str | None = None,
        failures: list[tuple[int, int, str]] | None = None,
        rows_in_input: int | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code
        self.summary = summary
        self.failures = failures or []  # the failed rows kept for CI reports: (row, line, error)
        self.rows_in_input = rows_in_input  # as the pre-flight counted them (None: not counted): for CI reports

    def details(self) -> dict[str, Any]:
        return {**self.extra, **self.summary}
