"""The one HTTP boundary: sessions, TLS trust, retries, timeouts, bearer tokens.

Every response and every requests/urllib3 exception is turned into a typed
error here (through answers.py), and only here. Importing this module imports
requests, so commands import it only when they are about to send something.
"""

from __future__ import annotations

import os
import ssl
import time
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

from cg_cli.config.settings import Credentials, HttpOptions
from cg_cli.errors import ApiValidationError, AuthError, CgError, NetworkError, UsageError
from cg_cli.output import log
from cg_cli.output.scrub import Scrubber
from cg_cli.records.body import USER_AGENT, request_headers
from cg_cli.service.answers import (
    RETRY_STATUSES,
    UNPROCESSED_STATUSES,
    MalformedAnswer,
    describe_cause,
    is_malformed,
    message_suffix,
    network_error,
    raise_for_response,
    root_cause,
    status_error,
)
from cg_cli.service.tokens import Token, TokenProvider, clamp_lifetime, usable_token_text

MAX_RETRY_AFTER = 120.0
LONG_WAIT = 2.0  # seconds: a wait before a retry longer than this is said on stderr
MAX_ANSWER = 1 << 20  # the API's answers are a few hundred bytes; a larger one is hostile or broken


class _LoggedRetry(Retry):
    """urllib3's Retry: says why it retries, caps Retry-After, never retries a malformed answer."""

    reason = ""
    pass_throttling = False  # set on a subclass: Retry.new() keeps the class, not extra attributes

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        """As urllib3 decides, except that throttling goes to the caller when it paces a whole run."""
        if self.pass_throttling and (status_code == 429 or (status_code == 503 and has_retry_after)):
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if error is not None and is_malformed(root_cause(error)):
            raise MaxRetryError(_pool, url or "", error)  # type: ignore[arg-type]
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        if response is not None and response.status:
            why = f"{response.status} {response.reason or ''}".strip()
            retry_after = response.headers.get("Retry-After")
            wait = f"Retry-After {retry_after}" if retry_after else "backoff"
        else:
            why, wait = describe_cause(error), "backoff"
        log.info("  %s: %s; retrying (%s, %d retries left)", method, why, wait, new.total or 0)
        new.reason = why
        return new

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


class _PacedRetry(_LoggedRetry):
    pass_throttling = True


class _TrustAdapter(HTTPAdapter):
    """An adapter whose TLS context is ours (the system store, or the CA file the user named),
    built at the first HTTPS request: loading a CA bundle costs tens of milliseconds per process."""

    def __init__(self, *, pool_connections: int, pool_maxsize: int, **kwargs: Any) -> None:
        self._ssl_context: ssl.SSLContext | None = None
        self._pool_sizes = (pool_connections, pool_maxsize)
        super().__init__(pool_connections=pool_connections, pool_maxsize=pool_maxsize, **kwargs)

    def _trust(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = tls_context()
            self.init_poolmanager(*self._pool_sizes)
        return self._ssl_context

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self._ssl_context is not None:
            kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(*args, **kwargs)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self._trust()
        return super().send(request, *args, **kwargs)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._trust()
        return super().proxy_manager_for(proxy, **kwargs)


def tls_context() -> ssl.SSLContext:
    """Which certificates to trust, highest first: REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE),
    then SSL_CERT_FILE, then the operating system's store (as pip does, through truststore)."""
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        path = os.environ.get(variable)
        if path:
            folder = os.path.isdir(path)
            try:
                return ssl.create_default_context(cafile=None if folder else path, capath=path if folder else None)
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"{variable}={path}: cannot load certificates ({exc})") from None
    import truststore

    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def new_session(options: HttpOptions) -> requests.Session:
    retries = options.retries
    retry = (_PacedRetry if options.pass_throttling else _LoggedRetry)(
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
    session.headers["User-Agent"] = USER_AGENT
    session.mount("https://", _TrustAdapter(max_retries=retry, pool_connections=2, pool_maxsize=2))
    session.mount("http://", HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=2))
    return session


