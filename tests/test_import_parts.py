"""The import's parts, each on its own rule, with fakes: no sockets, no threads unless the part owns them.

`KeyOrder` (rows of one key one at a time, in file order), `OutcomeRecorder` (outcomes recorded in
input order, whatever order they arrive in), `Workers` (what an answer means for a row),
`ImportRequest.check_options` (options that cannot go together), the `Importer`'s stop rule, and
`Delivery` (may this body go to this target now?).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from cg_cli.config.targets import Target
from cg_cli.errors import ApiValidationError, AuthError, CgError, NetworkError, UsageError
from cg_cli.importing import results_file as status
from cg_cli.importing.duplicates import DuplicatePolicy
from cg_cli.importing.jobs import Job, Outcome
from cg_cli.importing.key_order import KeyOrder
from cg_cli.importing.recorder import OutcomeRecorder
from cg_cli.importing.request import ImportRequest
from cg_cli.importing.stats import ImportResult, ImportStats
from cg_cli.importing.workers import Workers
from cg_cli.records.readers import Row


def job(number: int, *keys: str) -> Job:
    return Job(Row(number, {"Account Name": keys[0] if keys else ""}, [], None, number + 1), b"d", keys)


# -- KeyOrder ----------------------------------------------------------------------------------------


def test_a_row_waits_while_an_earlier_row_of_its_key_is_in_flight() -> None:
    order = KeyOrder()
    first, second, other = job(1, "A"), job(2, "A"), job(3, "B")
    assert order.admit(first)
    order.claim(first)
    assert not order.admit(second)
    assert order.admit(other)  # another key never waits
    released: list[int] = []
    order.release(lambda j: released.append(j.row.number))
    assert released == []  # A is still in flight
    order.done(first)
    order.release(lambda j: released.append(j.row.number))
    assert released == [2]


def test_released_rows_of_one_key_go_one_at_a_time_in_file_order() -> None:
    order = KeyOrder()
    rows = [job(n, "A") for n in range(1, 5)]
    assert order.admit(rows[0])
    order.claim(rows[0])
    for later in rows[1:]:
        assert not order.admit(later)
    sent: list[int] = []
    released: list[Job] = []

    def dispatch(j: Job) -> None:
        order.claim(j)  # on its way: the next row of A must wait for it
        released.append(j)

    current = rows[0]
    while True:
        order.done(current)
        released.clear()
        order.release(dispatch)
        if not released:
            break
        assert len(released) == 1
        current = released[0]
        sent.append(current.row.number)
    assert sent == [2, 3, 4]
    assert not order._busy and not order._blocked_keys


def test_a_row_released_but_not_claimed_lets_the_next_row_of_its_key_go_too() -> None:
    """An unchanged row (--state) finishes at once: the next row of its key need not wait for an answer."""
    order = KeyOrder()
    first, second, third = job(1, "A"), job(2, "A"), job(3, "A")
    order.admit(first)
    order.claim(first)
    order.admit(second)
    order.admit(third)
    order.done(first)
    released: list[int] = []
    order.release(lambda j: released.append(j.row.number))
    assert released == [2, 3]


def test_giving_up_returns_every_waiting_row_and_holds_no_key() -> None:
    order = KeyOrder()
    first, second = job(1, "A"), job(2, "A")
    order.admit(first)
    order.claim(first)
    order.admit(second)
    assert [j.row.number for j in order.give_up()] == [2]
    order.done(first)
    assert order.waiting == 0 and order.admit(job(3, "A"))


# -- OutcomeRecorder --------------------------------------------------------------------------------


class Results:
    def __init__(self) -> None:
        self.rows: list[tuple[int, str]] = []

    def write(self, number: int, kind: str, error: str | None) -> None:
        self.rows.append((number, kind))

    def flush(self) -> None:
        pass


def recorder(**kwargs: Any) -> tuple[OutcomeRecorder, Results, list[CgError]]:
    results, stops = Results(), []
    rec = OutcomeRecorder(ImportResult(ImportStats()), stop_with=stops.append, results=results, **kwargs)  # type: ignore[arg-type]
    return rec, results, stops


def test_outcomes_arriving_out_of_order_are_recorded_in_input_order() -> None:
    rec, results, _ = recorder()
    rec.finish(Outcome(job(3, "C"), status.SENT))
    rec.finish(Outcome(job(2, "B"), status.FAILED, "422"))
    assert results.rows == [] and rec.waiting == 2  # row 1 not back yet
    rec.finish(Outcome(job(1, "A"), status.SENT))
    assert results.rows == [(1, "sent"), (2, "failed"), (3, "sent")]
    assert (rec.result.stats.sent, rec.result.stats.failed) == (2, 1)


def test_a_final_flush_records_the_rest_after_a_gap() -> None:
    rec, results, _ = recorder()
    rec.finish(Outcome(job(2, "B"), status.SENT))
    rec.flush(final=True)
    assert results.rows == [(2, "sent")]


def test_an_outcome_that_stops_the_run_counts_as_not_sent() -> None:
    rec, results, stops = recorder()
    down = NetworkError("down", status=500)
    rec.finish(Outcome(job(1, "A"), status.NOT_SENT, stop=down))
    assert stops == [down] and results.rows == [(1, "not-sent")] and rec.result.stats.sent == 0


# -- Workers ----------------------------------------------------------------------------------------


class OneAnswer:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.bodies: list[bytes] = []

    def put(self, content_type: str, body: bytes) -> None:
        self.bodies.append(body)
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        pass


def send(error: Exception | None) -> Outcome:
    sender = OneAnswer(error)
    workers = Workers(1, reference="ref", new_sender=lambda: sender, stop=threading.Event())
    return workers.send(job(1, "A"))


@pytest.mark.parametrize(
    ("error", "expected", "stops"),
    [
        (None, status.SENT, False),
        (ApiValidationError("invalid", {"record.Email": ["bad"]}), status.FAILED, False),
        (NetworkError("404", status=404), status.FAILED, False),
        (NetworkError("may have arrived", maybe_delivered=True), status.FAILED, False),
        (NetworkError("down", status=503), status.NOT_SENT, True),  # every attempt: the breaker opens
        (AuthError("refused"), status.NOT_SENT, True),
    ],
)
def test_what_an_answer_means_for_the_row(
    error: Exception | None, expected: str, stops: bool, breaker_on_one_row: None
) -> None:
    outcome = send(error)
    assert outcome.status == expected
    assert (outcome.stop is not None) == stops


def test_a_stopped_run_sends_nothing_more() -> None:
    sender = OneAnswer()
    stop = threading.Event()
    stop.set()
    outcome = Workers(1, reference="ref", new_sender=lambda: sender, stop=stop).send(job(1, "A"))
    assert outcome.status == status.NOT_SENT and sender.bodies == []


def test_a_body_over_the_api_limit_fails_without_a_request() -> None:
    sender = OneAnswer()
    big = Job(Row(1, {"Account Name": "x" * 2_100_000}, [], None, 2), b"d", ("A",))
    outcome = Workers(1, reference="ref", new_sender=lambda: sender, stop=threading.Event()).send(big)
    assert outcome.status == status.FAILED and sender.bodies == []


# -- ImportRequest ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"resume": True, "restart": True},
        {"rate": float("nan")},
        {"file": "-", "duplicates": DuplicatePolicy.LAST},
        {"full": True},
    ],
)
def test_options_that_cannot_go_together_are_refused(options: dict[str, Any]) -> None:
    request = ImportRequest(**{"file": "a.csv", "target": Target("ref", None), **options})
    with pytest.raises(UsageError):
        request.check_options()


def test_full_with_a_state_is_fine() -> None:
    ImportRequest(file="a.csv", target=Target("ref", None), full=True, state_path=Path("s")).check_options()


# -- Importer: a stop holds back the rest of the stopped row's key ------------------------------------


def test_a_row_that_stops_the_run_never_lets_a_later_row_of_its_key_go_first(breaker_on_one_row: None) -> None:
    """Row 2 (key A) meets a 500 while row 1 (key X) is still out: row 3 (key A) must not be sent, or
    the service would hold row 3 while a resume sends row 2 after it (an account left on an earlier row)."""
    import json

    from cg_cli.importing.importer import Importer
    from cg_cli.records.mappings import Mapping

    third_sent = threading.Event()
    delivered: list[str] = []

    class Service:
        def put(self, content_type: str, body: bytes) -> None:
            value = json.loads(body)["record"]["First Name"]
            if value == "x1":
                third_sent.wait(timeout=2)  # row 1 answers late (or once row 3 went, before the fix)
            elif value == "a2":
                raise NetworkError("the records service answered 500", status=500)
            if value == "a3":
                third_sent.set()
            delivered.append(value)

        def close(self) -> None:
            pass

    accounts = Mapping("accounts", "acc-ref", "account", ("Account Name", "First Name"))
    rows = [
        Row(1, {"Account Name": "X", "First Name": "x1"}, [], None, 2),
        Row(2, {"Account Name": "A", "First Name": "a2"}, [], None, 3),
        Row(3, {"Account Name": "A", "First Name": "a3"}, [], None, 4),
    ]
    importer = Importer(
        rows, reference="acc-ref", mapping=accounts, check_unknown_fields=False, new_sender=Service, workers=2
    )
    result = importer.run()
    assert result.stopped_by is not None and "500" in result.stopped_by.message
    assert "a3" not in delivered


# -- Delivery: may this body go to this target now? -----------------------------------------------


class FakeState:
    """A state in a dict: key → (digest, accepted)."""

    def __init__(self) -> None:
        self.held: dict[str, tuple[bytes, bool]] = {}

    def lookup(self, key: str) -> tuple[bytes, bool] | None:
        return self.held.get(key)

    def before_send(self, key: str, event_digest: bytes | None) -> None:
        if event_digest is None:
            self.held.pop(key, None)
        else:
            self.held[key] = (event_digest, False)

    def remember(self, key: str, digest: bytes) -> None:
        self.held[key] = (digest, True)

    def mark_uncertain(self, key: str, digest: bytes) -> None:
        self.held[key] = (digest, False)

    def forget_uncertain(self, key: str) -> None:
        if key in self.held and not self.held[key][1]:
            del self.held[key]

    def commit(self) -> None:
        pass


def row_job(number: int, email: str, score: str, digest: bytes) -> Job:
    return Job(Row(number, {"Email": email, "Score": score}, [], None, number + 1), digest, (email,))


def test_an_entity_is_unchanged_only_when_its_key_holds_this_digest_and_full_sends_it_anyway() -> None:
    from cg_cli.importing.delivery import Delivery, Kind, Verdict

    state = FakeState()
    delivery = Delivery(Kind.ENTITY, state=state)
    first, second = row_job(1, "a@x", "1", b"one"), row_job(2, "a@x", "2", b"two")
    assert delivery.now(first) == Verdict.SEND
    delivery.leaving(first)
    delivery.settle(Outcome(first, status.SENT))
    assert delivery.now(first) == Verdict.UNCHANGED and delivery.now(second) == Verdict.SEND
    assert Delivery(Kind.ENTITY, state=state, full=True).now(first) == Verdict.SEND


def test_an_entity_whose_answer_is_lost_is_forgotten_before_it_left() -> None:
    from cg_cli.importing.delivery import Delivery, Kind, Verdict

    state = FakeState()
    delivery = Delivery(Kind.ENTITY, state=state)
    old, new = row_job(1, "a@x", "old", b"old"), row_job(1, "a@x", "new", b"new")
    delivery.settle(Outcome(old, status.SENT))
    delivery.leaving(new)  # a kill or a lost answer from here on: the old value is no longer vouched for
    delivery.settle(Outcome(new, status.NOT_SENT, stop=NetworkError("no answer")))
    assert delivery.now(old) == Verdict.SEND


def test_two_responses_from_one_email_are_two_events_each_sent_once() -> None:
    from cg_cli.importing.delivery import Delivery, Kind, Verdict

    state = FakeState()
    delivery = Delivery(Kind.EVENT, state=state, full=True)  # --full never resends an event
    nine, three = row_job(1, "j@x", "9", b"nine"), row_job(2, "j@x", "3", b"three")
    for job in (nine, three):
        assert delivery.now(job) == Verdict.SEND
        delivery.leaving(job)
        delivery.settle(Outcome(job, status.SENT))
    assert delivery.now(nine) == Verdict.UNCHANGED and delivery.now(three) == Verdict.UNCHANGED


def test_an_event_that_may_have_arrived_is_never_sent_again_and_one_refused_may_go_again() -> None:
    from cg_cli.importing.delivery import Delivery, Kind, Verdict

    state = FakeState()
    delivery = Delivery(Kind.EVENT, state=state)
    lost, refused = row_job(1, "j@x", "9", b"lost"), row_job(2, "k@x", "1", b"refused")
    for job in (lost, refused):
        delivery.leaving(job)
    delivery.settle(Outcome(lost, status.FAILED, "timeout after sending", uncertain=True))
    delivery.settle(Outcome(refused, status.FAILED, "422"))
    assert delivery.now(lost) == Verdict.UNCERTAIN
    assert delivery.now(refused) == Verdict.SEND  # a 422 certainly did not arrive
