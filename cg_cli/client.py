"""The one HTTP boundary: sessions, retries, timeouts, bearer tokens, errors.

Every response and every requests/urllib3 exception is turned into a typed
error here, and only here. Importing this module imports requests, so
commands import it only when they are about to send something.
"""

from __future__ import annotations

import json
import os
import re
import time
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from cg_cli import log
from cg_cli.errors import ApiValidationError, AuthError, CgError, NetworkError
from cg_cli.records import USER_AGENT, request_headers
from cg_cli.settings import Credentials, HttpOptions
from cg_cli.tokens import Token, TokenProvider

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# 429 and 503 say the request was turned away unprocessed. A 502 or 504 comes
# from a gateway that may already have passed the request on, so a survey
# mapping never retries them: a second send could mean a second survey.
UNPROCESSED_STATUSES = frozenset({429, 503})
MAX_RETRY_AFTER = 120.0
LONG_WAIT = 2.0  # seconds: a wait before a retry longer than this is said on stderr
DEFAULT_TOKEN_LIFETIME = 3600.0


class _LoggedRetry(Retry):
    """urllib3's Retry, saying why it retries and capping Retry-After."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        if response is not None and response.status:
            why = f"{response.status} {response.reason or ''}".strip()
            retry_after = response.headers.get("Retry-After")
            wait = f"Retry-After {retry_after}" if retry_after else "backoff"
        else:
            why, wait = _describe_cause(error), "backoff"
        log.info("  %s: %s; retrying (%s, %d retries left)", method, why, wait, new.total or 0)
        new.reason = why
        return new

    reason = ""

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        """Wait as urllib3 would; a wait long enough to look like a hang is said without -v."""
        wait = self.get_retry_after(response) if self.respect_retry_after_header and response else None
        if not wait:
            wait = self.get_backoff_time()
        if wait > LONG_WAIT:
            log.notice("waiting %.0f s before retrying (%s)", wait, self.reason or "retry")
        if wait > 0:
            time.sleep(wait)

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            seconds = super().parse_retry_after(retry_after)
        except InvalidHeader:
            return 0.0  # fall back to exponential backoff
        return min(seconds, MAX_RETRY_AFTER)


def new_session(options: HttpOptions) -> requests.Session:
    retries = options.retries
    retry = _LoggedRetry(
        total=retries,
        connect=retries,
        read=retries if options.resend_after_send else 0,
        status=retries,
        other=0,
        redirect=0,
        allowed_methods=None,  # PUT and the token POST are both safe to repeat
        status_forcelist=RETRY_STATUSES if options.resend_after_send else UNPROCESSED_STATUSES,
        backoff_factor=0.5,
        backoff_jitter=0.5,
        backoff_max=30,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    session = requests.Session()
    # requests re-reads every environment variable on every request to find
    # proxies (a third of the time per row of an import); read them once here.
    session.trust_env = False
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.headers["User-Agent"] = USER_AGENT
    adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=2)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class Http:
    """A session plus the rules every call shares: timeout, logging, errors."""

    def __init__(self, options: HttpOptions | None = None) -> None:
        self.options = options or HttpOptions()
        self.session = new_session(self.options)
        # Per (method, URL): the prepared request without body, and the proxies for its host.
        # Preparing a request from scratch (URL parsing, header merging) is a quarter of
        # requests' CPU time per call, and an import makes thousands of identical ones.
        self._prepared: dict[tuple[str, str], tuple[requests.PreparedRequest, dict[str, str]]] = {}

    def _prepare(
        self, method: str, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[requests.PreparedRequest, dict[str, str]]:
        key = (method, url)
        if key not in self._prepared:
            template = self.session.prepare_request(requests.Request(method, url))
            self._prepared[key] = template, requests.utils.get_environ_proxies(url)
        template, proxies = self._prepared[key]
        request = template.copy()
        request.headers.update(headers)
        request.prepare_body(body, None)
        return request, proxies

    def send(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        log.info("%s %s", method, url)
        started = time.monotonic()
        try:
            request, proxies = self._prepare(method, url, body, headers)
            response = self.session.send(request, timeout=self.options.timeout, allow_redirects=False, proxies=proxies)
        except requests.RequestException as exc:
            log.info("  failed after %.0f ms: %s", (time.monotonic() - started) * 1000, _describe_cause(exc))
            raise network_error(exc, url, self.options) from exc
        log.info("  %s %s in %.0f ms", response.status_code, response.reason or "", (time.monotonic() - started) * 1000)
        return response

    def close(self) -> None:
        self.session.close()


def fetch_token(http: Http, token_url: str, credentials: Credentials) -> Token:
    """Ask the token service for a new access token (client credentials)."""
    try:
        return _fetch_token(http, token_url, credentials)
    except CgError as exc:
        raise scrubbed(exc, credentials.client_secret) from None


def _fetch_token(http: Http, token_url: str, credentials: Credentials) -> Token:
    form = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
        }
    ).encode()
    response = http.send(
        "POST",
        token_url,
        form,
        {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
    )
    if response.status_code in (400, 401, 403):
        raise AuthError(
            f"the token service rejected the client id and secret ({response.status_code}{_message_suffix(response)})",
            hint="check CG_CLIENT_ID, CG_CLIENT_SECRET and the region, or run `cg auth login` again",
        )
    if response.status_code != 200:
        raise status_error(response, "token service", http.options)
    try:
        data = response.json()
        access_token = data["access_token"]
        lifetime = float(data.get("expires_in", DEFAULT_TOKEN_LIFETIME))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise NetworkError("the token service answered 200 without a usable access token") from None
    if not isinstance(access_token, str) or not access_token:
        raise NetworkError("the token service answered 200 without a usable access token")
    now = time.time()
    return Token(access_token, now + lifetime, now)


class RecordsClient:
    """PUT /records/ with the shared token: one refresh and one retry on 401."""

    def __init__(self, records_url: str, tokens: TokenProvider, options: HttpOptions | None = None) -> None:
        self.records_url = records_url
        self.tokens = tokens
        self.http = Http(options)

    def put(self, content_type: str, body: bytes) -> None:
        token = self.tokens.get()
        try:
            self._put_with_refresh(content_type, body, token)
        except CgError as exc:
            raise scrubbed(exc, token, self.tokens.token.access_token if self.tokens.token else "") from None

    def _put_with_refresh(self, content_type: str, body: bytes, token: str) -> None:
        response = self._put(content_type, body, token)
        if response.status_code == 401:
            log.info("  401: refreshing the access token and retrying once")
            token = self.tokens.refresh(stale=token)
            response = self._put(content_type, body, token)
            if response.status_code == 401:
                raise AuthError(
                    f"the records service refused the access token even after a refresh{_message_suffix(response)}",
                    hint="check that the Connected App may use the PUT Records API in this region",
                )
        raise_for_response(response, "records service", self.http.options)

    def _put(self, content_type: str, body: bytes, token: str) -> requests.Response:
        return self.http.send("PUT", self.records_url, body, request_headers(content_type, token))

    def close(self) -> None:
        self.http.close()


def scrubbed(exc: CgError, *secrets: str) -> CgError:
    """`exc` with any secret a server echoed back (a misconfigured proxy, say) replaced by ***."""

    def scrub(text: str) -> str:
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    exc.message = scrub(exc.message)
    if isinstance(exc, ApiValidationError):
        exc.summary = scrub(exc.summary)
        exc.errors = {scrub(field): [scrub(m) for m in messages] for field, messages in exc.errors.items()}
    return exc


def raise_for_response(response: requests.Response, service: str, options: HttpOptions) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    if status == 401:
        raise AuthError(f"the {service} answered 401{_message_suffix(response)}")
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
        message = f"The given data was invalid (unexpected answer: {_body_excerpt(response)})"
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
    retried = f" after {options.retries} retries" if status in RETRY_STATUSES and options.retries else ""
    what = f"the {service} answered {status} {response.reason or ''}".rstrip() + retried + _message_suffix(response)
    if status >= 500 and status not in UNPROCESSED_STATUSES and not options.resend_after_send:
        # A server error may come after the record was processed: for a survey, report it, never resend it.
        return NetworkError(
            f"{what}; not resent: the record may have arrived, and a survey mapping would send a second survey",
            hint="check in CustomerGauge whether it arrived before you push it again",
            status=status,
            maybe_delivered=True,
        )
    return NetworkError(what, status=status)


def network_error(exc: BaseException, url: str, options: HttpOptions) -> NetworkError:
    host = urlsplit(url).netloc
    cause = _root_cause(exc)
    reached = isinstance(exc, requests.ReadTimeout) or isinstance(cause, ReadTimeoutError | ProtocolError)
    # NewConnectionError is a kind of ConnectTimeoutError in urllib3: test it first.
    if isinstance(cause, NewConnectionError):
        what = f"cannot connect to {host} ({_describe_cause(cause)})"
    elif isinstance(exc, requests.ConnectTimeout) or isinstance(cause, ConnectTimeoutError):
        what = f"could not connect to {host} within {options.timeout:g} s"
    elif isinstance(exc, requests.ReadTimeout) or isinstance(cause, ReadTimeoutError):
        what = f"no answer from {host} within {options.timeout:g} s"
    elif isinstance(exc, requests.exceptions.SSLError):
        what = f"TLS failed with {host}"
    elif isinstance(cause, ProtocolError):
        what = f"{host} closed the connection without an answer"
    else:
        what = f"cannot reach {host} ({_describe_cause(exc)})"
    if reached and not options.resend_after_send:
        return NetworkError(
            f"{what}; not resent: the record may have arrived, and a survey mapping would send a second survey",
            hint="check in CustomerGauge whether it arrived before you push it again",
            maybe_delivered=True,
        )
    retried = f" after {options.retries} retries" if options.retries else ""
    return NetworkError(what + retried)


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    for _ in range(5):
        nested = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        if isinstance(seen, MaxRetryError) and seen.reason is not None:
            nested = seen.reason
        if nested is None:
            break
        seen = nested
    return seen


def _describe_cause(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    cause = _root_cause(error)
    text = str(cause)
    errno_text = re.search(r"\[Errno -?\d+\] ([^')\]]+)", text)
    if errno_text:
        return errno_text.group(1).strip().lower()
    if isinstance(cause, ReadTimeoutError):
        return "read timed out"
    if isinstance(cause, ProtocolError):
        return "connection closed without an answer"
    return cause.__class__.__name__


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _body_excerpt(response: requests.Response, limit: int = 120) -> str:
    text = " ".join(response.text.split())
    if not text:
        return "empty body"
    return text if len(text) <= limit else text[:limit] + "…"


def _message_suffix(response: requests.Response) -> str:
    data = _json_or_none(response)
    if isinstance(data, dict):
        for key in ("message", "error_description", "error"):
            if isinstance(data.get(key), str) and data[key]:
                return f": {data[key]}"
    if response.text.strip():
        return f": {_body_excerpt(response)}"
    return ""
