"""What the services answered, as typed errors: status codes, 422 bodies, and
the failures of the connection itself (refused, timed out, TLS, malformed).

Used only by the HTTP boundary (client.py); imports requests.
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from cg_cli.config.settings import HttpOptions
from cg_cli.errors import ApiValidationError, AuthError, NetworkError, Throttled

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# 429 and 503 say the request was turned away unprocessed. A 500, 502 or 504
# may come after the request was processed (or passed on by a gateway), so a
# survey mapping never retries them: a second send could mean a second survey.
UNPROCESSED_STATUSES = frozenset({429, 503})
EXCERPT = 120
MAYBE_ARRIVED = "not resent: the record may have arrived, and a survey mapping would send a second survey"
CHECK_ARRIVED = "check in CustomerGauge whether it arrived before you push it again"
TLS_HINT = (
    "cg trusts the system's certificate store; for a private CA (a TLS-inspecting proxy) "
    "point REQUESTS_CA_BUNDLE or SSL_CERT_FILE at its PEM file"
)


class MalformedAnswer(Exception):
    """An answer that is not HTTP as it should be: too large, too slow, too many headers."""


def raise_for_response(response: requests.Response, service: str, options: HttpOptions) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    if status == 401:
        raise AuthError(f"the {service} answered 401{message_suffix(response)}")
    if status == 422:
        raise validation_error(response)
    raise status_error(response, service, options)


def validation_error(response: requests.Response) -> ApiValidationError:
    """A 422 as the API documents it, tolerating any other shape."""
    data = _json_or_none(response)
    if isinstance(data, dict):
        message = data.get("message")
        message = str(message) if message else "The given data was invalid."
        raw_errors = data.get("errors")
    else:
        message = f"The given data was invalid (unexpected answer: {body_excerpt(response)})"
        raw_errors = None
    errors: dict[str, list[str]] = {}
    if isinstance(raw_errors, dict):
        for field_name, messages in raw_errors.items():
            items = messages if isinstance(messages, list) else [messages]
            errors[str(field_name)] = [m if isinstance(m, str) else json.dumps(m) for m in items]
    elif raw_errors is not None:
        errors["(errors)"] = [json.dumps(raw_errors)]
    return ApiValidationError(message, errors)


def status_error(response: requests.Response, service: str, options: HttpOptions) -> NetworkError:
    status = response.status_code
    retry_after = response.headers.get("Retry-After")
    throttled = status == 429 or (status == 503 and retry_after is not None)
    passed = throttled and options.pass_throttling
    retried = _after(retries_made(response)) if status in RETRY_STATUSES and not passed else ""
    what = f"the {service} answered {status} {response.reason or ''}".rstrip() + retried + message_suffix(response)
    if throttled:
        return Throttled(what, status=status, retry_after=parse_retry_after(retry_after))
    if status >= 500 and status not in UNPROCESSED_STATUSES and not options.resend_after_send:
        # A server error may come after the record was processed: for a survey, report it, never resend it.
        return NetworkError(f"{what}; {MAYBE_ARRIVED}", hint=CHECK_ARRIVED, status=status, maybe_delivered=True)
    return NetworkError(what, status=status)


def network_error(exc: BaseException, url: str, options: HttpOptions) -> NetworkError:
    host = urlsplit(url).netloc
    cause = root_cause(exc)
    reached = isinstance(exc, requests.ReadTimeout) or isinstance(cause, ReadTimeoutError | ProtocolError)
    hint = None
    # NewConnectionError is a kind of ConnectTimeoutError in urllib3: test it first.
    if isinstance(cause, NewConnectionError):
        what = f"cannot connect to {host} ({describe_cause(cause)})"
    elif isinstance(exc, requests.ConnectTimeout) or isinstance(cause, ConnectTimeoutError):
        what = f"could not connect to {host} within {options.timeout:g} s"
    elif isinstance(exc, requests.ReadTimeout) or isinstance(cause, ReadTimeoutError):
        what = f"no answer from {host} within {options.timeout:g} s"
    elif isinstance(exc, requests.exceptions.SSLError) or isinstance(cause, ssl.SSLError):
        # A certificate problem is permanent: never retried, and the reason is the message.
        return NetworkError(f"TLS with {host} failed: {tls_reason(cause)}", hint=TLS_HINT)
    elif isinstance(cause, MalformedAnswer) or is_malformed(cause):
        what, reached = f"{host} sent a malformed answer ({cause})", True
    elif isinstance(cause, ProtocolError):
        what = f"{host} closed the connection without an answer"
    else:
        what = f"cannot reach {host} ({describe_cause(exc)})"
    if reached and not options.resend_after_send:
        return NetworkError(f"{what}; {MAYBE_ARRIVED}", hint=CHECK_ARRIVED, maybe_delivered=True)
    retried = _after(options.retries) if not isinstance(cause, MalformedAnswer) else ""
    return NetworkError(what + retried, hint=hint)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def retries_made(response: requests.Response) -> int:
    """The retries urllib3 made before this answer (its Retry keeps their history), not the ones allowed:
    a survey's 500, 502 or 504 is never retried."""
    retry = getattr(response.raw, "retries", None)
    history = getattr(retry, "history", None)
    return len(history) if isinstance(history, tuple) else 0


def _after(retries: int) -> str:
    """' after 1 retry', ' after 3 retries'; '' when none was made."""
    return f" after {retries} {'retry' if retries == 1 else 'retries'}" if retries else ""


def is_malformed(error: BaseException | None) -> bool:
    """An answer that broke HTTP's rules (not a dropped connection): resending would not help."""
    if isinstance(error, MalformedAnswer | http.client.LineTooLong | http.client.UnknownProtocol):
        return True
    return type(error) is http.client.HTTPException  # "got more than 100 headers"


def tls_reason(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {error.verify_message or error.reason}"
    reason = getattr(error, "reason", None) or str(error)
    return str(reason).lower().replace("_", " ")


def root_cause(exc: BaseException) -> BaseException:
    seen = exc
    for _ in range(6):
        nested = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        if isinstance(seen, MaxRetryError) and seen.reason is not None:
            nested = seen.reason
        if nested is None and len(seen.args) > 1 and is_malformed(seen.args[1]):
            nested = seen.args[1]  # ProtocolError("Connection aborted.", HTTPException("got more than 100 headers"))
        if nested is None:
            nested = seen.__cause__ if isinstance(seen.__cause__, ssl.SSLError) else None
        if nested is None:
            break
        seen = nested
    return seen


def describe_cause(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    cause = root_cause(error)
    text = str(cause)
    errno_text = re.search(r"\[Errno -?\d+\] ([^')\]]+)", text)
    if errno_text:
        return errno_text.group(1).strip().lower()
    if isinstance(cause, ReadTimeoutError):
        return "read timed out"
    if isinstance(cause, ssl.SSLError):
        return tls_reason(cause)
    if isinstance(cause, ProtocolError):
        return "connection closed without an answer"
    return cause.__class__.__name__


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def body_excerpt(response: requests.Response, limit: int = EXCERPT) -> str:
    text = " ".join(response.text.split())
    if not text:
        return "empty body"
    return text if len(text) <= limit else text[:limit] + "…"


def message_suffix(response: requests.Response) -> str:
    data = _json_or_none(response)
    if isinstance(data, dict):
        for key in ("message", "error_description", "error"):
            if isinstance(data.get(key), str) and data[key]:
                return f": {' '.join(data[key].split())[:EXCERPT]}"
    if response.text.strip():
        return f": {body_excerpt(response)}"
    return ""
