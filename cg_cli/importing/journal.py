"""The journal `records import` keeps beside its input, in SQLite (WAL).

It binds each row's outcome to the row's content: a row is the pair (row
number, digest of what it holds). `--resume` skips a row only when the same
number holds the same content and reached a final state before, so an input
that changed, grew a row at the top or was replaced by tomorrow's export is
sent again, never silently skipped.

Statuses: `S` sent, `F` failed for good, `U` unchanged (`--state` said the
target holds it: a resume must not send it behind a later row of its key),
`I` in flight (survey mappings only: marked durably before the request
leaves, so a resume after a hard kill reports the row instead of sending a
second survey).

SQLite gives atomic commits (no torn line can count), bounded memory on
resume (rows are looked up in slices, never loaded whole) and a file that a
crash leaves consistent.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from cg_cli.errors import UsageError
from cg_cli.importing.group_commit import GroupCommit
from cg_cli.importing.lock import followed
from cg_cli.records.readers import Row

if TYPE_CHECKING:
    from cg_cli.importing.delivery import Destination


def as_destination(target: Destination | str) -> Destination:
    """A target; a bare configuration reference is one with no URL or client (for tools and tests)."""
    from cg_cli.importing.delivery import Destination  # delivery.py imports this module

    return Destination(target) if isinstance(target, str) else target


SCHEMA_VERSION = "3"  # 3: bound to a target (records URL, token URL, client id, configuration)
SENT = "S"
FAILED = "F"
IN_FLIGHT = "I"
UNCHANGED = "U"
LOOKUP_SLICE = 8192  # rows fetched per query on resume: flat memory, few queries
SYNC_INTERVAL = 0.25  # outcomes are committed at least this often while rows flow


class RunState(StrEnum):
    """How the last run that used the journal ended."""

    RUNNING = "running"  # never ended: killed, or the machine went down
    FAILED_ROWS = "failed-rows"
    INTERRUPTED = "interrupted"
    STOPPED = "stopped"


# What the journal held for a row: (digest, status, key). A plain tuple: a million are made on a resume.
# The key is a short hash of an account's identity key (None for events and rows that had none).
Previous = tuple[bytes, str, bytes | None]


class JournalError(UsageError):
    """The journal cannot be read or written (a full disk, a read-only directory)."""


def default_journal_path(input_path: str) -> Path:
    """FILE.cg-journal beside the input (its whole name: q.csv and q.jsonl never share one)."""
    return Path("stdin.cg-journal") if input_path == "-" else Path(input_path + ".cg-journal")


def journal_fingerprint(path: Path) -> str | None:
    """The input fingerprint an existing journal recorded, read without opening it for writing."""
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = db.execute("SELECT value FROM meta WHERE key = 'input'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return str(found[0]) if found and found[0] else None


def remove_regular_file(path: Path) -> None:
    """Delete a file cg wrote; never a device or FIFO someone named (`--journal /dev/null` as root)."""
    if path.is_file() and not path.is_symlink():
        path.unlink(missing_ok=True)


def row_digest(row: Row) -> bytes:
    """What identifies a row's content: the record it would send, or the line that could not be read."""
    content = row.original if row.error is not None else row.record
    # repr of the dict (strings, numbers, booleans, in column order) is exact and the cheapest to make.
    return hashlib.blake2b(repr(content).encode("utf-8", "surrogatepass"), digest_size=16).digest()


