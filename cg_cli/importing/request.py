"""What a `records import` was asked to do, the checks its options must pass, and the files it keeps
beside the input (journal, failed file, results): where they are, and the rules for reusing them."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cg_cli.errors import UsageError
from cg_cli.importing.delivery import Destination, Kind, kind_of
from cg_cli.importing.duplicates import DuplicatePolicy
from cg_cli.importing.failed_file import default_failed_path
from cg_cli.importing.journal import (
    FAILED,
    SENT,
    UNCHANGED,
    Journal,
    default_journal_path,
    journal_fingerprint,
    row_digest,
)
from cg_cli.importing.lock import WriterLock
from cg_cli.importing.outputs import FAILED_FILE, JOURNAL, JUNIT, RESULTS_FILE, STATE, Output, check_outputs
from cg_cli.records.readers import ReadOptions, RecordFile

if TYPE_CHECKING:
    from cg_cli.config.targets import Target


@dataclass(frozen=True)
class ImportRequest:
    file: str
    target: Target
    read: ReadOptions = field(default_factory=ReadOptions)
    check: bool = True  # --no-check turns the mapping checks off
    duplicates: DuplicatePolicy = DuplicatePolicy.ORDERED
    results_path: Path | None = None
    state_path: Path | None = None  # --state: skip records the service already holds unchanged
    full: bool = False  # --full: send every row anyway, still updating the state
    workers: int | None = None  # None: adaptive (--workers auto); else a ceiling
    rate: float | None = None
    failed_path: Path | None = None
    journal_path: Path | None = None
    resume: bool = False
    restart: bool = False
    dry_run: bool = False
    junit_path: Path | None = None  # written by the command; checked here with the other outputs
    where: Destination | None = None  # the records URL, token URL and client id rows go to

    @property
    def destination(self) -> Destination:
        """The target of this run's sends: what journals and states are bound to."""
        return self.where or Destination(self.target.reference)

    def check_options(self) -> None:
        """Options that cannot go together, refused before any file is opened."""
        if self.resume and self.restart:
            raise UsageError("give --resume or --restart, not both")
        if self.rate is not None and not (math.isfinite(self.rate) and self.rate > 0):
            raise UsageError(f"--rate must be a number of requests per second above 0, not {self.rate}")
        if self.file == "-" and self.duplicates != DuplicatePolicy.ORDERED:
            raise UsageError(
                f"--duplicates {self.duplicates} needs the whole file before sending; stdin cannot be read twice",
                hint="write the input to a file first, or use --duplicates ordered",
            )
        mapping = self.target.mapping
        if self.duplicates == DuplicatePolicy.LAST and kind_of(mapping.type if mapping else None) == Kind.EVENT:
            raise UsageError(
                f"--duplicates last would drop survey responses: every row of a {mapping.type if mapping else ''} "
                "mapping is an event of its own",
                hint="use --duplicates ordered (every row, once) or --duplicates error (refuse repeated keys)",
            )
        if self.full and self.state_path is None:
            raise UsageError("--full goes with --state PATH", hint="--full sends every row and still updates the state")


class ImportFiles:
    """The journal and failed file of one request: their paths, and whether an earlier run's may be reused."""

    def __init__(self, request: ImportRequest, notice: Callable[[str], None]) -> None:
        self.request = request
        self._notice = notice

    @property
    def journal_path(self) -> Path:
        return self.request.journal_path or default_journal_path(self.request.file)

    def failed_path(self, records: RecordFile) -> Path:
        return self.request.failed_path or default_failed_path(self.request.file, records.format)

    @functools.cached_property
    def fingerprint(self) -> str | None:
        return input_fingerprint(self.request.file)

    @functools.cached_property
    def journal_saw_this_input(self) -> bool:
        """The journal recorded this very file (asked before this run records its own fingerprint)."""
        seen = journal_fingerprint(self.journal_path)
        return seen is not None and seen == self.fingerprint

    def refuse_shared_paths(self, records: RecordFile) -> None:
        """Before anything is created, read twice or sent: every output can be opened, and none is the input."""
        request = self.request
        writes = not request.dry_run  # a dry run writes no journal or failed file
        outputs = [
            (JOURNAL, self.journal_path if writes else None),
            (FAILED_FILE, self.failed_path(records) if writes else None),
            (RESULTS_FILE, request.results_path),
            (STATE, request.state_path),
            (JUNIT, request.junit_path),
        ]
        check_outputs(request.file, [Output(role, path) for role, path in outputs if path is not None])

    @contextlib.contextmanager
    def holding_the_journal(self) -> Iterator[None]:
        """The journal's lock, for the whole run; its lock file goes when the journal does."""
        lock = WriterLock(self.journal_path, "journal")
        lock.acquire()
        try:
            yield
        finally:
            lock.release(remove=not self.journal_path.exists())

    def refuse_an_unfinished_journal(self) -> None:
        """An earlier run's journal and neither --resume nor --restart: say how that run ended, and the choices."""
        request = self.request
        journal = Journal(self.journal_path, request.destination)
        if not journal.exists() or request.resume or request.restart:
            return
        try:
            journal.open(create=False)
            what = journal.describe()
        finally:
            journal.close()
        raise UsageError(
            f"journal {journal.path} exists: {what}",
            hint="pass --resume to send only the rows not yet accepted (rows that failed stay failed), "
            "or --restart to discard the journal and send every row",
        )

    def start_journal(self, journal: Journal) -> bool:
        """Open the journal under the resume rules; True when this run resumes an earlier one."""
        if journal.exists() and self.request.restart:
            journal.remove()
        existed = journal.exists()  # without --resume or --restart, the run has refused it already
        journal.open(create=True)
        return existed and self.request.resume

    def say_what_changed(self, journal: Journal) -> set[bytes]:
        """Before sending: how many journaled rows the input no longer holds as they were; and the keys
        of the accounts those rows were sent for (their rows that are still there go again, in order)."""
        if self.fingerprint is None or self.journal_saw_this_input:
            return set()  # stdin cannot be read twice: a changed row is named when the run reaches it
        changed, keys = count_changed_rows(journal, self.request.file, self.request.read)
        if changed:
            self._notice(
                f"{self.request.file} changed since the journal was written: {changed} journaled row(s) "
                "no longer match and are sent as new rows"
            )
        return keys


def input_fingerprint(path: str) -> str | None:
    """Size, modification time and the first 64 KiB of a file: when it matches, the pre-pass is skipped."""
    if path == "-":
        return None
    try:
        info = os.stat(path)
        with open(path, "rb") as stream:
            head = hashlib.blake2b(stream.read(1 << 16), digest_size=16).hexdigest()
    except OSError:
        return None
    return f"{info.st_size}:{info.st_mtime_ns}:{head}"


def count_changed_rows(journal: Journal, path: str, read: ReadOptions) -> tuple[int, set[bytes]]:
    """Journaled final rows that the input no longer holds with the same content at the same row, and
    the keys of those that were sent (what the service holds for them may not be in the input any more)."""
    final = journal.count(SENT) + journal.count(FAILED) + journal.count(UNCHANGED)
    matched = last = 0
    keys: set[bytes] = set()
    with RecordFile(path, options=read) as records:
        for row in records:
            last = row.number
            previous = journal.previous(row.number)
            if previous is None or previous[1] not in (SENT, FAILED, UNCHANGED):
                continue
            if previous[0] == row_digest(row):
                matched += 1
            elif previous[1] == SENT and previous[2] is not None:
                keys.add(previous[2])
    return final - matched, keys | journal.sent_keys_after(last)