class Http:
    """A session plus the rules every call shares: timeout, bounded answers, logging, errors."""

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

    def send(
        self, method: str, url: str, body: bytes, headers: dict[str, str], scrub: Scrubber | None = None
    ) -> requests.Response:
        """Send and read the whole answer; any secret the answer echoes is scrubbed from it here."""
        log.info("%s %s", method, url)
        started = time.monotonic()
        try:
            request, proxies = self._prepare(method, url, body, headers)
            response = self.session.send(
                request, timeout=self.options.timeout, allow_redirects=False, proxies=proxies, stream=True
            )
            self._read_answer(response)
        except (requests.RequestException, Urllib3Error, MalformedAnswer, OSError) as exc:
            log.info("  failed after %.0f ms: %s", (time.monotonic() - started) * 1000, describe_cause(exc))
            raise network_error(exc, url, self.options) from None
        if scrub is not None and response.content:
            response._content = scrub(response.content.decode("utf-8", "replace")).encode()
        log.info("  %s %s in %.0f ms", response.status_code, response.reason or "", (time.monotonic() - started) * 1000)
        return response

    def _read_answer(self, response: requests.Response) -> None:
        """The body, at most MAX_ANSWER bytes, all of it within --timeout of the headers."""
        deadline = time.monotonic() + self.options.timeout
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := response.raw.read1(65536, decode_content=True):
                size += len(chunk)
                if size > MAX_ANSWER:
                    raise MalformedAnswer(f"an answer over {MAX_ANSWER >> 20} MiB")
                if time.monotonic() > deadline:
                    raise MalformedAnswer(f"the answer did not arrive within {self.options.timeout:g} s")
                chunks.append(chunk)
        finally:
            if size > MAX_ANSWER or time.monotonic() > deadline:
                response.close()
        response._content = b"".join(chunks)
        response.raw.release_conn()  # keep-alive: the connection goes back to the pool for the next row

    def close(self) -> None:
        self.session.close()


def fetch_token(http: Http, token_url: str, credentials: Credentials) -> Token:
    """Ask the token service for a new access token (client credentials)."""
    scrub = Scrubber(credentials.client_secret, basic_user=credentials.client_id)
    try:
        return _fetch_token(http, token_url, credentials, scrub)
    except CgError as exc:
        raise scrubbed(exc, scrub) from None


def _fetch_token(http: Http, token_url: str, credentials: Credentials, scrub: Scrubber) -> Token:
    form = urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
        }
    ).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    response = http.send("POST", token_url, form, headers, scrub)
    if response.status_code in (400, 401, 403):
        raise AuthError(
            f"the token service rejected the client id and secret ({response.status_code}{message_suffix(response)})",
            hint="check the client id, the secret and the region",
        )
    if response.status_code != 200:
        raise status_error(response, "token service", http.options)
    host = urlsplit(token_url).netloc
    unusable = NetworkError(f"the token service at {host} answered 200 without a usable access token")
    try:
        data = response.json()
        access_token = data["access_token"]
        lifetime = data.get("expires_in")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise unusable from None
    if not usable_token_text(access_token):
        raise unusable  # never echoed: a token with a newline would break, or leak through, the header
    now = time.time()
    number = float(lifetime) if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) else None
    return Token(access_token, now + clamp_lifetime(number), now)


class RecordsClient:
    """PUT /records/ with the shared token: one refresh and one retry on 401."""

    def __init__(self, records_url: str, tokens: TokenProvider, options: HttpOptions | None = None) -> None:
        self.records_url = records_url
        self.tokens = tokens
        self.http = Http(options)

    def put(self, content_type: str, body: bytes) -> None:
        token = self.tokens.get()
        scrub = Scrubber(token, *self.tokens.secrets)
        try:
            self._put_with_refresh(content_type, body, token, scrub)
        except CgError as exc:
            current = self.tokens.token.access_token if self.tokens.token else ""
            raise scrubbed(exc, Scrubber(token, current, *self.tokens.secrets)) from None

    def _put_with_refresh(self, content_type: str, body: bytes, token: str, scrub: Scrubber) -> None:
        response = self._put(content_type, body, token, scrub)
        if response.status_code == 401:
            log.info("  401: refreshing the access token and retrying once")
            token = self.tokens.refresh(stale=token)
            scrub = Scrubber(token, *self.tokens.secrets)
            response = self._put(content_type, body, token, scrub)
            if response.status_code == 401:
                raise AuthError(
                    f"the records service refused the access token even after a refresh{message_suffix(response)}",
                    hint="check that the Connected App may use the PUT Records API in this region",
                )
        raise_for_response(response, "records service", self.http.options)

    def _put(self, content_type: str, body: bytes, token: str, scrub: Scrubber) -> requests.Response:
        return self.http.send("PUT", self.records_url, body, request_headers(content_type, token), scrub)

    def close(self) -> None:
        self.http.close()


def scrubbed(exc: CgError, scrub: Scrubber) -> CgError:
    """`exc` with any secret a server echoed back (a misconfigured proxy, say) replaced by ***."""
    exc.message = scrub(exc.message)
    if isinstance(exc, ApiValidationError):
        exc.summary = scrub(exc.summary)
        exc.errors = {scrub(field): [scrub(m) for m in messages] for field, messages in exc.errors.items()}
    return exc
