"""Rows of one export that share an identity key (the same account on five rows).

The index lives in a temporary SQLite file, so a file of any size is scanned in
flat memory. It answers what the pre-flight reports (how many keys repeat, the
first few rows) and, for `--duplicates last`, whether a row is superseded by a
later row with the same key.
"""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from cg_cli.records.mappings import identity_keys
from cg_cli.records.readers import ReadOptions, Row

SLICE = 8192
EXAMPLES = 3
ROWS_SHOWN = 5  # rows named for each repeated key


class DuplicatePolicy(StrEnum):
    ORDERED = "ordered"  # send every row; rows sharing a key in file order (the default)
    LAST = "last"  # send only the last row of each key
    ERROR = "error"  # refuse the file (exit 4) when a key repeats


class Repeat(NamedTuple):
    key: str  # "Account Name 'ACME'"
    rows: list[int]  # the first few rows holding it
    rows_total: int = 0  # every row holding it

    def as_json(self) -> dict[str, object]:
        return {"key": self.key, "rows": self.rows, "rows_truncated": self.rows_total > len(self.rows)}


class DuplicateReport(NamedTuple):
    keys: int  # keys that appear on more than one row
    rows: int  # rows holding such a key
    first: list[Repeat]
    read: int = 0  # every row of the file: what an import that stops early did not send is counted from it

    def as_json(self) -> dict[str, object]:
        return {
            "keys": self.keys,
            "rows": self.rows,
            "first": [r.as_json() for r in self.first],
            "first_truncated": self.keys > len(self.first),
        }

    def describe(self) -> str:
        if not self.keys:
            return "no identity key repeats"
        shown = "; ".join(f"{r.key} on rows {', '.join(map(str, r.rows))}" for r in self.first)
        return f"{self.keys} identity key(s) repeat on {self.rows} rows (first: {shown})"


class DuplicateIndex:
    def __init__(self, mapping_type: str | None) -> None:
        self.mapping_type = mapping_type
        self._dir = tempfile.TemporaryDirectory(prefix="cg-keys-")
        self._db = sqlite3.connect(Path(self._dir.name) / "keys.sqlite", isolation_level=None)
        # A throwaway file: no rollback journal, no fsync; a 1 MiB cache keeps a file of any size in flat memory.
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1024; PRAGMA temp_store=FILE;"
            "CREATE TABLE k (hash INTEGER, row INTEGER, key BLOB);"
        )
        self._slice_start = -1
        self._slice: set[int] = set()

    def build(self, rows: Iterable[Row]) -> DuplicateReport:
        """Read every row's key; the rows' content is not kept."""
        batch: list[tuple[int, int, bytes]] = []
        read = 0
        self._db.execute("BEGIN")
        for row in rows:
            read += 1
            keys = identity_keys(self.mapping_type, row.record) if row.error is None else ()
            if keys:
                encoded = keys[0].encode("utf-8", "surrogatepass")  # a JSON "\ud800" is text SQLite refuses
                batch.append((_hash(encoded), row.number, encoded))
            if len(batch) >= SLICE:
                self._db.executemany("INSERT INTO k VALUES (?, ?, ?)", batch)
                batch.clear()
        self._db.executemany("INSERT INTO k VALUES (?, ?, ?)", batch)
        self._db.execute("COMMIT")
        self._db.execute("CREATE INDEX k_hash ON k (hash, row)")
        repeating = self._db.execute(
            "SELECT hash, count(*) AS n, min(row) AS first FROM k GROUP BY hash HAVING n > 1 ORDER BY first"
        ).fetchall()
        first = []
        for key_hash, count, _ in repeating[:EXAMPLES]:
            found = self._db.execute(
                "SELECT row, key FROM k WHERE hash = ? ORDER BY row LIMIT ?", (key_hash, ROWS_SHOWN)
            )
            rows = found.fetchall()
            first.append(Repeat(_shown(rows[0][1]), [r for r, _ in rows], count))
        return DuplicateReport(len(repeating), sum(n for _, n, _ in repeating), first, read)

    def superseded(self, number: int) -> bool:
        """A later row has the same key (`--duplicates last` skips this one). Rows are asked in order."""
        if self._slice_start == -1:
            self._db.execute(
                "CREATE TABLE superseded AS SELECT k.row AS row FROM k JOIN "
                "(SELECT hash, max(row) AS last FROM k GROUP BY hash HAVING count(*) > 1) AS r "
                "ON k.hash = r.hash WHERE k.row < r.last"
            )
            self._db.execute("CREATE INDEX superseded_row ON superseded (row)")
        start = number - number % SLICE
        if start != self._slice_start:
            found = self._db.execute("SELECT row FROM superseded WHERE row >= ? AND row < ?", (start, start + SLICE))
            self._slice = {row for (row,) in found}
            self._slice_start = start
        return number in self._slice

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


def scan(path: str, options: ReadOptions, mapping_type: str | None) -> DuplicateReport:
    """Which identity keys of a file repeat."""
    from cg_cli.records.readers import RecordFile

    index = DuplicateIndex(mapping_type)
    try:
        with RecordFile(path, options=options) as rows:
            return index.build(rows)
    finally:
        index.close()


def _hash(key: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big", signed=True)


def _shown(key: bytes) -> str:
    field, _, value = key.decode("utf-8", "surrogatepass").partition("\0")
    return f"{field} {value!r}"
