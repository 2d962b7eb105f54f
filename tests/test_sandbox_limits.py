"""The sandbox's limits (`--rate-limit`, `--max-concurrent`, `--capacity`, `--chaos`): their rules
without sockets, then through `/_sandbox/limits` and the command line."""

from __future__ import annotations

import json
import random
import threading
from typing import Any

import pytest

from cg_cli.sandbox.limits import Limits
from tests.conftest import ACCOUNTS_REF, SandboxHandle
from tests.test_sandbox import call, get_token, put_json


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_limit_refuses_beyond_n_per_second_and_refills() -> None:
    clock = Clock()
    limits = Limits(rate_limit=20, clock=clock)
    answers = [limits.admit() for _ in range(7)]  # a quarter second's worth at once
    assert answers == [None] * 5 + ["1", "1"] and limits.throttled == 2
    clock.now += 0.11  # two more requests' worth
    assert [limits.admit() for _ in range(3)] == [None, None, "1"]
    clock.now += 10  # never more than the bucket holds
    assert [limits.admit() for _ in range(6)].count(None) == 5


def test_max_concurrent_counts_requests_in_flight() -> None:
    limits = Limits(max_concurrent=2)
    assert limits.admit() is None and limits.admit() is None
    assert limits.admit() == "1"
    limits.leave()
    assert limits.admit() is None and limits.in_flight == 2


def test_capacity_makes_the_rest_wait_and_a_larger_one_lets_them_in() -> None:
    limits = Limits(capacity=1, latency=0.0)
    gate = threading.Event()
    started: list[int] = []

    def slow(seconds: float) -> None:
        started.append(1)
        gate.wait(10)

    limits.update({"latency": 1.0})
    first = threading.Thread(target=limits.work, args=(slow,))
    first.start()
    while not started:
        threading.Event().wait(0.01)
    second = threading.Thread(target=limits.work, args=(slow,))
    second.start()
    second.join(0.3)
    assert len(started) == 1  # the second waits for the one worker
    limits.update({"capacity": 2})
    while len(started) < 2:
        threading.Event().wait(0.01)
    gate.set()
    first.join(5)
    second.join(5)


def test_chaos_answers_a_share_with_the_four_faults() -> None:
    limits = Limits(chaos=0.25, rng=random.Random(7))
    faults = [limits.chaos_fault() for _ in range(4000)]
    chosen = [f for f in faults if f is not None]
    assert 850 < len(chosen) < 1150
    kinds = {f.status if f.status else "drop" for f in chosen}
    assert kinds == {500, 502, 503, "drop"}


@pytest.mark.parametrize(
    "change",
    [{"colour": 1}, {"rate_limit": 0}, {"max_concurrent": 1.5}, {"chaos": 2}, {"capacity": "8"}, [1]],
)
def test_bad_limits_are_refused_and_change_nothing(change: Any) -> None:
    limits = Limits(rate_limit=10)
    with pytest.raises(ValueError):
        limits.update(change)
    assert limits.as_json()["rate_limit"] == 10


def test_limits_change_while_the_sandbox_runs(sandbox: SandboxHandle) -> None:
    token = get_token(sandbox.url)[1]["access_token"]
    body = {"configuration": ACCOUNTS_REF, "record": {"Account Name": "A"}}
    status, now = call(sandbox.url + "/_sandbox/limits", "POST", json.dumps({"rate_limit": 1}).encode(), {})
    assert status == 200 and now["rate_limit"] == 1.0
    answers = [put_json(sandbox.url, token, body)[0] for _ in range(3)]
    assert answers.count(429) >= 1 and 200 in answers
    assert sandbox.stats()["limits"]["throttled"] == answers.count(429)
    assert call(sandbox.url + "/_sandbox/limits", "POST", b'{"rate_limit": null}', {})[0] == 200
    assert [put_json(sandbox.url, token, body)[0] for _ in range(5)] == [200] * 5
    assert len(sandbox.records()) == 5 + answers.count(200)
    status, problem = call(sandbox.url + "/_sandbox/limits", "POST", b'{"chaos": -1}', {})
    assert status == 400 and "chaos" in problem["message"]


def test_a_throttled_put_says_when_to_come_back(sandbox: SandboxHandle) -> None:
    import urllib.error
    import urllib.request

    sandbox.post("/_sandbox/limits", {"max_concurrent": 1})
    token = get_token(sandbox.url)[1]["access_token"]
    limits = sandbox.sandbox.state.limits
    assert limits.admit() is None  # one request is being worked on
    request = urllib.request.Request(
        sandbox.url + "/records/",
        data=json.dumps({"configuration": ACCOUNTS_REF, "record": {"Account Name": "A"}}).encode(),
        method="PUT",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 429 and caught.value.headers["Retry-After"] == "1"
    limits.leave()
    assert sandbox.records() == []


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--chaos", "1.5"], "--chaos must be a share"), (["--max-concurrent", "0"], "--max-concurrent")],
)
def test_bad_limit_options_are_usage_errors(cg, args: list[str], fragment: str) -> None:
    result = cg("sandbox", "--port", "0", *args)
    assert result.exit_code == 2 and fragment in result.output
