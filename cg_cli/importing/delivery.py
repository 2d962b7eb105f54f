"""The delivery model: may this body go to this target now? One answer, asked by the journal, the
state, resume and the workers alike (see docs/reliability.md).

- A *target* is where rows go: the records URL, the token URL, the client id and the configuration
  reference. A journal and a state are bound to one target and never skip a row for another.
- A *send* is one exact body to one target.
- Accounts and contacts are **entities**: the last row per identity key wins, at least once. The
  state remembers, per key, the digest of the row the target accepted last; a row that may have
  arrived is forgotten (the next run sends it again).
- Survey-response and multi-object rows are **events**: each distinct row at most once per target,
  ever. The state and the journal remember each event by its digest, wherever its row stands (a
  moved or repeated row is the same event); a row that may have arrived is remembered as such and
  reported, never sent again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from cg_cli.importing import results_file as status
from cg_cli.importing.jobs import Job, Outcome
from cg_cli.importing.journal import FAILED, IN_FLIGHT, SENT, UNCHANGED, Journal
from cg_cli.records.readers import Row

if TYPE_CHECKING:
    from cg_cli.importing.stats import State

EVENT_TYPES = frozenset({"survey-response", "multi-object"})
MAYBE_ARRIVED = (
    "may have arrived: the run was killed while this survey row was in flight; "
    "check in CustomerGauge before you send it again"
)
MAYBE_ARRIVED_BEFORE = (
    "may have arrived: an earlier run could not tell whether this survey row reached this target; "
    "check in CustomerGauge before you send it again"
)


class Kind(StrEnum):
    ENTITY = "entity"  # the last row per identity key wins; resending is harmless
    EVENT = "event"  # every distinct row is one event; resending makes a second survey


def kind_of(mapping_type: str | None) -> Kind:
    """Events only when the mapping says so: a bare --config is treated as an entity (as retries are)."""
    return Kind.EVENT if mapping_type in EVENT_TYPES else Kind.ENTITY


@dataclass(frozen=True)
class Destination:
    """The target of every send of a run."""

    configuration: str
    records_url: str = ""
    token_url: str = ""
    client_id: str = ""

    @property
    def key(self) -> str:
        """A stable name for the target, kept in journals and states (no secret goes into it)."""
        parts = "\n".join((self.records_url, self.token_url, self.client_id, self.configuration))
        return hashlib.blake2b(parts.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()

    def describe(self) -> str:
        where = f" at {self.records_url}" if self.records_url else ""
        client = f" (client {self.client_id})" if self.client_id else ""
        return f"configuration {self.configuration}{where}{client}"


def key_hash(keys: tuple[str, ...]) -> bytes | None:
    """A short, stable name for an account's identity key, as the journal keeps it."""
    if not keys:
        return None
    return hashlib.blake2b(keys[0].encode("utf-8", "surrogatepass"), digest_size=8).digest()


class Verdict(StrEnum):
    SEND = "send"
    SENT_EARLIER = "sent earlier"  # the journal saw this exact row accepted
    FAILED_EARLIER = "failed earlier"  # the journal saw this exact row fail for good
    CHANGED = "changed"  # the journal saw other content at this row: sent as a new row
    AGAIN = "again"  # sent before, but the account's value since came from a row no longer in the input
    MAYBE_ARRIVED = "maybe arrived"  # the journal saw it in flight at a kill: never sent again
    UNCERTAIN = "uncertain"  # the state says an earlier run could not tell if it arrived: never sent again
    UNCHANGED = "unchanged"  # the state says the target holds this exact row


# Looked up once (an enum member is a descriptor lookup): a resume asks for one per row of a large file.
_MAYBE_ARRIVED, _FAILED_EARLIER, _AGAIN = Verdict.MAYBE_ARRIVED, Verdict.FAILED_EARLIER, Verdict.AGAIN
_SENT_EARLIER, _UNCHANGED = Verdict.SENT_EARLIER, Verdict.UNCHANGED


