"""records import at the service's pace, against limited and faulty sandboxes (issue 21): throttling
slows a run and never fails it, one bad answer never ends it, a failing service still does."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cg_cli.importing import concurrency
from tests.test_records_import import received_names, write_accounts


def write_responses(path: Path, count: int) -> Path:
    path.write_text(
        "".join(json.dumps({"Email": f"r{i}@example.com", "Score": str(i % 11)}) + "\n" for i in range(count))
    )
    return path


def summary(result: Any) -> dict[str, Any]:
    assert result.stdout.strip(), result.output
    return dict(json.loads(result.stdout))


def test_64_workers_against_a_service_that_takes_3_at_once_all_accepted_exit_0(cg, server) -> None:
    sandbox = server(latency=0.02, max_concurrent=3)
    write_accounts(Path("a.csv"), 150)
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--workers", "64", "-o", "json")
    assert result.exit_code == 0, result.output
    names = received_names(sandbox)
    assert len(names) == 150 and set(names.values()) == {1}  # every row accepted, once
    document = summary(result)
    throttled = sandbox.stats()["limits"]["throttled"]
    assert throttled > 0 and document["throttled"] == throttled  # what the service refused, counted
    assert document["sent"] == 150 and document["failed"] == 0
    # The level it settles at depends on timing (under a loaded CPU a run of 150 rows can end before the
    # level comes down): make bench-adaptive measures it; here only that it is a level cg could hold.
    assert 1 <= document["settled_in_flight"] <= 64


def test_throttling_is_said_in_the_summary_and_each_change_of_level_with_v(cg, server) -> None:
    sandbox = server(latency=0.01, max_concurrent=2)
    write_accounts(Path("a.csv"), 60)
    result = cg("-v", "records", "import", "a.csv", "--mapping", "accounts", "--workers", "8")
    assert result.exit_code == 0, result.output
    throttled = sandbox.stats()["limits"]["throttled"]
    assert f"throttled {throttled}×, settled at " in result.stderr and " in flight, " in result.stderr
    assert "pace: 8 → " in result.stderr and "throttled with " in result.stderr


def test_default_is_auto_and_the_summary_says_the_level(cg, server) -> None:
    server()
    write_accounts(Path("a.csv"), 40)
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "-o", "json")
    assert result.exit_code == 0, result.output
    document = summary(result)
    assert document["throttled"] == 0 and 1 <= document["settled_in_flight"] <= 64
    assert cg("records", "import", "a.csv", "--mapping", "accounts", "--workers", "auto").exit_code == 0


@pytest.mark.parametrize("value", ["0", "65", "many"])
def test_workers_out_of_range_is_a_usage_error(cg, server, value: str) -> None:
    server()
    write_accounts(Path("a.csv"), 1)
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--workers", value)
    assert result.exit_code == 2 and "Invalid value for '--workers'" in result.output
    assert "auto or a number from 1 to 64" in result.output


def test_a_survey_row_answered_429_goes_again_and_arrives_once(cg, server) -> None:
    """A 429 means the body was not taken: resending an event is safe."""
    sandbox = server()
    write_responses(Path("r.jsonl"), 20)
    sandbox.fault(status=429, retry_after="0", count=15)
    result = cg("records", "import", "r.jsonl", "--mapping", "responses", "--workers", "4")
    assert result.exit_code == 0, result.output
    received = Counter(r["record"]["Email"] for r in sandbox.records())
    assert len(received) == 20 and set(received.values()) == {1}
    assert "throttled 15×" in result.stderr


def test_a_long_retry_after_pauses_the_whole_run_and_says_so(cg, server, monkeypatch) -> None:
    monkeypatch.setattr(concurrency, "PAUSE_AFTER", 0.5)  # a "long" wait, kept short for the suite
    sandbox = server()
    write_accounts(Path("a.csv"), 10)
    sandbox.fault(status=503, retry_after="1")
    result = cg("records", "import", "a.csv", "--mapping", "accounts")
    assert result.exit_code == 0, result.output
    assert "the service asked cg to wait 1 s (503 with Retry-After): pausing the whole run" in result.stderr
    assert len(received_names(sandbox)) == 10


def test_server_faults_on_5_percent_of_answers_an_account_file_completes_in_one_run(cg, server) -> None:
    """Issue 21 measured 43 runs of --resume for 6,000 rows; here 800 rows (bench and the closing note: 6,000)."""
    sandbox = server(chaos=0.05)
    write_accounts(Path("a.csv"), 800)
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "-o", "json")
    assert result.exit_code == 0, result.output
    assert set(received_names(sandbox)) == {f"Account {i}" for i in range(1, 801)}  # every row arrived
    assert sandbox.stats()["limits"]["chaos_faults"] > 0
    assert not Path("a.csv.cg-journal").exists()  # a finished run


def test_server_faults_on_a_survey_file_report_may_have_arrived_and_the_run_goes_on(cg, server) -> None:
    sandbox = server(chaos=0.1)
    write_responses(Path("r.jsonl"), 200)
    result = cg("records", "import", "r.jsonl", "--mapping", "responses", "-o", "json")
    faults = sandbox.stats()["limits"]["chaos_faults"]
    assert faults > 0
    received = Counter(r["record"]["Email"] for r in sandbox.records())
    assert set(received.values()) == {1}  # an event is never sent twice
    path = Path("r.failed.jsonl")
    failed = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    if result.exit_code == 0:  # only 503s (turned away unprocessed, sent again) came up
        assert not failed and len(received) == 200
        return
    assert result.exit_code == 6, result.output
    document = summary(result)
    assert document["stopped_by"] is None and document["failed"] == len(failed) > 0
    assert all("may have arrived" in row["_error"] for row in failed)
    assert len(received) + len(failed) >= 200  # each row accepted, or reported (a dropped one may be both)


def test_a_service_that_answers_500_to_everything_stops_the_run_exit_5(cg, server) -> None:
    sandbox = server()
    write_accounts(Path("a.csv"), 100)
    sandbox.fault(status=500, count=5000)
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--retries", "1", "-o", "json")
    assert result.exit_code == 5, result.output
    document = summary(result)
    assert document["stopped_by"].startswith("the service fails persistently: ")
    assert "of the last 30 s failed after retries" in document["stopped_by"]
    assert "answered 500" in document["stopped_by"]
    assert document["sent"] == 0 and sandbox.stats()["record_requests"] < 100  # it stopped: not 100 rows × 6
    sandbox.post("/_sandbox/reset")  # the service is back
    resumed = cg("records", "import", "a.csv", "--mapping", "accounts", "--resume")
    assert resumed.exit_code == 0, resumed.output
    names = received_names(sandbox)
    assert len(names) == 100 and set(names.values()) == {1}


def test_a_token_service_that_throttles_at_the_start_is_waited_for(cg, server) -> None:
    """The token is fetched before any row; its 429 is retried as Retry-After says, not a stop."""
    sandbox = server()
    write_accounts(Path("a.csv"), 5)
    sandbox.fault(target="token", status=429, retry_after="0")
    result = cg("records", "import", "a.csv", "--mapping", "accounts")
    assert result.exit_code == 0, result.output
    assert sandbox.stats()["token_requests"] == 2 and len(received_names(sandbox)) == 5
