"""Marks that must be on disk before a request leaves, written by many worker threads: one commit
serves every worker waiting at that moment (a group commit), so surveys are not slowed to one
fsync per row. Used by the journal (rows in flight) and the state (keys about to change)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")


class GroupCommit(Generic[Item]):
    def __init__(self, write_and_commit: Callable[[list[Item]], None]) -> None:
        self._write_and_commit = write_and_commit
        self._items: list[Item] = []
        self._cond = threading.Condition()
        self._queued = 0
        self._done = 0
        self._writing = False

    def write(self, item: Item) -> None:
        """Return once `item` is committed (by this thread or another); raise what the commit raised."""
        with self._cond:
            self._items.append(item)
            self._queued += 1
            mine = self._queued
            while self._done < mine:
                if self._writing:
                    self._cond.wait()
                    continue
                batch, self._items = self._items, []
                self._writing = True
                self._cond.release()
                try:
                    self._write_and_commit(batch)
                finally:
                    self._cond.acquire()
                    self._writing = False
                    self._done += len(batch)
                    self._cond.notify_all()
