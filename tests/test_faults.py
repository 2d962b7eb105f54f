"""The fault matrix: each fault against auth login, auth token, records put and records import.

For each: the exit code DESIGN.md gives, one clear error line, no traceback,
and for imports every row accounted for (sent once, failed, or resumable).
"""

from __future__ import annotations

import csv
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ACCOUNTS_REF, CLIENT_ID, SECRET, SandboxHandle, free_port, journal_rows

ROWS = 12


def http_date(seconds_ahead: float) -> str:
    return formatdate(time.time() + seconds_ahead, usegmt=True)


def html(status: int) -> dict[str, Any]:
    return {"status": status, "body": "<html><body>Bad Gateway</body></html>", "content_type": "text/html"}


# name → (faults to queue, exit code per command, a fragment of the last stderr line for failures)
RECORD_FAULTS: dict[str, tuple[list[dict[str, Any]], dict[str, int], str]] = {
    "429 Retry-After seconds": ([{"status": 429, "retry_after": "1"}], {"put": 0, "import": 0}, ""),
    "429 Retry-After HTTP date": ([{"status": 429, "retry_after": "DATE"}], {"put": 0, "import": 0}, ""),
    "429 without Retry-After": ([{"status": 429}], {"put": 0, "import": 0}, ""),
    "429 that goes on": (  # an import slows down and goes on: throttling never ends it
        [{"status": 429, "retry_after": "0", "count": 99}],
        {"put": 5, "import": 0},
        "429 Too Many Requests after 1 retry",
    ),
    "503 with Retry-After": ([{"status": 503, "retry_after": "1"}], {"put": 0, "import": 0}, ""),
    "502/503/504 burst": ([{"status": 502}, {"status": 503}], {"put": 0, "import": 0}, ""),
    "504 burst": ([{"status": 504, "count": 2}], {"put": 0, "import": 0}, ""),
    "500 burst": ([{"status": 500, "count": 3}], {"put": 0, "import": 0}, ""),  # retried, as entities are
    "500 that never ends": (
        [{"status": 500, "count": 99}],
        {"put": 5, "import": 5},
        "answered 500 Internal Server Error",
    ),
    "dropped connection": ([{"drop": True}], {"put": 0, "import": 0}, ""),
    # a row that timed out after its retries goes again: one slow spell never ends an import
    "slower than --timeout": ([{"delay": 1.2, "count": 3}], {"put": 5, "import": 0}, "no answer from"),
    "401 after refresh": (
        [{"status": 401, "body": '{"message": "Unauthenticated."}', "count": 9}],
        {"put": 3, "import": 3},
        "refused the access token even after a refresh",
    ),
    "200 with a body": (
        [{"status": 200, "body": "OK, thanks!", "content_type": "text/plain", "process": True}],
        {"put": 0, "import": 0},
        "",
    ),
    "422 without errors": ([{"status": 422, "body": '{"message": "Nope."}'}], {"put": 4, "import": 6}, "Nope."),
    "422 errors not a dict": (
        [{"status": 422, "body": '{"message": "Bad.", "errors": ["x"]}'}],
        {"put": 4, "import": 6},
        "Bad.",
    ),
    "422 HTML body": ([html(422)], {"put": 4, "import": 6}, "The given data was invalid"),
}

TOKEN_FAULTS: dict[str, tuple[list[dict[str, Any]], int, str]] = {
    "429 Retry-After seconds": ([{"status": 429, "retry_after": "1"}], 0, ""),
    "429 Retry-After HTTP date": ([{"status": 429, "retry_after": "DATE"}], 0, ""),
    "503 burst": ([{"status": 503, "count": 2}], 0, ""),
    "500": ([{"status": 500}], 0, ""),  # retried: asking for a token again is safe
    "500 that never ends": ([{"status": 500, "count": 9}], 5, "the token service answered 500"),
    "dropped connection": ([{"drop": True}], 0, ""),
    "slower than --timeout": ([{"delay": 1.2, "count": 3}], 5, "no answer from"),
    "200 not JSON": (
        [{"status": 200, "body": "<html>hi</html>", "content_type": "text/html"}],
        5,
        "without a usable access token",
    ),
    "200 JSON without a token": (
        [{"status": 200, "body": '{"token_type": "Bearer"}'}],
        5,
        "without a usable access token",
    ),
    "502 HTML forever": ([{**html(502), "count": 9}], 5, "answered 502 Bad Gateway after 1 retry"),
}


def queue(sandbox: SandboxHandle, faults: list[dict[str, Any]], target: str) -> None:
    for fault in faults:
        fault = {**fault, "target": target}
        if fault.get("retry_after") == "DATE":
            fault["retry_after"] = http_date(1)
        sandbox.fault(**fault)


def timing_args(name: str) -> list[str]:
    if "timeout" in name:
        return ["--timeout", "0.4", "--retries", "1"]
    if "never ends" in name or "goes on" in name or "forever" in name:
        return ["--retries", "1"]
    return []


