"""What the service already holds, for incremental pushes (`records import --state PATH`).

One SQLite file (WAL) can serve several mappings: for each configuration, each
identity key's digest of the record last accepted (200) and when. A record is
remembered only after the service accepted it, and each batch is committed as
outcomes arrive, so a kill at any moment leaves a state that is true for every
record it lists. Lookups go to the file, never to a copy in memory.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import NamedTuple

from cg_cli.errors import UsageError

SCHEMA = "1"


class StateError(UsageError):
    """The state file cannot be read or written."""


class ConfigurationState(NamedTuple):
    configuration: str
    records: int
    first_pushed: float
    last_pushed: float


class StateStore:
    def __init__(self, path: Path, configuration: str, *, full: bool = False) -> None:
        self.path = path
        self.configuration = configuration
        self.full = full  # --full: send everything, but still remember what was accepted
        self._lock = threading.Lock()
        self._db = _connect(path)

    def unchanged(self, key: str, digest: bytes) -> bool:
        if self.full:
            return False
        with self._lock:
            found = self._db.execute(
                "SELECT digest FROM records WHERE configuration = ? AND key = ?", (self.configuration, key)
            ).fetchone()
        return found is not None and found[0] == digest

    def remember(self, key: str, digest: bytes) -> None:
        with self._lock:
            try:
                if not self._db.in_transaction:
                    self._db.execute("BEGIN")
                self._db.execute(
                    "INSERT OR REPLACE INTO records (configuration, key, digest, pushed_at) VALUES (?, ?, ?, ?)",
                    (self.configuration, key, digest, time.time()),
                )
            except sqlite3.Error as exc:
                raise StateError(f"cannot write the state {self.path} ({exc})") from None

    def commit(self) -> None:
        with self._lock:
            if self._db.in_transaction:
                try:
                    self._db.execute("COMMIT")
                except sqlite3.Error as exc:
                    raise StateError(f"cannot write the state {self.path} ({exc})") from None

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self._db.close()


def describe_state(path: Path) -> list[ConfigurationState]:
    """Per configuration: how many records the state holds and when they were pushed."""
    if not path.is_file():
        raise StateError(f"state {path} does not exist")
    db = _connect(path)
    try:
        rows = db.execute(
            "SELECT configuration, count(*), min(pushed_at), max(pushed_at) FROM records GROUP BY configuration "
            "ORDER BY configuration"
        ).fetchall()
    finally:
        db.close()
    return [ConfigurationState(*row) for row in rows]


def forget_configuration(path: Path, configuration: str) -> int:
    """Drop what the state holds for one configuration (its next push is a full one); how many records."""
    if not path.is_file():
        raise StateError(f"state {path} does not exist")
    db = _connect(path)
    try:
        count = db.execute("DELETE FROM records WHERE configuration = ?", (configuration,)).rowcount
    finally:
        db.close()
    return int(count)


def _connect(path: Path) -> sqlite3.Connection:
    if path.exists() and not path.is_file():
        raise StateError(f"state {path} is not a regular file", hint="pass another --state")
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        db.execute("PRAGMA journal_mode=WAL").fetchone()
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute(
            "CREATE TABLE IF NOT EXISTS records (configuration TEXT NOT NULL, key TEXT NOT NULL, "
            "digest BLOB NOT NULL, pushed_at REAL NOT NULL, PRIMARY KEY (configuration, key)) WITHOUT ROWID"
        )
        db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('version', ?)", (SCHEMA,))
        version = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StateError(
            f"state {path} is not a cg state file or cannot be opened ({exc})",
            hint="pass another --state, or delete it (the next push is then a full one)",
        ) from None
    if version != SCHEMA:
        db.close()
        raise StateError(
            f"state {path} was written by another version of cg", hint="delete it, or pass another --state"
        )
    return db
