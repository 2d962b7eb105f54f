"""The delivery model's rules, in-process (`cg_cli/importing/delivery.py`): which kind a mapping is, which
target a journal or state is bound to, what the journal says of a row on resume, and what each outcome
writes down. Fakes record every call; `test_delivery.py` proves the same end to end against the sandbox.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, cast

import pytest

from cg_cli.errors import NetworkError
from cg_cli.importing import results_file as status
from cg_cli.importing.delivery import Delivery, Destination, Kind, Verdict, key_hash, kind_of
from cg_cli.importing.jobs import Job, Outcome
from cg_cli.importing.journal import FAILED, IN_FLIGHT, SENT, UNCHANGED, Journal
from cg_cli.records.readers import Row


class FakeJournal:
    def __init__(self, previous: dict[int, Any] | None = None) -> None:
        self.held = previous or {}
        self.events: dict[bytes, str] = {}  # what the journal knows of each event, by content
        self.calls: list[tuple[Any, ...]] = []

    def previous(self, number: int) -> tuple[bytes, str, bytes | None] | None:
        return self.held.get(number)

    def record(self, number: int, digest: bytes, status: str, key: bytes | None = None) -> None:
        self.calls.append(("record", number, digest, status, key))

    def forget(self, number: int) -> None:
        self.calls.append(("forget", number))

    def mark_in_flight(self, number: int, digest: bytes) -> None:
        self.calls.append(("mark", number, digest))

    def event(self, digest: bytes) -> str | None:
        return self.events.get(digest)

    def record_event(self, digest: bytes, status: str) -> None:
        self.calls.append(("event", digest, status))

    def clear_event(self, digest: bytes) -> None:
        self.calls.append(("clear_event", digest))

    def commit(self) -> None:
        self.calls.append(("commit",))

    def commit_if_due(self) -> None:
        self.calls.append(("commit_if_due",))


def as_journal(fake: FakeJournal) -> Journal:
    return cast(Journal, fake)


class FakeState:
    def __init__(self, held: dict[str, tuple[bytes, bool]] | None = None) -> None:
        self.held = held or {}
        self.calls: list[tuple[Any, ...]] = []

    def lookup(self, key: str) -> tuple[bytes, bool] | None:
        return self.held.get(key)

    def before_send(self, key: str, event_digest: bytes | None) -> None:
        self.calls.append(("before_send", key, event_digest))

    def remember(self, key: str, digest: bytes) -> None:
        self.calls.append(("remember", key, digest))

    def mark_uncertain(self, key: str, digest: bytes) -> None:
        self.calls.append(("uncertain", key, digest))

    def forget_uncertain(self, key: str) -> None:
        self.calls.append(("forget_uncertain", key))

    def commit(self) -> None:
        self.calls.append(("commit",))


def job(number: int, digest: bytes, *keys: str) -> Job:
    return Job(Row(number, {"Account Name": keys[0] if keys else ""}, [], None, number + 1), digest, keys)


def keys_of(*keys: str) -> Callable[[Row], tuple[str, ...]]:
    return lambda row: keys


def never_asked(row: Row) -> tuple[str, ...]:
    raise AssertionError("keys asked for although the verdict did not need them")


def h(key: str) -> bytes:
    return hashlib.blake2b(key.encode(), digest_size=8).digest()


# -- kinds and targets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping_type", "kind"),
    [("survey-response", Kind.EVENT), ("multi-object", Kind.EVENT), ("account", Kind.ENTITY),
     ("contact", Kind.ENTITY), (None, Kind.ENTITY), ("", Kind.ENTITY)],
)  # fmt: skip
def test_only_survey_and_multi_object_mappings_are_events(mapping_type: str | None, kind: Kind) -> None:
    assert kind_of(mapping_type) is kind


def test_a_targets_key_is_the_hash_of_its_four_parts_in_order() -> None:
    target = Destination("ref", "https://r/", "https://t/", "client")
    expected = hashlib.blake2b(b"https://r/\nhttps://t/\nclient\nref", digest_size=16).hexdigest()
    assert target.key == expected and Destination("ref", "https://r/", "https://t/", "client").key == expected
    r, tk, c = "https://r/", "https://t/", "client"
    others = [
        Destination("ref2", r, tk, c),
        Destination("ref", "https://x/", tk, c),
        Destination("ref", r, "https://x/", c),
        Destination("ref", r, tk, "other"),
        Destination("ref", tk, r, c),
    ]
    assert len({target.key, *(o.key for o in others)}) == 6
    assert Destination("ref").key == hashlib.blake2b(b"\n\n\nref", digest_size=16).hexdigest()
    assert len(Destination("\udcff").key) == 32  # a name read from a file with a stray byte still binds


def test_a_target_is_described_by_what_it_has() -> None:
    assert Destination("ref").describe() == "configuration ref"
    assert Destination("ref", "https://r/").describe() == "configuration ref at https://r/"
    assert Destination("ref", client_id="c").describe() == "configuration ref (client c)"
    assert (
        Destination("ref", "https://r/", "https://t/", "c").describe() == "configuration ref at https://r/ (client c)"
    )


def test_an_accounts_key_hash_is_its_first_identity_key() -> None:
    assert key_hash(()) is None
    assert key_hash(("a", "b")) == h("a") == key_hash(("a",))
    assert key_hash(("\udcff",)) == hashlib.blake2b("\udcff".encode("utf-8", "surrogatepass"), digest_size=8).digest()


def test_a_digest_is_needed_only_with_a_journal_or_a_state() -> None:
    assert not Delivery(Kind.ENTITY).needs_digest
    assert Delivery(Kind.ENTITY, journal=as_journal(FakeJournal())).needs_digest
    assert Delivery(Kind.EVENT, state=FakeState()).needs_digest


# -- earlier(): what the journal says on resume -----------------------------------------------------------


def resuming(kind: Kind, held: dict[int, Any], **kw: Any) -> Delivery:
    return Delivery(kind, journal=as_journal(FakeJournal(held)), resume=True, **kw)


def test_without_resume_or_journal_the_journal_says_nothing() -> None:
    held = {1: (b"d", SENT, None)}
    assert (
        Delivery(Kind.ENTITY, journal=as_journal(FakeJournal(held))).earlier(job(1, b"d").row, b"d", never_asked)
        is None
    )
    assert Delivery(Kind.ENTITY, resume=True).earlier(job(1, b"d").row, b"d", never_asked) is None
    assert resuming(Kind.ENTITY, held).earlier(job(2, b"d").row, b"d", never_asked) is None


@pytest.mark.parametrize(
    ("held_status", "verdict"),
    [(SENT, Verdict.SENT_EARLIER), (FAILED, Verdict.FAILED_EARLIER), (IN_FLIGHT, Verdict.MAYBE_ARRIVED),
     (UNCHANGED, Verdict.UNCHANGED)],
)  # fmt: skip
def test_the_same_row_gets_the_journals_word_for_it(held_status: str, verdict: Verdict) -> None:
    for kind in Kind:
        delivery = resuming(kind, {1: (b"d", held_status, None)})
        assert delivery.earlier(job(1, b"d").row, b"d", never_asked) is verdict


def test_a_changed_account_row_makes_its_later_rows_go_again_under_both_keys() -> None:
    held = {1: (b"old", SENT, h("was")), 2: (b"d2", SENT, h("now")), 3: (b"d3", SENT, h("was")), 4: (b"d4", SENT, None)}
    delivery = resuming(Kind.ENTITY, held)
    assert delivery.earlier(job(1, b"new").row, b"new", keys_of("now")) is Verdict.CHANGED
    assert delivery.earlier(job(2, b"d2").row, b"d2", keys_of("now")) is Verdict.AGAIN  # its new key
    assert delivery.earlier(job(3, b"d3").row, b"d3", keys_of("was")) is Verdict.AGAIN  # the key the row had
    assert delivery.earlier(job(4, b"d4").row, b"d4", keys_of("other")) is Verdict.SENT_EARLIER


def test_a_changed_row_without_keys_adds_no_key_and_in_flight_or_failed_rows_are_never_again() -> None:
    held = {1: (b"old", SENT, None), 2: (b"d2", SENT, None), 3: (b"d3", IN_FLIGHT, None), 4: (b"d4", FAILED, None)}
    delivery = resuming(Kind.ENTITY, held, resend={h("k")})
    assert delivery.earlier(job(1, b"new").row, b"new", keys_of()) is Verdict.CHANGED
    assert delivery.earlier(job(2, b"d2").row, b"d2", keys_of()) is Verdict.SENT_EARLIER  # no None in the set
    assert delivery.earlier(job(3, b"d3").row, b"d3", never_asked) is Verdict.MAYBE_ARRIVED
    assert delivery.earlier(job(4, b"d4").row, b"d4", never_asked) is Verdict.FAILED_EARLIER
    assert delivery.earlier(job(2, b"d2").row, b"d2", keys_of("k")) is Verdict.AGAIN  # from the pre-flight


def test_an_event_never_goes_again_because_of_a_key() -> None:
    held = {1: (b"old", SENT, None), 2: (b"d2", SENT, None)}
    delivery = resuming(Kind.EVENT, held, resend={h("k")})
    assert delivery.earlier(job(1, b"new").row, b"new", never_asked) is Verdict.CHANGED
    assert delivery.earlier(job(2, b"d2").row, b"d2", never_asked) is Verdict.SENT_EARLIER


# -- now(): what the state says when the row's turn comes ------------------------------------------------------


def test_the_state_key_of_an_event_is_its_digest_and_of_an_entity_its_first_key() -> None:
    assert Delivery(Kind.EVENT).state_key(job(1, b"\x01\xff", "a")) == "event\x0001ff"
    assert Delivery(Kind.EVENT).state_key(job(1, b"", "a")) is None
    assert Delivery(Kind.ENTITY).state_key(job(1, b"d", "a", "b")) == "a"
    assert Delivery(Kind.ENTITY).state_key(job(1, b"d")) is None


def test_a_row_with_no_state_key_or_no_state_is_sent() -> None:
    state = FakeState({"a": (b"d", True)})
    assert Delivery(Kind.ENTITY).now(job(1, b"d", "a")) is Verdict.SEND
    assert Delivery(Kind.ENTITY, state=state).now(job(1, b"d")) is Verdict.SEND
    assert Delivery(Kind.ENTITY, state=state).now(job(1, b"d", "a")) is Verdict.UNCHANGED


def test_an_entity_held_uncertain_or_with_another_digest_is_sent() -> None:
    state = FakeState({"a": (b"d", False), "b": (b"old", True)})
    delivery = Delivery(Kind.ENTITY, state=state)
    assert delivery.now(job(1, b"d", "a")) is Verdict.SEND
    assert delivery.now(job(2, b"new", "b")) is Verdict.SEND


# -- leaving() and settle(): what is written down, and when -------------------------------------------------


def test_an_event_is_marked_in_flight_and_held_as_maybe_arrived_before_it_leaves() -> None:
    journal, state = FakeJournal(), FakeState()
    Delivery(Kind.EVENT, journal=as_journal(journal), state=state).leaving(job(7, b"\x0a", "j@x"))
    assert journal.calls == [("mark", 7, b"\x0a")]
    assert state.calls == [("before_send", "event\x000a", b"\x0a")]


def test_an_entity_is_not_marked_and_its_key_is_forgotten_before_it_leaves() -> None:
    journal, state = FakeJournal(), FakeState()
    Delivery(Kind.ENTITY, journal=as_journal(journal), state=state).leaving(job(7, b"d", "acme"))
    assert journal.calls == [] and state.calls == [("before_send", "acme", None)]


def test_a_dry_run_writes_nothing_down() -> None:
    journal, state = FakeJournal(), FakeState()
    delivery = Delivery(Kind.EVENT, journal=as_journal(journal), state=state, dry_run=True)
    delivery.leaving(job(1, b"d", "a"))
    delivery.settle(Outcome(job(1, b"d", "a"), status.SENT))
    delivery.settle(Outcome(job(2, b"e", "a"), status.FAILED, "x", uncertain=True))
    assert journal.calls == [] and state.calls == []


def test_each_outcome_of_an_entity_is_journaled_with_the_accounts_key_and_only_success_reaches_the_state() -> None:
    journal, state = FakeJournal(), FakeState()
    delivery = Delivery(Kind.ENTITY, journal=as_journal(journal), state=state)
    delivery.settle(Outcome(job(1, b"s", "a"), status.SENT))
    delivery.settle(Outcome(job(2, b"f", "a"), status.FAILED, "422"))
    delivery.settle(Outcome(job(3, b"u", "a"), status.UNCHANGED))
    delivery.settle(Outcome(job(4, b"n", "a"), status.NOT_SENT))
    delivery.settle(Outcome(job(5, b"l", "a"), status.FAILED, "timeout", uncertain=True))
    delivery.settle(Outcome(job(6, b"x"), status.SENT))  # no key: journaled, not in the state
    assert journal.calls == [
        ("record", 1, b"s", SENT, h("a")),
        ("record", 2, b"f", FAILED, None),
        ("record", 3, b"u", UNCHANGED, None),
        ("record", 5, b"l", FAILED, None),  # an entity that may have arrived is simply sent again next time
        ("record", 6, b"x", SENT, None),
    ]
    assert state.calls == [("remember", "a", b"s")]


def test_each_outcome_of_an_event_is_journaled_without_a_key_and_settles_its_state() -> None:
    journal, state = FakeJournal(), FakeState()
    delivery = Delivery(Kind.EVENT, journal=as_journal(journal), state=state)
    delivery.settle(Outcome(job(1, b"\x01", "a"), status.SENT))
    delivery.settle(Outcome(job(2, b"\x02", "a"), status.FAILED, "timeout after sending", uncertain=True))
    delivery.settle(Outcome(job(3, b"\x03", "a"), status.FAILED, "422"))
    delivery.settle(Outcome(job(4, b"\x04", "a"), status.NOT_SENT))
    delivery.settle(Outcome(job(5, b"\x05", "a"), status.SKIPPED))
    assert journal.calls == [
        ("event", b"\x01", SENT),  # by content too: a moved or repeated row of it is not sent again
        ("record", 1, b"\x01", SENT, None),
        ("record", 2, b"\x02", FAILED, None),  # it may have arrived: its in-flight mark stays
        ("clear_event", b"\x03"),  # refused: the same content may go again from another row
        ("record", 3, b"\x03", FAILED, None),
        ("clear_event", b"\x04"),
        ("forget", 4),  # marked in flight, never left: a resume sends it
    ]
    assert state.calls == [
        ("remember", "event\x0001", b"\x01"),
        ("uncertain", "event\x0002", b"\x02"),
        ("forget_uncertain", "event\x0003"),
        ("forget_uncertain", "event\x0004"),
    ]


def test_an_outcome_that_stopped_the_run_counts_as_not_sent() -> None:
    journal, state = FakeJournal(), FakeState()
    delivery = Delivery(Kind.EVENT, journal=as_journal(journal), state=state)
    delivery.settle(Outcome(job(1, b"\x01", "a"), status.SENT, stop=NetworkError("down")))
    assert journal.calls == [("clear_event", b"\x01"), ("forget", 1)]
    assert state.calls == [("forget_uncertain", "event\x0001")]


def test_an_event_the_journal_saw_at_any_row_is_not_sent_again() -> None:
    """By content, wherever it stood: sent (or unchanged) is not sent again; in flight at a kill may have arrived."""
    journal = FakeJournal()
    journal.events = {b"\x01": SENT, b"\x02": IN_FLIGHT}
    delivery = Delivery(Kind.EVENT, journal=as_journal(journal))
    verdicts = [delivery.now(job(n, digest, "a")) for n, digest in ((7, b"\x01"), (8, b"\x02"), (9, b"\x03"))]
    assert verdicts == [Verdict.UNCHANGED, Verdict.UNCERTAIN, Verdict.SEND]
    accounts = Delivery(Kind.ENTITY, journal=as_journal(journal))
    assert accounts.now(job(7, b"\x01", "a")) == Verdict.SEND  # an account's history is by key and row
    assert Delivery(Kind.EVENT, journal=as_journal(journal), dry_run=True).now(job(7, b"\x01", "a")) == Verdict.SEND


def test_an_event_run_without_a_journal_or_in_a_dry_run_marks_nothing_and_forgets_nothing() -> None:
    state = FakeState()
    delivery = Delivery(Kind.EVENT, state=state)
    delivery.leaving(job(1, b"\x01"))
    delivery.settle(Outcome(job(1, b"\x01"), status.NOT_SENT))
    assert state.calls == [("before_send", "event\x0001", b"\x01"), ("forget_uncertain", "event\x0001")]


def test_commit_now_reaches_both_files_and_otherwise_only_the_journal_when_due() -> None:
    journal, state = FakeJournal(), FakeState()
    delivery = Delivery(Kind.ENTITY, journal=as_journal(journal), state=state)
    delivery.commit(now=False)
    assert journal.calls == [("commit_if_due",)] and state.calls == []
    delivery.commit(now=True)
    assert journal.calls == [("commit_if_due",), ("commit",)] and state.calls == [("commit",)]
    Delivery(Kind.ENTITY).commit(now=True)  # neither: nothing to do, no crash


def test_a_row_the_journal_saw_accepted_is_handed_to_the_state_but_never_in_a_dry_run() -> None:
    state = FakeState()
    Delivery(Kind.ENTITY, journal=as_journal(FakeJournal()), state=state).sent_earlier(job(1, b"\x01", "ACME"))
    Delivery(Kind.EVENT, journal=as_journal(FakeJournal()), state=state).sent_earlier(job(2, b"\x02", "a"))
    Delivery(Kind.EVENT, state=state, dry_run=True).sent_earlier(job(3, b"\x03", "a"))
    assert state.calls == [("remember", "ACME", b"\x01"), ("remember", "event\x0002", b"\x02")]