def check_failure_line(result: Any, code: int, fragment: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    if code:
        error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(error_lines) == 1, result.stderr
        if fragment:
            assert fragment in result.stderr, result.stderr


@pytest.mark.parametrize("name", list(TOKEN_FAULTS))
@pytest.mark.parametrize("command", ["login", "token"])
def test_token_service_faults(cg, sandbox_env: SandboxHandle, name: str, command: str) -> None:
    faults, code, fragment = TOKEN_FAULTS[name]
    queue(sandbox_env, faults, "token")
    if command == "login":
        result = cg(
            "auth", "login", "--client-id", CLIENT_ID, "--client-secret-stdin", *timing_args(name), input=SECRET + "\n"
        )
    else:
        result = cg("auth", "token", *timing_args(name), prints_token=True)
        if code == 0:
            assert result.stdout.strip() in sandbox_env.tokens
    check_failure_line(result, code, fragment)


@pytest.mark.parametrize("name", list(RECORD_FAULTS))
def test_records_put_faults(cg, sandbox_env: SandboxHandle, name: str) -> None:
    faults, codes, fragment = RECORD_FAULTS[name]
    cg("auth", "token", prints_token=True)
    queue(sandbox_env, faults, "records")
    result = cg("records", "put", "--config", ACCOUNTS_REF, "-f", "Account Name=ACME", *timing_args(name))
    check_failure_line(result, codes["put"], fragment)
    if codes["put"] == 0:
        assert len(sandbox_env.records()) == 1


def write_rows(path: Path) -> None:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["Account Name"])
        writer.writerows([f"Account {i}"] for i in range(1, ROWS + 1))


def assert_every_row_accounted_for(sandbox: SandboxHandle, *, resent: bool = False) -> None:
    """`resent`: an account row may arrive twice (a request that timed out was processed all the same)."""
    received = [r["record"]["Account Name"] for r in sandbox.records()]
    assert resent or len(received) == len(set(received)), "a row was sent twice"
    failed = set()
    if Path("a.failed.csv").exists():
        failed = {row["Account Name"] for row in csv.DictReader(Path("a.failed.csv").read_text().splitlines())}
    journal = Path("a.csv.cg-journal")
    journaled = {n for n, status in journal_rows(journal).items() if status in "SF"}
    for number in range(1, ROWS + 1):
        name = f"Account {number}"
        sent, in_failed = name in received, name in failed
        assert not (sent and in_failed) or "may have arrived" in Path("a.failed.csv").read_text()
        assert sent or in_failed or (journal.exists() and number not in journaled), f"row {number} was lost"


@pytest.mark.parametrize("name", list(RECORD_FAULTS))
def test_records_import_faults(cg, sandbox_env: SandboxHandle, name: str) -> None:
    faults, codes, fragment = RECORD_FAULTS[name]
    write_rows(Path("a.csv"))
    cg("auth", "token", prints_token=True)
    queue(sandbox_env, faults, "records")
    result = cg("records", "import", "a.csv", "--config", ACCOUNTS_REF, "--workers", "2", *timing_args(name))
    check_failure_line(result, codes["import"], fragment if codes["import"] != 6 else "")
    assert_every_row_accounted_for(sandbox_env, resent="timeout" in name)
    if codes["import"] in (3, 5):
        sandbox_env.post("/_sandbox/reset")
        sent_before = len(sandbox_env.records())
        resumed = cg("records", "import", "a.csv", "--config", ACCOUNTS_REF, "--resume")
        assert resumed.exit_code == 0, resumed.output
        assert sent_before == 0
    if codes["import"] == 6:
        [failed] = list(csv.DictReader(Path("a.failed.csv").read_text().splitlines()))
        assert failed["_error"].startswith("422 ") and fragment in failed["_error"]


@pytest.fixture
def token_service_down(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> SandboxHandle:
    monkeypatch.setenv("CG_AUTH_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CG_API_URL", sandbox.url)
    monkeypatch.setenv("CG_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("CG_CLIENT_SECRET", SECRET)
    return sandbox


def test_token_service_down_login_and_token_exit_5(cg, token_service_down: SandboxHandle) -> None:
    login = cg("auth", "login", "--client-id", CLIENT_ID, "--retries", "0")
    check_failure_line(login, 5, "cannot connect to 127.0.0.1")
    token = cg("auth", "token", "--retries", "0")
    check_failure_line(token, 5, "connection refused")


def test_token_service_down_put_and_import_exit_5(cg, token_service_down: SandboxHandle) -> None:
    check_failure_line(
        cg("records", "put", "-c", ACCOUNTS_REF, "-f", "Account Name=A", "--retries", "0"), 5, "cannot connect"
    )
    write_rows(Path("a.csv"))
    result = cg("records", "import", "a.csv", "--config", ACCOUNTS_REF, "--retries", "0")
    check_failure_line(result, 5, "cannot connect")
    assert token_service_down.stats()["record_requests"] == 0


def test_token_service_down_with_a_cached_token_still_pushes(
    cg, sandbox_env: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = cg("auth", "token", prints_token=True)
    assert cached.exit_code == 0
    # The token cache is keyed by the token URL: point at a dead one only for the push.
    result = cg("records", "put", "-c", ACCOUNTS_REF, "-f", "Account Name=A")
    assert result.exit_code == 0
    assert sandbox_env.stats()["token_requests"] == 1


def test_status_with_the_token_service_down_shows_settings_and_exits_5(cg, token_service_down) -> None:
    result = cg("auth", "status", "--retries", "0")
    assert result.exit_code == 5
    assert "client id" in result.stdout and CLIENT_ID in result.stdout
    check_failure_line(result, 5, "cannot connect to 127.0.0.1")
