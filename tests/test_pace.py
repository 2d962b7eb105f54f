"""The pace of an import without sockets: the adaptive level, the rate cap, the breaker, and a row's
way through throttling and failures (concurrency.py), driven by synthetic latencies and answers."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from cg_cli.errors import ApiValidationError, NetworkError, Throttled, UsageError
from cg_cli.importing import concurrency
from cg_cli.importing.concurrency import AdaptiveLimit, Breaker, Pace, ServiceFailing, Stopped, parse_workers
from cg_cli.output import log


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rounds(limit: AdaptiveLimit, clock: Clock, latency: float, count: int, busy: bool = True) -> list[int]:
    """Complete `count` round trips at `latency`, each with the level full; the level after each."""
    levels = []
    for _ in range(count):
        for _ in range(max(4, limit.allowed)):
            clock.now += latency / max(4, limit.allowed)
            limit.succeeded(latency, busy)
        levels.append(limit.allowed)
    return levels


def test_auto_starts_low_and_doubles_while_latency_holds_up_to_64() -> None:
    clock = Clock()
    limit = AdaptiveLimit(None, clock)
    assert limit.allowed == concurrency.AUTO_START
    assert rounds(limit, clock, 0.2, 5) == [16, 32, 64, 64, 64]
    assert any("slow start" in change for change in limit.changes)


def test_an_idle_level_does_not_grow() -> None:
    clock = Clock()
    limit = AdaptiveLimit(None, clock)
    assert rounds(limit, clock, 0.2, 3, busy=False) == [8, 8, 8]


def test_latency_that_climbs_with_the_level_shrinks_it_in_proportion() -> None:
    """A queueing service: 8 worked on at once, so latency grows with every request beyond 8."""
    clock = Clock()
    limit = AdaptiveLimit(None, clock)
    levels = []
    for _ in range(12):
        latency = 0.05 * max(1.0, limit.allowed / 8)
        levels += rounds(limit, clock, latency, 1)
    assert max(levels) <= 16 and 8 <= levels[-1] <= 12  # it found the service's 8, with a little queue
    assert any("latency climbed" in change for change in limit.changes)


def test_a_fixed_ceiling_is_never_passed_and_latency_never_lowers_it() -> None:
    clock = Clock()
    limit = AdaptiveLimit(8, clock)
    assert limit.allowed == 8
    assert rounds(limit, clock, 0.01, 3) == [8, 8, 8]
    assert rounds(limit, clock, 0.5, 3) == [8, 8, 8]  # a slow spell: a fixed level holds


def test_a_throttle_caps_the_rate_at_once_and_it_grows_back_slowly_then_faster() -> None:
    clock = Clock()
    limit = AdaptiveLimit(None, clock)
    for _ in range(50):  # 50 accepted in the last second
        clock.now += 0.02
        limit.succeeded(0.05, busy=False)
    assert limit.throttled(in_flight=4)
    cap = limit.rate_now()
    # 85 % of the 50/s it was taking, less a slow start's overshoot (30 %): 29.75/s
    assert cap is not None and 29 <= cap <= 31
    assert not limit.throttled(in_flight=4)  # the answers to requests sent before the cut only count
    clock.now += 1.0
    near = limit.rate_now()
    clock.now += 4.0
    far = limit.rate_now()
    assert near is not None and far is not None
    assert cap < near <= 36 and far > 1.5 * near  # slowly near the refused rate, faster past it


def test_a_refused_level_is_probed_again_only_after_a_pause_that_doubles() -> None:
    clock = Clock()
    limit = AdaptiveLimit(None, clock)
    limit.throttled(in_flight=7)  # nothing accepted yet: the level itself comes down, under the 7 refused
    assert limit.allowed == 6
    assert rounds(limit, clock, 0.1, 5) == [6] * 5  # 0.5 s: no probe yet
    clock.now += concurrency.PROBE_PAUSE
    assert rounds(limit, clock, 0.1, 1) == [7]  # the probe
    clock.now += 1
    limit.throttled(in_flight=7)  # refused again: the next probe waits twice as long
    assert limit._probe_pause == 2 * concurrency.PROBE_PAUSE


def test_one_failure_never_opens_the_breaker_and_old_failures_age_out() -> None:
    clock = Clock()
    breaker = Breaker(clock=clock)
    for _ in range(20):
        breaker.record(ok=True)
    assert all(breaker.record(ok=False) is None for _ in range(5))  # 5 of 25: a bad spell, not a dead service
    clock.now += 31
    breaker.record(ok=True)
    assert breaker.record(ok=False) is None  # the old ones aged out: 1 failure of 2
    message = None
    for _ in range(4):
        message = breaker.record(ok=False)
    assert message == "5 of the 6 requests of the last 30 s failed after retries"


def test_a_slow_service_that_always_fails_opens_the_breaker_too() -> None:
    """One row at a time, each attempt 10 s of retries: never 5 failures within 30 s, still a dead service."""
    clock = Clock()
    breaker = Breaker(clock=clock)
    answers = []
    for _ in range(5):
        clock.now += 10
        answers.append(breaker.record(ok=False))
    assert answers[:4] == [None] * 4
    assert answers[4] == "5 of the 5 requests of the last 40 s failed after retries"


@pytest.mark.parametrize(("text", "workers"), [("auto", None), ("AUTO", None), ("1", 1), ("64", 64)])
def test_workers_auto_or_a_ceiling(text: str, workers: int | None) -> None:
    assert parse_workers(text) == workers


@pytest.mark.parametrize("text", ["0", "65", "lots", ""])
def test_workers_out_of_range(text: str) -> None:
    with pytest.raises(UsageError):
        parse_workers(text)


class Waits:
    """Pace's waits, recorded instead of slept."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.seconds: list[float] = []
        self.clock = clock

    def __call__(self, stop: threading.Event, seconds: float) -> bool:
        self.seconds.append(seconds)
        if self.clock is not None:
            self.clock.now += seconds
        return stop.is_set()


