"""At the service's pace: how many rows may be in flight, how fast, and when a run must stop.

CustomerGauge documents no rate limit, so `records import` finds the pace from the answers:

- `AdaptiveLimit` holds the level (requests in flight). It starts low and doubles each round trip
  while latency holds (slow start), then grows by one per round trip; latency that climbs with
  no gain (a queueing service) shrinks it in proportion, as a latency gradient does. A 429 (or
  503 with Retry-After) cuts it at once to below the level that was refused, and sets a rate cap
  just under the rate the service was taking, which then grows back along a cubic curve: slowly
  near the rate that was refused, faster once past it (CUBIC, as the AWS SDKs' adaptive mode
  does). A level that was refused is probed again only after a pause that doubles each time
  the probe is refused. `--workers N` starts at N and is a ceiling (throttling still lowers it;
  latency does not).
- `Breaker` ends a run only when the service fails persistently: most of the requests of the
  last 30 s failed after their retries. One bad answer never ends a run.
- `Pace` is what the importer's workers ask: may a request go now, and what its outcome was.
  A throttled row waits at least its Retry-After and goes again; a long Retry-After pauses
  the whole run, and says so.

Nothing here prints: levels changes go to `log.info` (-v), pauses to `log.notice`.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from cg_cli.errors import NetworkError, Throttled, UsageError
from cg_cli.output import log

MAX_IN_FLIGHT = 64
AUTO_START = 8  # a slow start from here reaches 64 in three round trips
LATENCY_HOLDS = 1.25  # a round trip this much over the best one still counts as "latency holds"
LATENCY_CLIMBS = 1.6  # ... and this much over it, as a queue building up: shrink
LATENCY_SLACK = 0.005  # seconds: jitter of a fast service (or a busy machine) is no queue
THROTTLE_CUT = 0.75  # the level after a throttle, as a share of the level before
SLOW_START_OVERSHOOT = 0.7  # the share of the rate measured in slow start a service sustains, at first guess
RATE_BETA = 0.85  # the rate cap after a throttle, as a share of the rate the service was taking
CUBIC_C = 0.03  # how fast the rate cap grows back, in shares of the refused rate per second³
PROBE_PAUSE = 2.0  # seconds at a level just under a refused one before trying it again (doubles, up to 16)
PAUSE_AFTER = 5.0  # a Retry-After longer than this pauses the whole run, not just the row
MAX_PAUSE = 300.0
MIN_THROTTLE_WAIT = 0.05
BREAKER_WINDOW = 30.0
BREAKER_MIN_FAILURES = 5
ROW_ATTEMPTS = 3  # a row whose request failed after its retries is sent this many times in all
ROW_RETRY_WAIT = 0.5  # seconds before the second attempt (then twice that, ...)


def parse_workers(text: str) -> int | None:
    """`--workers`: "auto" (None: adaptive) or a ceiling from 1 to 64."""
    if text.strip().lower() == "auto":
        return None
    try:
        number = int(text)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_IN_FLIGHT:
        raise UsageError(f"--workers must be auto or a number from 1 to {MAX_IN_FLIGHT}, not {text!r}")
    return number


class AdaptiveLimit:
    """The level (rows in flight) and the rate cap; pure arithmetic on the outcomes it is told."""

    def __init__(self, ceiling: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.fixed = ceiling is not None
        self.ceiling = ceiling or MAX_IN_FLIGHT
        self.level = float(self.ceiling if self.fixed else min(AUTO_START, self.ceiling))
        self._clock = clock
        self._slow_start = not self.fixed
        self._best = math.inf  # the best round trip seen (drifts up slowly, for a service that slowed)
        self._round: list[float] = []
        self._round_busy = False
        self._refused = self.ceiling + 1  # the lowest level the service refused: probed again only after a pause
        self._probe_pause = PROBE_PAUSE
        self._probe_at = 0.0
        self._cut_at = -math.inf
        self._shrunk_at = -math.inf
        self._accepted: deque[float] = deque()  # when recent requests were accepted (the last second)
        self._started = clock()
        self._rate_max = 0.0  # rate refused (W_max), the rate cap's curve, and when it started
        self._rate_k = 0.0
        self._rate_since = 0.0
        self.rate_cap: float | None = None
        self.changes: list[str] = []  # why the level changed, for -v (read and cleared by Pace)

    @property
    def allowed(self) -> int:
        return max(1, min(self.ceiling, int(self.level)))

    def rate_now(self) -> float | None:
        """The rate cap at this moment (requests per second), None when there is none."""
        if self.rate_cap is None:
            return None
        elapsed = self._clock() - self._rate_since
        cap = self._rate_max * (1 + CUBIC_C * (elapsed - self._rate_k) ** 3)
        cap = max(cap, self._rate_max * RATE_BETA, 0.5)  # far past the refused rate, it no longer binds
        self.rate_cap = cap
        return cap

    def succeeded(self, latency: float, busy: bool) -> None:
        """An accepted request; `busy` when the level was all in use as it went (growing is then useful)."""
        now = self._clock()
        self._accepted.append(now)
        while self._accepted and self._accepted[0] < now - 1.0:
            self._accepted.popleft()
        if self.fixed and self.level >= self.ceiling:
            return  # at its ceiling, a fixed level has nothing to learn from a round
        if now - latency < self._shrunk_at:
            return  # sent before the level last came down: it says nothing about the new level
        self._round.append(latency)
        self._round_busy = self._round_busy or busy
        # A round is a round trip's answers; in slow start half of one, so the climb takes half the time.
        if len(self._round) >= max(4, self.allowed // 2 if self._slow_start else self.allowed):
            self._end_round(now)

    def _end_round(self, now: float) -> None:
        trip = sorted(self._round)[len(self._round) // 2]  # the round's median: one slow answer is no queue
        busy = self._round_busy
        self._round, self._round_busy = [], False
        if trip < self._best:
            self._best = trip
        else:
            self._best += 0.02 * (trip - self._best)
        before = self.allowed
        if not self.fixed and trip > self._best * LATENCY_CLIMBS + LATENCY_SLACK:
            self._slow_start = False
            self._shrunk_at = now
            self.level = max(1.0, self.level * LATENCY_HOLDS * self._best / trip)
            self._changed(before, f"latency climbed to {trip * 1000:.0f} ms from {self._best * 1000:.0f} ms")
            return
        if not busy or trip > self._best * LATENCY_HOLDS + LATENCY_SLACK:
            return
        grown = self.level * 2 if self._slow_start else self.level + 1
        if grown >= self._refused:
            if now < self._probe_at:
                grown = max(self.level, min(grown, self._refused - 1.0))
            else:
                self._probe_at = now + self._probe_pause  # try the refused level; if refused again, wait longer
        self.level = min(float(self.ceiling), grown)
        phase = "slow start" if self._slow_start else "latency holds"
        self._changed(before, f"{phase} at {trip * 1000:.0f} ms")

    def throttled(self, in_flight: int) -> bool:
        """A 429 (or 503 with Retry-After): cut the level and the rate at once. `in_flight` counts this one.

        True when this answer cut the pace; answers to requests sent before the cut only count."""
        now = self._clock()
        if now - self._cut_at < max(0.1, 2 * self._best if self._best < math.inf else 0.1):
            return False
        self._cut_at = now
        before = self.allowed
        sustained = not self._slow_start  # the level before this had held for a while
        self._slow_start = False
        refused = min(in_flight, before + 1)
        if refused <= self._refused:
            if self._refused - refused <= 1:  # a probe refused again: wait longer before the next one
                self._probe_pause = min(self._probe_pause * 2, 16.0)
            self._refused = max(2, refused)
        self._probe_at = now + self._probe_pause
        span = min(1.0, now - self._started)
        taking = len(self._accepted) / span if span > 0.05 else 0.0
        if taking > 0 and sustained and self._best < math.inf:  # what the places held could carry (Little's law)
            taking = max(taking, (in_flight - 1) / self._best)
        elif not sustained:  # refused in slow start: what went through includes a burst the service let pass
            taking *= SLOW_START_OVERSHOOT
        current = self.rate_now()
        if current is not None:  # still refused under the cap: the cap comes down from where it is
            taking = min(taking, current) if taking > 0 else current
        if taking > 0:  # the rate cap slows the run at once; the level stays (a rate limit refuses at any level)
            self._rate_max = taking
            self._rate_k = ((1 - RATE_BETA) / CUBIC_C) ** (1 / 3)
            self._rate_since = now
            self.rate_cap = taking * RATE_BETA
        else:  # refused before anything was accepted: nothing to measure a rate from
            self.level = max(1.0, min(self.level * THROTTLE_CUT, self._refused - 1.0))
        cap = f", rate cap {self.rate_cap:.0f}/s" if self.rate_cap else ""
        self._changed(before, f"throttled with {in_flight} in flight{cap}", always=True)
        return True

    def _changed(self, before: int, why: str, *, always: bool = False) -> None:
        if always or self.allowed != before:
            self._note(f"{before} → {self.allowed} in flight: {why}")

    def _note(self, text: str) -> None:
        self.changes.append(text)


class Breaker:
    """Opens when the service fails persistently: at least `min_failures` requests failed after their
    retries, and they were most of the requests of the last `window` seconds (or of the last
    `min_failures` requests, when fewer came in that time: a slow service's failures count too)."""

    def __init__(
        self,
        window: float = BREAKER_WINDOW,
        min_failures: int = BREAKER_MIN_FAILURES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window
        self._min_failures = min_failures
        self._clock = clock
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._failures = 0

    def record(self, ok: bool) -> str | None:
        """Count one request's outcome; a description of the failures when the breaker opens, else None."""
        now = self._clock()
        self._outcomes.append((now, ok))
        self._failures += not ok
        while len(self._outcomes) > self._min_failures and self._outcomes[0][0] < now - self._window:
            _, was_ok = self._outcomes.popleft()
            self._failures -= not was_ok
        total = len(self._outcomes)
        if ok or self._failures < self._min_failures or self._failures * 2 <= total:
            return None
        span = max(self._window, now - self._outcomes[0][0])
        return f"{self._failures} of the {total} requests of the last {span:.0f} s failed after retries"


class ServiceFailing(NetworkError):
    """The breaker opened: the run stops (exit 5), the rest stays resumable."""


class Stopped(Exception):
    """The run was asked to stop while a row waited for its turn."""


@dataclass
class PaceFigures:
    throttled: int
    in_flight: int
    level: int
    settled_at: int | None


class Pace:
    """What the workers share: a level they take a place in, a rate, a pause, a breaker."""

    def __init__(
        self,
        ceiling: int | None,
        rate: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[threading.Event, float], bool] | None = None,
    ) -> None:
        self.limit = AdaptiveLimit(ceiling, clock)
        self.breaker = Breaker(clock=clock)
        self._clock = clock
        self._wait = sleep or (lambda stop, seconds: stop.wait(seconds))
        self._user_interval = 1.0 / rate if rate else 0.0
        self._next_slot = clock()
        self._paused_until = 0.0
        self._in_flight = 0
        self._lock = threading.Condition(threading.Lock())
        self._levels: Counter[int] = Counter()
        self._failing: ServiceFailing | None = None  # the breaker opened: no request goes any more
        self.throttled = 0

    @property
    def workers(self) -> int:
        """Threads to start: one per place the level may ever reach."""
        return self.limit.ceiling

    def figures(self, *, settled: bool = True) -> PaceFigures:
        """The pace now; `settled` (the level most requests went at) only when asked: the progress
        line reads the rest after every row, without a lock (a snapshot of a few ints)."""
        if not settled:
            return PaceFigures(self.throttled, self._in_flight, self.limit.allowed, None)
        with self._lock:
            level = self._levels.most_common(1)[0][0] if self._levels else None
            return PaceFigures(self.throttled, self._in_flight, self.limit.allowed, level)

    def send(self, put: Callable[[], None], stop: threading.Event) -> None:
        """Send one row at the run's pace: returns when it was accepted.

        Raises Stopped (the run is stopping; the row did not go), ServiceFailing (the breaker opened),
        NetworkError (this row failed for good: it may have arrived, a 4xx, or it failed every attempt),
        and whatever else `put` raises (422, refused credentials) at once."""
        attempt = throttles = 0
        while True:
            started = self._take_place(stop)
            try:
                put()
            except Throttled as exc:
                throttles += 1
                self._throttled(exc, started)
                self._wait_or_stop(stop, _throttle_wait(exc.retry_after, throttles))
                continue
            except NetworkError as exc:
                self._leave()
                attempt += 1
                failing = self._record(ok=False)
                if failing is not None:
                    self._failing = ServiceFailing(f"the service fails persistently: {failing} (last: {exc.message})")
                    if not exc.maybe_delivered:  # a row that may have arrived stays reported as such
                        raise self._failing from None
                client_error = exc.status is not None and 400 <= exc.status < 500
                if exc.maybe_delivered or client_error:
                    raise
                if attempt >= ROW_ATTEMPTS:  # the message is the last attempt's: say there were others
                    said = f"{exc.message} (the row was tried {attempt} times)"
                    raise NetworkError(said, exc.hint, status=exc.status) from None
                self._wait_or_stop(stop, ROW_RETRY_WAIT * attempt)
                continue
            except BaseException:
                self._leave()
                raise
            self._accepted(started)
            return

    # -- the level -------------------------------------------------------------------
    def _take_place(self, stop: threading.Event) -> float:
        """Wait for a place within the level, the pause and the rate; the time the request went."""
        with self._lock:
            while True:
                if stop.is_set():
                    raise Stopped
                if self._failing is not None:
                    raise self._failing
                now = self._clock()
                if now < self._paused_until:
                    self._lock.wait(min(0.2, self._paused_until - now))
                    continue
                if self._in_flight >= self.limit.allowed:
                    self._lock.wait(0.2)
                    continue
                interval = self._interval()
                slot = max(self._next_slot, now)
                if slot - now > 0.001:
                    self._lock.wait(min(0.2, slot - now))
                    continue
                self._next_slot = slot + interval
                self._in_flight += 1
                return now

    def _interval(self) -> float:
        cap = self.limit.rate_now()
        return max(self._user_interval, 1.0 / cap if cap else 0.0)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            self._lock.notify()

    def _accepted(self, started: float) -> None:
        now = self._clock()
        with self._lock:
            busy = self._in_flight >= self.limit.allowed
            self._levels[self._in_flight] += 1  # how many were on their way with this one
            self._in_flight -= 1
            before = self.limit.allowed
            self.limit.succeeded(now - started, busy)
            self._say_changes()
            self.breaker.record(ok=True)
            self._lock.notify(1 + max(0, self.limit.allowed - before))  # one place freed, and any new ones

    def _throttled(self, exc: Throttled, started: float) -> None:
        with self._lock:
            self.throttled += 1
            in_flight = self._in_flight
            self._in_flight -= 1
            self.limit.throttled(in_flight)
            self._say_changes()
            wait = exc.retry_after
            if wait is not None and wait > PAUSE_AFTER:
                until = self._clock() + min(wait, MAX_PAUSE)
                if until > self._paused_until + 1:
                    self._paused_until = until
                    log.notice(
                        "the service asked cg to wait %.0f s (%s): pausing the whole run%s",
                        wait,
                        f"{exc.status} with Retry-After",
                        f", for at most {MAX_PAUSE:.0f} s" if wait > MAX_PAUSE else "",
                    )

    def _record(self, *, ok: bool) -> str | None:
        with self._lock:
            return self.breaker.record(ok)

    def _say_changes(self) -> None:
        for change in self.limit.changes:
            log.info("pace: %s", change)
        self.limit.changes.clear()

    def _wait_or_stop(self, stop: threading.Event, seconds: float) -> None:
        if self._wait(stop, seconds) or stop.is_set():
            raise Stopped
        if self._failing is not None:
            raise self._failing


def _throttle_wait(retry_after: float | None, throttles: int) -> float:
    """How long a throttled row waits: the Retry-After it was given (at most MAX_PAUSE), else a backoff."""
    if retry_after is not None:
        return max(MIN_THROTTLE_WAIT, min(retry_after, MAX_PAUSE))
    backoff: float = min(8.0, 0.25 * 2.0 ** (throttles - 1))
    return backoff * (0.5 + random.random() / 2)
