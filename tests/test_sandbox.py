"""The sandbox answers as the documented API does."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.conftest import ACCOUNTS_REF, CLIENT_ID, SECRET, SandboxHandle, start_sandbox


def call(url: str, method: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def get_token(url: str, secret: str = SECRET, content_type: str = "application/x-www-form-urlencoded") -> Any:
    body = f"grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={secret}".encode()
    return call(url + "/oauth2/token", "POST", body, {"Content-Type": content_type})


def put_json(url: str, token: str | None, data: Any) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return call(url + "/records/", "PUT", json.dumps(data).encode(), headers)


def test_token_endpoint_takes_form_only(sandbox: SandboxHandle) -> None:
    status, data = get_token(sandbox.url)
    assert status == 200 and data["expires_in"] == 3600 and data["token_type"] == "Bearer"
    assert get_token(sandbox.url, content_type="application/json")[0] == 400
    assert get_token(sandbox.url, secret="wrong") == (401, {"error": "invalid_client"})


def test_records_need_a_valid_token(sandbox: SandboxHandle) -> None:
    record = {"configuration": ACCOUNTS_REF, "record": {"Account Name": "A"}}
    assert put_json(sandbox.url, None, record) == (401, {"message": "Unauthenticated."})
    assert put_json(sandbox.url, "made-up", record) == (401, {"message": "Unauthenticated."})
    token = get_token(sandbox.url)[1]["access_token"]
    assert put_json(sandbox.url, token, record) == (200, None)


def test_tokens_expire() -> None:
    server = start_sandbox(token_ttl=0.2)
    try:
        token = get_token(server.url)[1]["access_token"]
        time.sleep(0.3)
        status, _ = put_json(server.url, token, {"configuration": ACCOUNTS_REF, "record": {"Account Name": "A"}})
        assert status == 401
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"record": {"Account Name": "A"}}, {"configuration": ["The configuration field is required."]}),
        ({"configuration": "x", "record": {"A": "1"}}, {"configuration": ["The selected configuration is invalid."]}),
        ({"configuration": ACCOUNTS_REF}, {"record": ["The record field is required."]}),
        (
            {"configuration": ACCOUNTS_REF, "record": {"Email": "a@b"}},
            {"record.Account Name": ["The record.Account Name field is required."]},
        ),
        (
            {"configuration": "contact", "record": {"First Name": "Jo"}},
            {"record.Email": ["The record.Email field is required when record.Phone is not present."]},
        ),
        (
            {"configuration": "contact", "record": {"Phone": "call me"}},
            {"record.Phone": ["The record.Phone format is invalid."]},
        ),
    ],
)
def test_422_shapes(sandbox: SandboxHandle, body: dict[str, Any], errors: dict[str, list[str]]) -> None:
    token = get_token(sandbox.url)[1]["access_token"]
    assert put_json(sandbox.url, token, body) == (422, {"message": "The given data was invalid.", "errors": errors})
    assert sandbox.records() == []


def test_unknown_fields_dropped_silently(sandbox: SandboxHandle) -> None:
    token = get_token(sandbox.url)[1]["access_token"]
    body = {"configuration": ACCOUNTS_REF, "record": {"Account Name": "A", "account name": "b", "Colour": "red"}}
    assert put_json(sandbox.url, token, body) == (200, None)
    [stored] = sandbox.records()
    assert stored["record"] == {"Account Name": "A"}
    assert stored["dropped"] == ["account name", "Colour"]


def test_faults_are_queued_in_order(sandbox: SandboxHandle) -> None:
    sandbox.fault(status=503, retry_after="2", count=2)
    token = get_token(sandbox.url)[1]["access_token"]
    body = {"configuration": ACCOUNTS_REF, "record": {"Account Name": "A"}}
    assert put_json(sandbox.url, token, body)[0] == 503
    assert put_json(sandbox.url, token, body)[0] == 503
    assert put_json(sandbox.url, token, body)[0] == 200


def test_bad_fault_is_refused(sandbox: SandboxHandle) -> None:
    status, data = call(sandbox.url + "/_sandbox/faults", "POST", b'{"colour": 1}', {})
    assert status == 400 and "unknown fault keys" in data["message"]