def answers(*outcomes: Exception | None) -> Any:
    """A put that answers with each outcome in turn (None: accepted)."""
    queue = list(outcomes)
    sent: list[int] = []

    def put() -> None:
        sent.append(1)
        outcome = queue.pop(0)
        if outcome is not None:
            raise outcome

    put.sent = sent  # type: ignore[attr-defined]
    return put


def throttle(retry_after: float | None = 1.0) -> Throttled:
    return Throttled("429 Too Many Requests", status=429, retry_after=retry_after)


def test_a_throttled_row_waits_its_retry_after_and_goes_again() -> None:
    waits = Waits()
    pace = Pace(None, sleep=waits)
    put = answers(throttle(1.0), throttle(None), None)
    pace.send(put, threading.Event())
    assert len(put.sent) == 3 and pace.throttled == 2
    assert waits.seconds[0] == 1.0 and 0 < waits.seconds[1] <= 0.5  # no Retry-After: a short backoff
    assert pace.figures().in_flight == 0


def test_a_long_retry_after_pauses_the_whole_run_and_says_so() -> None:
    said: list[str] = []
    log.connect(said.append)
    try:
        clock = Clock()
        pace = Pace(None, clock=clock, sleep=Waits(clock))
        paused_at = clock.now
        pace.send(answers(throttle(60.0), None), threading.Event())
        assert pace._paused_until == paused_at + 60.0
        assert said == ["the service asked cg to wait 60 s (429 with Retry-After): pausing the whole run"]
    finally:
        log.connect(None)


def test_an_entity_row_goes_again_after_a_failure_and_fails_after_its_attempts() -> None:
    waits = Waits()
    pace = Pace(None, sleep=waits)
    down = NetworkError("the records service answered 500 after 4 retries", status=500)
    put = answers(down, None)
    pace.send(put, threading.Event())
    assert len(put.sent) == 2
    put = answers(*[down] * concurrency.ROW_ATTEMPTS)
    with pytest.raises(NetworkError) as failed:
        Pace(None, sleep=waits).send(put, threading.Event())
    assert not isinstance(failed.value, ServiceFailing) and len(put.sent) == concurrency.ROW_ATTEMPTS