class Journal:
    """One import's journal. Safe to call from several threads (one lock around the connection)."""

    def __init__(self, path: Path, destination: Destination | str, *, durable_in_flight: bool = False) -> None:
        self.path = path
        self.destination = as_destination(destination)
        self.durable_in_flight = durable_in_flight
        self._db: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._dirty = False
        self._last_commit = 0.0
        self._slice: tuple[int, dict[int, Previous]] | None = None  # the slice read last: its start, its rows
        # Group commit of in-flight marks: workers wait for one fsync shared by all.
        self._marks: GroupCommit[tuple[int, bytes]] = GroupCommit(self._write_marks)

    # -- opening and describing -------------------------------------------------

    def exists(self) -> bool:
        return self.path.exists()

    def open(self, *, create: bool) -> None:
        """Open (or create) the journal; refuses a file that is not one, or one of another configuration."""
        if not create and not self.path.exists():
            raise JournalError(f"journal {self.path} does not exist")
        if self.path.exists() and not self.path.is_file():
            raise JournalError(f"journal {self.path} is not a regular file", hint="pass another --journal")
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5)
            db.execute("PRAGMA journal_mode=WAL").fetchone()
            # Surveys: an in-flight mark must survive a power cut, not only a killed process.
            db.execute(f"PRAGMA synchronous={'FULL' if self.durable_in_flight else 'NORMAL'}")
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS rows (number INTEGER PRIMARY KEY, digest BLOB NOT NULL, "
                "status TEXT NOT NULL, key BLOB)"
            )
            # Events by content, wherever their row stands: a moved or repeated survey row is the same survey.
            db.execute(
                "CREATE TABLE IF NOT EXISTS events (digest BLOB PRIMARY KEY, status TEXT NOT NULL) WITHOUT ROWID"
            )
            if self.durable_in_flight and db.execute("SELECT 1 FROM events LIMIT 1").fetchone() is None:
                # A journal of 0.3.0 kept events by row number only.
                db.execute("INSERT OR IGNORE INTO events SELECT digest, status FROM rows WHERE status IN ('S', 'I')")
        except sqlite3.DatabaseError as exc:
            raise JournalError(
                f"journal {self.path} is not a cg journal or cannot be opened ({exc})",
                hint="pass --restart to discard it and send every row, or --journal to use another file",
            ) from None
        self._db = db
        meta = self._meta()
        if not meta:
            here = self.destination
            self._write_meta({"version": SCHEMA_VERSION, "target": here.key, "target_name": here.describe()})
        elif meta.get("version") != SCHEMA_VERSION:
            raise JournalError(
                f"journal {self.path} was written by another version of cg (journal format {meta.get('version')}, "
                f"this cg reads {SCHEMA_VERSION})",
                hint="pass --restart to discard it and send every row (for survey mappings, check first which "
                "rows arrived), or pass another --journal",
            )
        elif meta.get("target") != self.destination.key:
            raise JournalError(
                f"journal {self.path} was written for {meta.get('target_name')}, "
                f"not {self.destination.describe()}: none of its rows were sent here",
                hint="resume with the settings of that run, pass --restart to discard it and send every row "
                "here, or pass another --journal",
            )

    def describe(self) -> str:
        """How the run that left this journal ended, for the error that refuses to start over it."""
        meta = self._meta()
        failed = self.count(FAILED)
        state = meta.get("state")
        if state == RunState.FAILED_ROWS:
            return f"an earlier import finished with {failed} failed row(s)"
        if state == RunState.INTERRUPTED:
            return f"an earlier import was interrupted after {self.count(SENT)} row(s) were sent"
        if state == RunState.STOPPED:
            return f"an earlier import stopped ({meta.get('reason', 'unknown reason')})"
        return "an earlier import did not finish (it was killed, or the machine went down)"

    def count(self, status: str) -> int:
        with self._lock:
            row = self._conn().execute("SELECT count(*) FROM rows WHERE status = ?", (status,)).fetchone()
        return int(row[0])

    # -- a run ----------------------------------------------------------------------

    def begin_run(self, input_fingerprint: str | None) -> None:
        self._write_meta({"state": RunState.RUNNING, "input": input_fingerprint or ""})

    def end_run(self, state: RunState, reason: str = "") -> None:
        self.commit()
        self._write_meta({"state": state, "reason": reason})

    def previous(self, number: int) -> Previous | None:
        """What the journal held for row `number` when this run reached it; rows are asked in order."""
        start = number - number % LOOKUP_SLICE
        if self._slice is None or self._slice[0] != start:
            with self._lock:
                found = self._conn().execute(
                    "SELECT number, digest, status, key FROM rows WHERE number >= ? AND number < ?",
                    (start, start + LOOKUP_SLICE),
                )
                self._slice = (start, {n: (d, s, k) for n, d, s, k in found})
        return self._slice[1].get(number)

    def record(self, number: int, digest: bytes, status: str, key: bytes | None = None) -> None:
        with self._lock:
            self._write(
                "INSERT OR REPLACE INTO rows (number, digest, status, key) VALUES (?, ?, ?, ?)",
                [(number, digest, status, key)],
            )

    def sent_keys_after(self, number: int) -> set[bytes]:
        """The keys of rows sent beyond row `number` (an input that got shorter)."""
        with self._lock:
            found = self._conn().execute(
                "SELECT DISTINCT key FROM rows WHERE number > ? AND status = 'S' AND key IS NOT NULL", (number,)
            )
            return {bytes(k) for (k,) in found}

    def event(self, digest: bytes) -> str | None:
        """What became of the event with this content, at any row: SENT, IN_FLIGHT (it may have arrived) or None."""
        with self._lock:
            found = self._conn().execute("SELECT status FROM events WHERE digest = ?", (digest,)).fetchone()
        return None if found is None else str(found[0])

    def record_event(self, digest: bytes, status: str) -> None:
        with self._lock:
            self._write("INSERT OR REPLACE INTO events (digest, status) VALUES (?, ?)", [(digest, status)])

    def clear_event(self, digest: bytes) -> None:
        """The event certainly did not arrive (refused, or it never left): a later row with its content may go."""
        with self._lock:
            self._write("DELETE FROM events WHERE digest = ? AND status = 'I'", [(digest,)])

    def forget(self, number: int) -> None:
        """The in-flight mark of a row that never left (the run stopped first)."""
        with self._lock:
            self._write("DELETE FROM rows WHERE number = ? AND status = 'I'", [(number,)])

    def mark_in_flight(self, number: int, digest: bytes) -> None:
        """Durably mark a row in flight before its request leaves; one commit serves every waiting worker."""
        self._marks.write((number, digest))

    def _write_marks(self, batch: list[tuple[int, bytes]]) -> None:
        with self._lock:
            self._write("INSERT OR REPLACE INTO rows (number, digest, status) VALUES (?, ?, 'I')", batch)
            self._write("INSERT OR IGNORE INTO events (digest, status) VALUES (?, 'I')", [(d,) for _, d in batch])
            self.commit()

    def commit_if_due(self) -> None:
        if self._dirty and time.monotonic() - self._last_commit >= SYNC_INTERVAL:
            self.commit()

    def commit(self) -> None:
        with self._lock:
            db = self._db
            if db is not None and db.in_transaction:
                try:
                    db.execute("COMMIT")
                except sqlite3.Error as exc:
                    raise self._write_error(exc) from None
            self._dirty = False
            self._last_commit = time.monotonic()

    def close(self) -> None:
        """Commit what is left and close; a commit that fails still closes, then raises."""
        with self._lock:
            if self._db is None:
                return
            try:
                self.commit()
            finally:
                self._db.close()
                self._db = None

    def remove(self) -> None:
        """Delete the journal and SQLite's side files. Through a symbolic link only a journal this run opened
        (and so knows is one): the file the link leads to goes, the link stays; never an unchecked link's target."""
        where = followed(self.path) if self._db is not None else self.path
        self.close()
        for suffix in ("", "-wal", "-shm"):
            remove_regular_file(Path(f"{where}{suffix}"))

    # -- plumbing -------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise JournalError(f"journal {self.path} is not open")
        return self._db

    def _write(self, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
        """Run `sql` for each of `rows` inside the open transaction (opened here if need be)."""
        db = self._conn()
        try:
            if not db.in_transaction:
                db.execute("BEGIN")
            db.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise self._write_error(exc) from None
        self._dirty = True

    def _write_error(self, exc: sqlite3.Error) -> JournalError:
        return JournalError(
            f"cannot write the journal {self.path} ({exc})",
            hint="free some space or fix the permissions, then rerun the same command with --resume",
        )

    def _meta(self) -> dict[str, str]:
        with self._lock:
            try:
                return dict(self._conn().execute("SELECT key, value FROM meta").fetchall())
            except sqlite3.Error as exc:
                raise JournalError(f"cannot read the journal {self.path} ({exc})") from None

    def _write_meta(self, values: dict[str, str]) -> None:
        with self._lock:
            self._write(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [(k, str(v)) for k, v in values.items()]
            )
            self.commit()