class Delivery:
    """Decides, for one run to one target, whether a row goes; and writes down what became of it."""

    def __init__(
        self,
        kind: Kind,
        *,
        journal: Journal | None = None,
        state: State | None = None,
        resume: bool = False,
        full: bool = False,
        dry_run: bool = False,
        resend: set[bytes] | None = None,
    ) -> None:
        self.kind = kind
        # Accounts whose value on the target may come from a row the input no longer holds: every row of
        # theirs goes again, in file order, so the last one wins (from the pre-flight; grows as rows change).
        self._resend: set[bytes] = resend if resend is not None and kind == Kind.ENTITY else set()
        self._journal = journal
        self._state = state
        self._resume = resume and journal is not None
        self._full = full
        self._dry_run = dry_run
        # Events are marked in flight before they leave: at most once, even across a hard kill.
        self._mark_journal = kind == Kind.EVENT and journal is not None and not dry_run

    @property
    def needs_digest(self) -> bool:
        return self._journal is not None or self._state is not None

    @property
    def has_state(self) -> bool:
        return self._state is not None and not self._dry_run

    def earlier(self, row: Row, digest: bytes, keys: Callable[[Row], tuple[str, ...]]) -> Verdict | None:
        """What the journal says of this row: None when it holds nothing for it. `keys` gives a row's
        identity keys, asked only when needed (a resume of a million unchanged rows never asks)."""
        if not self._resume or self._journal is None:
            return None
        previous = self._journal.previous(row.number)
        if previous is None:
            return None
        if previous[0] != digest:
            if self.kind == Kind.ENTITY:  # the account's later rows must follow this one, even if journaled
                self._resend.update(k for k in (previous[2], key_hash(keys(row))) if k is not None)
            return Verdict.CHANGED
        if previous[1] == IN_FLIGHT:
            return _MAYBE_ARRIVED
        if previous[1] == FAILED:
            return _FAILED_EARLIER
        if self._resend and key_hash(keys(row)) in self._resend:
            return _AGAIN
        # Unchanged then, before a later row of its key went: asking the state again now would send it behind.
        return _SENT_EARLIER if previous[1] == SENT else _UNCHANGED

    def now(self, job: Job) -> Verdict:
        """Asked when every earlier row with the job's key has finished (and been written down)."""
        if self.kind == Kind.EVENT and self._journal is not None and job.digest and not self._dry_run:
            seen = self._journal.event(job.digest)  # this run's earlier rows, and the runs this journal saw
            if seen == IN_FLIGHT:
                return Verdict.UNCERTAIN
            if seen is not None:
                return Verdict.UNCHANGED
        key = self.state_key(job)
        if self._state is None or key is None:
            return Verdict.SEND
        found = self._state.lookup(key)
        if found is None:
            return Verdict.SEND
        digest, accepted = found
        if self.kind == Kind.EVENT:  # an event the target has, or may have: never again, --full or not
            return Verdict.UNCHANGED if accepted else Verdict.UNCERTAIN
        return Verdict.UNCHANGED if accepted and digest == job.digest and not self._full else Verdict.SEND

    def state_key(self, job: Job) -> str | None:
        if self.kind == Kind.EVENT:
            return "event\0" + job.digest.hex() if job.digest else None
        return job.keys[0] if job.keys else None

    def leaving(self, job: Job) -> None:
        """On a worker, just before the body leaves: what a kill at any later moment must find on disk."""
        if self._mark_journal:
            assert self._journal is not None
            self._journal.mark_in_flight(job.row.number, job.digest)
        key = self.state_key(job)
        if self._state is not None and key is not None and not self._dry_run:
            # Entity: the state no longer says the target holds the old row. Event: it may now hold this one.
            self._state.before_send(key, job.digest if self.kind == Kind.EVENT else None)

    def sent_earlier(self, job: Job) -> None:
        """A row the journal saw accepted (a resume): the state, if this run has one, learns it too."""
        key = self.state_key(job)
        if self.has_state and key is not None:
            assert self._state is not None
            self._state.remember(key, job.digest)

    def settle(self, outcome: Outcome) -> None:
        """Write an outcome down as soon as it is known (not in input order): a kill loses only rows in flight."""
        if self._dry_run:
            return
        job, kind, journal = outcome.job, outcome.status, self._journal
        if outcome.stop is not None:
            kind = status.NOT_SENT
        if journal is not None and self.kind == Kind.EVENT and job.digest:
            if kind in (status.SENT, status.UNCHANGED):
                journal.record_event(job.digest, SENT)
            elif kind == status.NOT_SENT or (kind == status.FAILED and not outcome.uncertain):
                journal.clear_event(job.digest)
        if journal is not None:
            if kind == status.SENT:
                journal.record(
                    job.row.number, job.digest, SENT, key_hash(job.keys) if self.kind == Kind.ENTITY else None
                )
            elif kind == status.FAILED:
                journal.record(job.row.number, job.digest, FAILED)
            elif kind == status.UNCHANGED:
                journal.record(job.row.number, job.digest, UNCHANGED)
            elif kind == status.NOT_SENT and self._mark_journal:
                journal.forget(job.row.number)  # it never left: a resume sends it
        key = self.state_key(job)
        if self._state is None or key is None:
            return
        if kind == status.SENT:
            self._state.remember(key, job.digest)
        elif self.kind == Kind.EVENT and outcome.uncertain:
            self._state.mark_uncertain(key, job.digest)
        elif self.kind == Kind.EVENT and kind in (status.FAILED, status.NOT_SENT):
            self._state.forget_uncertain(key)  # it certainly did not arrive (a 422, or it never left)

    def commit(self, *, now: bool) -> None:
        """Outcomes reach the files as soon as they are known; `now` after a batch, else when due."""
        if self._state is not None and now:
            self._state.commit()
        if self._journal is not None:
            self._journal.commit() if now else self._journal.commit_if_due()