@pytest.mark.parametrize(
    "error",
    [
        NetworkError("500; not resent: the record may have arrived", status=500, maybe_delivered=True),
        NetworkError("the records service answered 404", status=404),
        ApiValidationError("The given data was invalid.", {}),
    ],
)
def test_a_row_that_may_have_arrived_or_was_refused_is_not_sent_again(error: Exception) -> None:
    put = answers(error)
    with pytest.raises(type(error)):
        Pace(None, sleep=Waits()).send(put, threading.Event())
    assert len(put.sent) == 1


def test_persistent_failures_open_the_breaker() -> None:
    pace = Pace(None, sleep=Waits())
    down = NetworkError("cannot connect to 127.0.0.1:9 (connection refused)")
    with pytest.raises(NetworkError):
        pace.send(answers(*[down] * 3), threading.Event())
    with pytest.raises(ServiceFailing) as failing:
        pace.send(answers(*[down] * 3), threading.Event())
    assert failing.value.message.startswith("the service fails persistently: 5 of the 5 requests")
    assert "(last: cannot connect" in failing.value.message


def test_a_row_that_may_have_arrived_stays_so_when_it_opens_the_breaker() -> None:
    """Never "not sent" (a resume would send a second survey): it fails as may have arrived; the next row stops."""
    pace = Pace(None, sleep=Waits())
    down = NetworkError("cannot connect to 127.0.0.1:9 (connection refused)")
    with pytest.raises(NetworkError):
        pace.send(answers(*[down] * 3), threading.Event())
    pace.send(answers(down, None), threading.Event())  # 4 of 5 failed: not yet
    maybe = NetworkError("500; not resent: the record may have arrived", status=500, maybe_delivered=True)
    with pytest.raises(NetworkError) as caught:
        pace.send(answers(maybe), threading.Event())
    assert caught.value is maybe
    put = answers(None)
    with pytest.raises(ServiceFailing):
        pace.send(put, threading.Event())
    assert put.sent == []


def test_a_stop_while_a_row_waits_its_turn_sends_nothing() -> None:
    pace = Pace(None, sleep=Waits())
    stop = threading.Event()
    stop.set()
    put = answers(None)
    with pytest.raises(Stopped):
        pace.send(put, stop)
    assert put.sent == []


def test_the_level_holds_rows_back_and_a_finished_one_lets_the_next_go() -> None:
    pace = Pace(2)
    stop = threading.Event()
    release = threading.Event()
    inside: list[int] = []
    lock = threading.Lock()
    peak = 0

    def put() -> None:
        nonlocal peak
        with lock:
            inside.append(1)
            peak = max(peak, len(inside))
        release.wait(5)
        with lock:
            inside.pop()

    threads = [threading.Thread(target=pace.send, args=(put, stop)) for _ in range(5)]
    for thread in threads:
        thread.start()
    while pace.figures().in_flight < 2:
        threading.Event().wait(0.01)
    threading.Event().wait(0.1)
    assert pace.figures().in_flight == 2
    release.set()
    for thread in threads:
        thread.join(5)
    assert peak == 2 and pace.figures().settled_at in (1, 2)


def test_the_progress_line_and_the_summary_say_the_pace() -> None:
    from cg_cli.importing.stats import ImportStats, pace_words
    from cg_cli.output.progress import pace

    stats = ImportStats(sent=10, throttled=12, in_flight=6, level=8, settled_at=6)
    assert pace(stats) == "6 in flight, throttled 12×"
    assert pace_words(stats) == "throttled 12×, settled at 6 in flight, "
    calm = ImportStats(in_flight=3)
    assert pace(calm) == "3 in flight" and pace_words(calm) == ""
