"""Access tokens: cached on disk per auth URL, client id and secret, shared by
threads, and refreshed by one process at a time.

This module never talks HTTP itself (the fetch function is given to it), so a
command with a cached token never imports requests.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, TypeGuard

from cg_cli.config.storage import CorruptFileError, read_private_json, remove_file, write_private_json
from cg_cli.constants import TOKEN_EXPIRY_MARGIN
from cg_cli.output import log

DEFAULT_LIFETIME = 3600.0  # what the API documents; used when a token service names none (or nonsense)
MIN_LIFETIME = 60.0
MAX_LIFETIME = 86_400.0
LOCK_TIMEOUT = 60.0  # seconds to wait for another process's refresh
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750: what may follow "Bearer "


def usable_token_text(value: object) -> TypeGuard[str]:
    """An access token that can go in an Authorization header as it is (no newline, no space)."""
    return isinstance(value, str) and _B64TOKEN.fullmatch(value) is not None


def clamp_lifetime(seconds: float | None) -> float:
    """A token lifetime between a minute and a day: 0, -5 or NaN would fetch per row, Infinity never."""
    if seconds is None or not math.isfinite(seconds):
        return DEFAULT_LIFETIME
    return min(max(seconds, MIN_LIFETIME), MAX_LIFETIME)


class Token(NamedTuple):
    access_token: str
    expires_at: float
    issued_at: float

    def __repr__(self) -> str:
        return f"Token(access_token='***', expires_at={self.expires_at}, issued_at={self.issued_at})"

    def usable(self, now: float | None = None) -> bool:
        """Valid for a while yet: 60 s, or a tenth of a short lifetime."""
        now = time.time() if now is None else now
        margin = min(TOKEN_EXPIRY_MARGIN, (self.expires_at - self.issued_at) / 10)
        return self.expires_at - margin > now


class TokenCache:
    """One private file per (auth URL, client id, secret): a rotated or wrong secret never finds
    the token another one earned, so `cg auth status` vouches only for credentials seen to work."""

    def __init__(self, config_dir: Path, auth_url: str, client_id: str, client_secret: str) -> None:
        key = f"{auth_url}\0{client_id}\0{client_secret}".encode()
        self.config_dir = config_dir
        self.path = config_dir / "tokens" / f"{hashlib.sha256(key).hexdigest()[:32]}.json"
        self._unwritable_said = False

    def load(self) -> Token | None:
        try:
            data = read_private_json(self.path, trusted_root=self.config_dir)
        except CorruptFileError as exc:
            log.warning("warning: %s; discarding it and fetching a new token", exc.message)
            self.clear()
            return None
        if data is None:
            return None
        token = data.get("access_token")
        expires_at, issued_at = _number(data.get("expires_at")), _number(data.get("issued_at"))
        if not usable_token_text(token) or expires_at is None or issued_at is None:
            log.warning("warning: token cache %s is not valid; discarding it", self.path)
            self.clear()
            return None
        return Token(token, expires_at, issued_at)

    def save(self, token: Token) -> None:
        """Keep the token; a config dir that cannot take it costs a warning, not the push."""
        try:
            write_private_json(
                self.path,
                {"access_token": token.access_token, "expires_at": token.expires_at, "issued_at": token.issued_at},
            )
        except OSError as exc:
            self._say_unwritable(exc)

    def clear(self) -> bool:
        try:
            return remove_file(self.path)
        except OSError:
            return False

    @contextmanager
    def refreshing(self) -> Iterator[None]:
        """Hold the cache's lock while refreshing, so parallel `cg` processes ask the token service once."""
        from filelock import FileLock, Timeout

        lock_path = self.path.with_suffix(".lock")
        try:
            write_dir_ready = lock_path.parent.is_dir() or _make_private_dir(lock_path.parent)
            lock = FileLock(str(lock_path), timeout=LOCK_TIMEOUT, mode=0o600) if write_dir_ready else None
            if lock is not None:
                lock.acquire()
        except (OSError, Timeout) as exc:
            self._say_unwritable(exc)
            lock = None
        try:
            yield
        finally:
            if lock is not None:
                lock.release()

    def _say_unwritable(self, exc: BaseException) -> None:
        if not self._unwritable_said:
            self._unwritable_said = True
            reason = getattr(exc, "strerror", None) or exc.__class__.__name__
            log.warning(
                "warning: cannot cache the token in %s (%s); going on without the cache", self.path.parent, reason
            )


def _make_private_dir(path: Path) -> bool:
    from cg_cli.config.storage import ensure_private_dir

    ensure_private_dir(path)
    return True


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


class TokenProvider:
    """The one token a process uses; refreshed by a single thread (and process) at a time."""

    def __init__(
        self, fetch: Callable[[], Token], cache: TokenCache | None = None, *, secrets: tuple[str, ...] = ()
    ) -> None:
        self._fetch = fetch
        self._cache = cache
        self.secrets = secrets  # what any answer that echoes them must not show (the client secret)
        self._lock = threading.Lock()
        self._token: Token | None = None

    def cached(self) -> Token | None:
        """A usable token without asking the token service, if there is one."""
        with self._lock:
            if self._token is None and self._cache is not None:
                self._token = self._cache.load()
            if self._token is not None and self._token.usable():
                return self._token
            return None

    def get(self) -> str:
        token = self.cached()
        if token is not None:
            return token.access_token
        return self.refresh(stale=None)

    def refresh(self, stale: str | None) -> str:
        """A fresh token; threads (and processes) that saw the same stale token share one fetch."""
        with self._lock:
            current = self._token
            if current is not None and current.access_token != stale and current.usable():
                return current.access_token
            if self._cache is None:
                self._token = self._fetch()
                return self._token.access_token
            with self._cache.refreshing():
                shared = self._cache.load()  # another process may have refreshed while this one waited
                if shared is not None and shared.access_token != stale and shared.usable():
                    self._token = shared
                    return shared.access_token
                self._token = self._fetch()
                self._cache.save(self._token)
            return self._token.access_token

    @property
    def token(self) -> Token | None:
        return self._token
