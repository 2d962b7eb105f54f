"""What each target already holds, for incremental pushes (`records import --state PATH`).

One SQLite file (WAL) can serve several targets (a target: records URL, token URL, client id and
configuration). Per target and key it holds the digest of the row last accepted (200), or, for a
survey event that may have arrived, that event marked uncertain. Keys and what they mean are the
delivery model's (`delivery.py`). A record is remembered as accepted only after the service
accepted it; a key about to change is forgotten, durably, before its body leaves. So a kill at any
moment leaves a state that is true for every record it lists. Lookups go to the file, never to a
copy in memory. One process writes a state at a time (`PATH.lock`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from cg_cli.errors import UsageError
from cg_cli.importing.group_commit import GroupCommit
from cg_cli.importing.journal import as_destination
from cg_cli.importing.lock import WriterLock

if TYPE_CHECKING:
    from cg_cli.importing.delivery import Destination

SCHEMA = "2"
ACCEPTED = "A"
UNCERTAIN = "U"


class StateError(UsageError):
    """The state file cannot be read or written."""


class TargetState(NamedTuple):
    configuration: str
    records_url: str
    client_id: str
    records: int
    uncertain: int
    first_pushed: float
    last_pushed: float


class StateStore:
    def __init__(self, path: Path, destination: Destination | str, *, write: bool = True) -> None:
        destination = as_destination(destination)
        self.path = path
        self.target = destination.key
        self._lock = threading.Lock()
        self._writer = WriterLock(path, "state") if write else None
        if self._writer is not None:
            self._writer.acquire()
        try:
            self._db = _connect(path, create=write)
            if write:
                self._db.execute(
                    "INSERT OR REPLACE INTO targets (target, configuration, records_url, token_url, client_id) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        self.target,
                        destination.configuration,
                        destination.records_url,
                        destination.token_url,
                        destination.client_id,
                    ),
                )
        except BaseException:
            if self._writer is not None:
                self._writer.release()
            raise
        self._marks: GroupCommit[tuple[str, bytes | None]] = GroupCommit(self._write_marks)

    def unchanged(self, key: str, digest: bytes) -> bool:
        """The target accepted exactly this digest for `key` (an entity's question; see delivery.py)."""
        return self.lookup(key) == (digest, True)

    def lookup(self, key: str) -> tuple[bytes, bool] | None:
        with self._lock:
            found = self._db.execute(
                "SELECT digest, status FROM records WHERE target = ? AND key = ?", (self.target, key)
            ).fetchone()
        return None if found is None else (bytes(found[0]), found[1] == ACCEPTED)

    def before_send(self, key: str, event_digest: bytes | None) -> None:
        self._marks.write((key, event_digest))

    def remember(self, key: str, digest: bytes) -> None:
        self._set(key, digest, ACCEPTED)

    def mark_uncertain(self, key: str, digest: bytes) -> None:
        self._set(key, digest, UNCERTAIN)

    def forget_uncertain(self, key: str) -> None:
        with self._lock:
            self._run("DELETE FROM records WHERE target = ? AND key = ? AND status = 'U'", [(self.target, key)])

    def commit(self) -> None:
        with self._lock:
            self._commit()

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self._db.close()
            if self._writer is not None:
                self._writer.release()

    def _set(self, key: str, digest: bytes, status: str) -> None:
        with self._lock:
            self._run(
                "INSERT OR REPLACE INTO records (target, key, digest, status, pushed_at) VALUES (?, ?, ?, ?, ?)",
                [(self.target, key, digest, status, time.time())],
            )

    def _write_marks(self, batch: list[tuple[str, bytes | None]]) -> None:
        with self._lock:
            self._run(
                "DELETE FROM records WHERE target = ? AND key = ?", [(self.target, k) for k, d in batch if d is None]
            )
            now = time.time()
            self._run(
                "INSERT OR REPLACE INTO records (target, key, digest, status, pushed_at) VALUES (?, ?, ?, 'U', ?)",
                [(self.target, k, d, now) for k, d in batch if d is not None],
            )
            self._commit()

    def _run(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        if not rows:
            return
        try:
            if not self._db.in_transaction:
                self._db.execute("BEGIN")
            self._db.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise StateError(f"cannot write the state {self.path} ({exc})") from None

    def _commit(self) -> None:
        if self._db.in_transaction:
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StateError(f"cannot write the state {self.path} ({exc})") from None


def describe_state(path: Path) -> list[TargetState]:
    """Per target: how many records the state holds (and how many may have arrived), when they were pushed."""
    rows = _read(
        path,
        "SELECT t.configuration, t.records_url, t.client_id, count(*), sum(r.status = 'U'), min(r.pushed_at), "
        "max(r.pushed_at) FROM records r JOIN targets t USING (target) GROUP BY r.target "
        "ORDER BY t.configuration, t.records_url, t.client_id",
    )
    return [TargetState(*row) for row in rows]


def known_configurations(path: Path) -> list[str]:
    """The configurations the state at `path` was pushed to, at any target (their records forgotten or not)."""
    return [str(row[0]) for row in _read(path, "SELECT DISTINCT configuration FROM targets ORDER BY configuration")]


def _read(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """The rows `sql` finds in the existing state at `path`, opened for this query only."""
    if not path.is_file():
        raise StateError(f"state {path} does not exist")
    db = _connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def configuration_named(path: Path, given: str, mapping_reference: Callable[[str], str | None]) -> str:
    """The configuration `given` names in the state at `path`: itself when the state knows it, else the
    reference of the mapping of that name (`mapping_reference`, asked only then). Refused when the state
    knows neither: forgetting nothing would read as a success."""
    known = known_configurations(path)
    if given in known:
        return given
    reference = mapping_reference(given)
    if reference is not None and reference in known:
        return reference
    named = f"{reference!r} (mapping {given}; " if reference is not None else f"{given!r} ("
    raise StateError(f"state {path} holds no configuration {named}it holds: {', '.join(known) or 'none'})")


def forget_configuration(path: Path, configuration: str, *, only_uncertain: bool = False) -> int:
    """Drop what the state holds for one configuration, at every target (its next push is a full one);
    `only_uncertain`: only its survey rows that may have arrived (a human checked them)."""
    if not path.is_file():
        raise StateError(f"state {path} does not exist")
    writer = WriterLock(path, "state")
    writer.acquire()
    try:
        db = _connect(path)
        try:
            count = db.execute(
                "DELETE FROM records WHERE target IN (SELECT target FROM targets WHERE configuration = ?)"
                + (" AND status = 'U'" if only_uncertain else ""),
                (configuration,),
            ).rowcount
        finally:
            db.close()
    finally:
        writer.release()
    return int(count)


def _connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """The state at `path`; without `create` (a dry run), a missing one is an empty state in memory, no file."""
    if path.exists() and not path.is_file():
        raise StateError(f"state {path} is not a regular file", hint="pass another --state")
    where = path if create or path.exists() else ":memory:"
    try:
        db = sqlite3.connect(where, isolation_level=None, check_same_thread=False, timeout=10)
        db.execute("PRAGMA journal_mode=WAL").fetchone()
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('version', ?)", (SCHEMA,))
        version = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]
        if version == SCHEMA:
            db.execute(
                "CREATE TABLE IF NOT EXISTS targets (target TEXT PRIMARY KEY, configuration TEXT NOT NULL, "
                "records_url TEXT NOT NULL, token_url TEXT NOT NULL, client_id TEXT NOT NULL)"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS records (target TEXT NOT NULL, key TEXT NOT NULL, digest BLOB NOT NULL, "
                "status TEXT NOT NULL, pushed_at REAL NOT NULL, PRIMARY KEY (target, key)) WITHOUT ROWID"
            )
    except sqlite3.DatabaseError as exc:
        raise StateError(
            f"state {path} is not a cg state file or cannot be opened ({exc})",
            hint="pass another --state, or delete it (the next push is then a full one)",
        ) from None
    if version != SCHEMA:
        db.close()
        raise StateError(
            f"state {path} was written by another version of cg (state format {version}, this cg reads {SCHEMA}); "
            "format 1 did not record which host and client each record went to",
            hint="delete it (the next push is then a full one: accounts are sent again; check survey mappings "
            "first), or pass another --state",
        )
    return db
