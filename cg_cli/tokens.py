"""Access tokens: cached on disk per auth URL and client id, shared by threads.

This module never talks HTTP itself (the fetch function is given to it), so a
command with a cached token never imports requests.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from cg_cli import log
from cg_cli.constants import TOKEN_EXPIRY_MARGIN
from cg_cli.storage import CorruptFileError, read_private_json, remove_file, write_private_json


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
        self.path = config_dir / "tokens" / f"{hashlib.sha256(key).hexdigest()[:32]}.json"

    def load(self) -> Token | None:
        try:
            data = read_private_json(self.path)
        except CorruptFileError as exc:
            log.warning("warning: %s; discarding it and fetching a new token", exc.message)
            self.clear()
            return None
        if data is None:
            return None
        token = data.get("access_token")
        expires_at, issued_at = _number(data.get("expires_at")), _number(data.get("issued_at"))
        if not isinstance(token, str) or expires_at is None or issued_at is None:
            log.warning("warning: token cache %s is not valid; discarding it", self.path)
            self.clear()
            return None
        return Token(token, expires_at, issued_at)

    def save(self, token: Token) -> None:
        write_private_json(
            self.path,
            {"access_token": token.access_token, "expires_at": token.expires_at, "issued_at": token.issued_at},
        )

    def clear(self) -> bool:
        return remove_file(self.path)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class TokenProvider:
    """The one token a process uses; refreshed by a single thread at a time."""

    def __init__(self, fetch: Callable[[], Token], cache: TokenCache | None = None) -> None:
        self._fetch = fetch
        self._cache = cache
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
        """A fresh token; threads that saw the same stale token share one fetch."""
        with self._lock:
            current = self._token
            if current is not None and current.access_token != stale and current.usable():
                return current.access_token
            self._token = self._fetch()
            if self._cache is not None:
                self._cache.save(self._token)
            return self._token.access_token

    @property
    def token(self) -> Token | None:
        return self._token
