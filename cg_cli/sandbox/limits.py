"""The limits a sandbox can be given, as a real service might have them (`--rate-limit`,
`--max-concurrent`, `--capacity`, `--chaos`, and `POST /_sandbox/limits` while it runs).

- rate limit: at most N records requests per second (a token bucket holding a quarter second's worth);
  beyond it, 429 with `Retry-After: 1`;
- max concurrent: at most N records requests in flight; beyond it, 429 with `Retry-After: 1`;
- capacity: N requests are worked on at once (each for `latency`); the rest wait their turn, so
  latency grows with the queue, as a service with a fixed pool of workers behaves;
- chaos: a share P of answers are random server faults (500, 502, 503, a dropped connection).

Socket-free: the request handler asks `admit`, `work` and `chaos_fault`; tests can drive it directly.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from cg_cli.sandbox.faults import Fault

LIMIT_KEYS = ("rate_limit", "max_concurrent", "capacity", "chaos", "latency")
CHAOS_FAULTS = (Fault(status=500), Fault(status=502), Fault(status=503), Fault(drop=True))
THROTTLE_RETRY_AFTER = "1"
MAX_LIMIT = 1_000_000
BURST = 0.25  # seconds' worth of requests the rate limit lets through at once


class Limits:
    """What the records service allows now; every setting may change while requests are in flight."""

    def __init__(
        self,
        *,
        rate_limit: float | None = None,
        max_concurrent: int | None = None,
        capacity: int | None = None,
        chaos: float = 0.0,
        latency: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Condition(threading.Lock())
        self._tokens = 0.0
        self._refilled = clock()
        self.rate_limit: float | None = None
        self.max_concurrent: int | None = None
        self.capacity: int | None = None
        self.chaos = 0.0
        self.latency = 0.0
        self.update(
            {
                "rate_limit": rate_limit,
                "max_concurrent": max_concurrent,
                "capacity": capacity,
                "chaos": chaos,
                "latency": latency,
            }
        )
        self.in_flight = 0
        self._working = 0
        self.throttled = 0  # 429s answered because of a limit
        self.chaos_faults = 0

    # -- settings ----------------------------------------------------------------
    def update(self, data: Any) -> None:
        """Change some settings (JSON keys of LIMIT_KEYS; null lifts a limit); every value checked first."""
        if not isinstance(data, dict):
            raise ValueError("limits are a JSON object")
        unknown = set(data) - set(LIMIT_KEYS)
        if unknown:
            raise ValueError(f"unknown limit keys: {sorted(unknown)}; use {', '.join(LIMIT_KEYS)}")
        checked = {key: _checked(key, value) for key, value in data.items()}
        with self._lock:
            for key, value in checked.items():
                if key == "rate_limit" and value != self.rate_limit:  # a new limit starts with a full bucket
                    self._tokens = max(1.0, (value or 0.0) * BURST)
                    self._refilled = self._clock()
                setattr(self, key, value)
            self._lock.notify_all()  # a larger capacity lets waiting requests in

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rate_limit": self.rate_limit,
                "max_concurrent": self.max_concurrent,
                "capacity": self.capacity,
                "chaos": self.chaos,
                "latency": self.latency,
                "in_flight": self.in_flight,
                "throttled": self.throttled,
                "chaos_faults": self.chaos_faults,
            }

    # -- one records request ----------------------------------------------------------
    def admit(self) -> str | None:
        """None: the request may go on (call `leave` when it is answered); else the 429's Retry-After."""
        with self._lock:
            if self.max_concurrent is not None and self.in_flight >= self.max_concurrent:
                self.throttled += 1
                return THROTTLE_RETRY_AFTER
            if self.rate_limit is not None:
                now = self._clock()
                self._tokens = min(self._burst(), self._tokens + (now - self._refilled) * self.rate_limit)
                self._refilled = now
                if self._tokens < 1.0:
                    self.throttled += 1
                    return THROTTLE_RETRY_AFTER
                self._tokens -= 1.0
            self.in_flight += 1
            return None

    def _burst(self) -> float:
        return max(1.0, (self.rate_limit or 0.0) * BURST)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def work(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """The request's share of the service: its latency, after waiting for a free worker (`capacity`)."""
        with self._lock:
            while self.capacity is not None and self._working >= self.capacity:
                self._lock.wait(0.5)
            self._working += 1
            latency = self.latency
        try:
            if latency:
                sleep(latency)
        finally:
            with self._lock:
                self._working -= 1
                self._lock.notify()

    def chaos_fault(self) -> Fault | None:
        """With probability `chaos`, one of the four server faults (chosen evenly)."""
        with self._lock:
            if not self.chaos or self._rng.random() >= self.chaos:
                return None
            self.chaos_faults += 1
            return self._rng.choice(CHAOS_FAULTS)


def _checked(key: str, value: Any) -> Any:
    if key in ("rate_limit", "max_concurrent", "capacity") and value is None:
        return None
    number = type(value) in (int, float) and math.isfinite(value)
    if key == "rate_limit":
        if not number or not 0 < value <= MAX_LIMIT:
            raise ValueError(f"rate_limit must be requests per second above 0 (or null for none), not {value!r}")
        return float(value)
    if key in ("max_concurrent", "capacity"):
        if type(value) is not int or not 1 <= value <= MAX_LIMIT:
            raise ValueError(f"{key} must be a whole number from 1 (or null for none), not {value!r}")
        return value
    if key == "chaos":
        if not number or not 0 <= value <= 1:
            raise ValueError(f"chaos must be a share from 0 to 1, not {value!r}")
        return float(value)
    if not number or not 0 <= value <= 86_400:  # latency
        raise ValueError(f"latency must be seconds from 0 to 86400, not {value!r}")
    return float(value)
