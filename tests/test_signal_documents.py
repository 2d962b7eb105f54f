"""-o json under Ctrl-C and SIGTERM: every command still prints exactly one JSON document (exit 130 or 143),
also while a request is on its way (a command used to print only `interrupted`, or die by SIGTERM silently)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SECRET, spawn
from tests.test_records_import import CG, write_accounts

COMMANDS = {
    "auth token": ("token", ["auth", "token"]),
    "records put": ("records", ["records", "put", "--config", "acc-ref", "-f", "Account Name=A"]),
    "records import": ("token", ["records", "import", "a.csv", "--mapping", "accounts", "--junit", "j.xml"]),
}


def wait_until_taken(sandbox: Any, target: str, timeout: float = 30) -> None:
    """The slow fault was taken: the request is on its way, inside cg's wait for the answer."""
    deadline = time.monotonic() + timeout
    while sandbox.stats()["faults_pending"].get(target):
        assert time.monotonic() < deadline, "cg did not send its request"
        time.sleep(0.02)
    time.sleep(0.05)  # from the sandbox taking the request to cg waiting on the answer


@pytest.mark.parametrize("name", list(COMMANDS))
@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_a_request_is_out_prints_one_document(server: Any, name: str, stop: int, code: int) -> None:
    sandbox = server()
    write_accounts(Path("a.csv"), 3)
    target, args = COMMANDS[name]
    sandbox.fault(target=target, status=200 if target == "token" else 500, delay=20)
    env = {**os.environ, "CG_AUTH_URL": sandbox.url, "CG_API_URL": sandbox.url, "CG_CLIENT_ID": "test-client"}
    env["CG_CLIENT_SECRET"] = SECRET
    proc = spawn([CG, "-o", "json", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until_taken(sandbox, target)
    proc.send_signal(stop)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == code, (out, err)
    document = json.loads(out)  # exactly one document
    assert document["ok"] is False and document["exit_code"] == code, document
    assert document["error"].startswith(("interrupted", "terminated")) and "Traceback" not in err
    if name == "records import":
        assert document["sent"] == 0 and 'failures="1"' in Path("j.xml").read_text()  # its keys and reports


@pytest.mark.parametrize(("secret", "url", "code"), [("wrong", None, 3), (SECRET, "http://127.0.0.1:9", 5)])
def test_an_import_stopped_before_its_first_row_still_has_its_summary_and_reports(
    cg, server: Any, monkeypatch: pytest.MonkeyPatch, secret: str, url: str | None, code: int
) -> None:
    """Refused credentials (3) or a token service down (5): the import's keys, every count 0, and its JUnit."""
    server()
    monkeypatch.setenv("CG_CLIENT_SECRET", secret)
    if url:
        monkeypatch.setenv("CG_AUTH_URL", url)
    write_accounts(Path("a.csv"), 3)
    result = cg(
        "records", "import", "a.csv", "--mapping", "accounts", "--junit", "j.xml", "--retries", "0", "-o", "json"
    )
    assert result.exit_code == code, result.output
    document = json.loads(result.stdout)
    assert (document["sent"], document["failed"], document["journal"]) == (0, 0, None) and document["stopped_by"]
    junit = Path("j.xml").read_text()
    assert 'failures="1"' in junit and "not sent" in junit  # a red report for a red job
    assert not Path("a.csv.cg-journal").exists()
