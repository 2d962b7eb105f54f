"""cg records put against the sandbox: bodies, inputs, results, faults, bad input."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from cg_cli.records.mappings import Mapping
from tests.conftest import ACCOUNTS_REF, SandboxHandle, free_port

ACME = ["-f", "Account Name=ACME", "-f", "Email=joe.doe@example.com"]


def put(cg, *args: str, input: str | None = None):  # noqa: A002
    return cg("records", "put", *args, input=input)


def test_put_with_fields_lands_as_exact_json(cg, sandbox_env: SandboxHandle) -> None:
    result = put(cg, "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "Pushed 1 record" in result.stderr
    [received] = sandbox_env.records()
    assert received["content_type"] == "application/json"
    assert json.loads(received["body"]) == {
        "configuration": ACCOUNTS_REF,
        "record": {"Account Name": "ACME", "Email": "joe.doe@example.com"},
    }


def test_output_json_on_success(cg, sandbox_env: SandboxHandle) -> None:
    result = put(cg, "--config", ACCOUNTS_REF, *ACME, "--output", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "ok": True,
        "status": 200,
        "configuration": ACCOUNTS_REF,
        "record": {"Account Name": "ACME", "Email": "joe.doe@example.com"},
    }


def test_configuration_from_environment(cg, sandbox_env: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_CONFIGURATION", ACCOUNTS_REF)
    assert put(cg, *ACME).exit_code == 0
    assert sandbox_env.records()[0]["configuration"] == ACCOUNTS_REF


AWKWARD_NAME = "Notes & [x] Ünï+%"
AWKWARD_JSON_NAME = "a=b&c[d]"
AWKWARD_VALUE = "a&b=c [d] é +%20 ☃"


@pytest.fixture
def awkward_sandbox(make_sandbox) -> SandboxHandle:
    fields = ("Account Name", AWKWARD_NAME, AWKWARD_JSON_NAME)
    return make_sandbox(mappings=[Mapping("odd", "odd-ref", "account", fields)])


@pytest.mark.parametrize("form", [False, True])
def test_awkward_names_and_values_arrive_intact(cg, awkward_sandbox: SandboxHandle, form: bool) -> None:
    args = ["--config", "odd-ref", "-f", "Account Name=ACME", "-f", f"{AWKWARD_NAME}={AWKWARD_VALUE}"]
    stdin = json.dumps({AWKWARD_JSON_NAME: AWKWARD_VALUE})
    result = put(cg, *args, "--json", "-", *(["--form"] if form else []), input=stdin)
    assert result.exit_code == 0, result.output
    [received] = awkward_sandbox.records()
    assert received["record"] == {
        AWKWARD_JSON_NAME: AWKWARD_VALUE,
        "Account Name": "ACME",
        AWKWARD_NAME: AWKWARD_VALUE,
    }
    assert received["dropped"] == []


def test_form_body_is_encoded_as_documented(cg, sandbox_env: SandboxHandle) -> None:
    result = put(cg, "--config", ACCOUNTS_REF, *ACME, "--form")
    assert result.exit_code == 0, result.output
    [received] = sandbox_env.records()
    assert received["content_type"] == "application/x-www-form-urlencoded"
    assert received["body"] == (
        f"configuration={ACCOUNTS_REF}&record[Account%20Name]=ACME&record[Email]=joe.doe%40example.com"
    )
    assert parse_qsl(received["body"]) == [
        ("configuration", ACCOUNTS_REF),
        ("record[Account Name]", "ACME"),
        ("record[Email]", "joe.doe@example.com"),
    ]


def test_numbers_and_booleans_keep_their_json_type(cg, sandbox_env: SandboxHandle, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"Account Name": 1.5, "First Name": 7, "Last Name": True, "Email": "j@x.io"}))
    assert put(cg, "--config", ACCOUNTS_REF, "--json", str(path)).exit_code == 0
    assert put(cg, "--config", ACCOUNTS_REF, "--json", str(path), "--form").exit_code == 0
    as_json, as_form = sandbox_env.records()
    assert as_json["record"] == {"Account Name": 1.5, "First Name": 7, "Last Name": True, "Email": "j@x.io"}
    assert as_form["record"] == {"Account Name": "1.5", "First Name": "7", "Last Name": "true", "Email": "j@x.io"}


def test_json_file_record_only(cg, sandbox_env: SandboxHandle, tmp_path: Path) -> None:
    path = tmp_path / "account.json"
    path.write_text('{"Account Name": "ACME", "First Name": "Joe"}')
    assert put(cg, "--config", ACCOUNTS_REF, "--json", str(path)).exit_code == 0
    assert sandbox_env.records()[0]["record"] == {"Account Name": "ACME", "First Name": "Joe"}


def test_json_stdin_whole_body_uses_its_configuration(cg, sandbox_env: SandboxHandle) -> None:
    body = json.dumps({"configuration": ACCOUNTS_REF, "record": {"Account Name": "ACME"}})
    result = put(cg, "--json", "-", input=body)
    assert result.exit_code == 0, result.output
    assert sandbox_env.records()[0]["configuration"] == ACCOUNTS_REF


def test_config_option_beats_whole_body_configuration(cg, sandbox_env: SandboxHandle) -> None:
    body = json.dumps({"configuration": "unknown-ref", "record": {"Email": "a@b.c"}})
    result = put(cg, "--config", "contact", "--json", "-", input=body)
    assert result.exit_code == 0, result.output
    assert sandbox_env.records()[0]["configuration"] == "contact"


def test_fields_override_json_keys(cg, sandbox_env: SandboxHandle, tmp_path: Path) -> None:
    path = tmp_path / "account.json"
    path.write_text('{"Account Name": "Old", "First Name": "Joe"}')
    assert put(cg, "--config", ACCOUNTS_REF, "--json", str(path), "-f", "Account Name=New").exit_code == 0
    assert sandbox_env.records()[0]["record"] == {"Account Name": "New", "First Name": "Joe"}


def test_empty_value_and_equals_in_value(cg, sandbox_env: SandboxHandle) -> None:
    result = put(cg, "--config", ACCOUNTS_REF, "-f", "Account Name=a=b", "-f", "First Name=")
    assert result.exit_code == 0
    assert sandbox_env.records()[0]["record"] == {"Account Name": "a=b", "First Name": ""}


def test_unmapped_fields_are_dropped_silently_by_the_sandbox(cg, sandbox_env: SandboxHandle) -> None:
    assert put(cg, "--config", ACCOUNTS_REF, "-f", "Account Name=ACME", "-f", "account name=x").exit_code == 0
    [received] = sandbox_env.records()
    assert received["record"] == {"Account Name": "ACME"}
    assert received["dropped"] == ["account name"]


def test_422_renders_a_table_in_text(cg, sandbox_env: SandboxHandle) -> None:
    result = put(cg, "--config", ACCOUNTS_REF, "-f", "Email=joe@example.com")
    assert result.exit_code == 4
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert result.stderr.count("The given data was invalid.") == 1  # once, in the error line
    assert any("│ record.Account Name │ The record.Account Name field is required. │" in line for line in lines)
    assert lines[-1] == "error: the API refused the record (422): The given data was invalid."


def test_422_in_json(cg, sandbox_env: SandboxHandle) -> None:
    result = put(cg, "--config", "nope", "-f", "Email=joe@example.com", "-o", "json")
    assert result.exit_code == 4
    assert json.loads(result.stdout) == {
        "ok": False,
        "exit_code": 4,
        "error": "the API refused the record (422): The given data was invalid.",
        "hint": None,
        "status": 422,
        "message": "The given data was invalid.",
        "errors": {"configuration": ["The selected configuration is invalid."]},
    }


def test_422_server_text_with_markup_is_literal(cg, sandbox_env: SandboxHandle) -> None:
    body = json.dumps(
        {"message": "[bold red]x[/] \x1b[2J", "errors": {"record.[b]A[/b]": ["[red]bad[/red]\x1b]0;t\x07"]}}
    )
    sandbox_env.fault(status=422, body=body)
    result = put(cg, "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 4
    assert "[bold red]x[/]" in result.stderr
    assert "[red]bad[/red]" in result.stderr and "record.[b]A[/b]" in result.stderr
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b[2J" in result.stderr


def test_token_expiry_mid_use_refreshes_once(cg, sandbox_env: SandboxHandle) -> None:
    assert put(cg, "--config", ACCOUNTS_REF, *ACME).exit_code == 0
    sandbox_env.expire_tokens()  # the cached token now gets 401
    result = cg("-v", "records", "put", "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 0, result.output
    assert "401: refreshing the access token" in result.stderr
    assert sandbox_env.stats()["token_requests"] == 2
    assert len(sandbox_env.records()) == 2


def test_persistent_401_exits_3(cg, sandbox_env: SandboxHandle) -> None:
    sandbox_env.fault(status=401, body='{"message": "Unauthenticated."}', count=2)
    result = put(cg, "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 3
    assert "refused the access token even after a refresh" in result.stderr
    assert sandbox_env.stats()["token_requests"] == 2


def test_503_twice_then_success(cg, sandbox_env: SandboxHandle) -> None:
    sandbox_env.fault(status=503, count=2)
    result = cg("-v", "records", "put", "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("503 Service Unavailable; retrying") == 2
    assert len(sandbox_env.records()) == 1


def test_429_retry_after_is_honoured(cg, sandbox_env: SandboxHandle) -> None:
    import time

    sandbox_env.fault(status=429, retry_after="1")
    started = time.monotonic()
    result = cg("-v", "records", "put", "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 0, result.output
    assert "Retry-After 1" in result.stderr
    assert time.monotonic() - started >= 1.0  # behaviour: it waited as told, not a speed bound


def test_persistent_503_exits_5_naming_the_status(cg, sandbox_env: SandboxHandle) -> None:
    sandbox_env.fault(status=503, count=10)
    result = put(cg, "--config", ACCOUNTS_REF, *ACME, "--retries", "1")
    assert result.exit_code == 5
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("error: the records service answered 503 Service Unavailable after 1 retry")
    )


def test_other_status_exits_5_with_message(cg, sandbox_env: SandboxHandle) -> None:
    sandbox_env.fault(status=403, body='{"message": "This action is unauthorized."}')
    result = put(cg, "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 5
    assert "403 Forbidden: This action is unauthorized." in result.stderr
    assert sandbox_env.stats()["record_requests"] == 1  # never retried


def test_closed_port_exits_5(cg, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("CG_AUTH_URL", url)
    monkeypatch.setenv("CG_API_URL", url)
    monkeypatch.setenv("CG_CLIENT_ID", "id")
    monkeypatch.setenv("CG_CLIENT_SECRET", "secret-x")
    result = put(cg, "--config", ACCOUNTS_REF, *ACME, "--retries", "1")
    assert result.exit_code == 5
    assert "cannot connect to 127.0.0.1" in result.stderr and "connection refused" in result.stderr
    assert "secret-x" not in result.output


def test_dry_run_sends_nothing_needs_no_credentials(cg, sandbox: SandboxHandle, monkeypatch) -> None:
    monkeypatch.setenv("CG_API_URL", sandbox.url)
    monkeypatch.setenv("CG_AUTH_URL", sandbox.url)
    result = put(cg, "--config", ACCOUNTS_REF, *ACME, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"PUT {sandbox.url}/records/\n")
    assert "Authorization: Bearer ***" in result.stdout
    assert sandbox.stats() == {**sandbox.stats(), "token_requests": 0, "record_requests": 0}


def test_dry_run_curl_line_works(cg, sandbox_env: SandboxHandle, tmp_path: Path) -> None:
    """Run the printed curl line, with a stand-in for `cg auth token`, and see the record land."""
    token = cg("auth", "token", prints_token=True).stdout.strip()
    result = put(cg, "--config", ACCOUNTS_REF, *ACME, "--form", "--dry-run")
    curl_line = result.stdout.strip().splitlines()[-1]
    assert curl_line.startswith("curl ") and "$(cg auth token)" in curl_line
    fake_cg = tmp_path / "bin" / "cg"
    fake_cg.parent.mkdir()
    fake_cg.write_text(f"#!/bin/sh\necho {shlex.quote(token)}\n")
    fake_cg.chmod(0o755)
    done = subprocess.run(
        ["bash", "-c", curl_line], env={"PATH": f"{fake_cg.parent}:/usr/bin:/bin"}, capture_output=True, timeout=10
    )
    assert done.returncode == 0, done.stderr
    assert sandbox_env.records()[0]["record"] == {"Account Name": "ACME", "Email": "joe.doe@example.com"}


def test_dry_run_uses_the_profile_in_curl(cg, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_REGION", "eu")
    result = cg("--profile", "prod", "records", "put", "-c", "REF", "-f", "A=1", "--dry-run")
    assert "$(cg --profile prod auth token)" in result.stdout
    Path("my settings.env").write_text("CG_REGION=eu\n")
    spaced = cg("--env-file", "my settings.env", "records", "put", "-c", "REF", "-f", "A=1", "--dry-run")
    assert "$(cg --env-file 'my settings.env' auth token)" in spaced.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        (["-f", "Account Name"], None, 'has no "="'),
        (["-f", "=ACME"], None, "has no field name"),
        (["-f", "A=1", "-f", "A=2"], None, "given twice"),
        ([], None, "the record is empty"),
        (["--json", "-"], "{}", "the record is empty"),
        (["--json", "-"], '{"a": 1,\n "b": }', "invalid JSON at line 2, column 7"),
        (["--json", "-"], "[1, 2]", "expected a JSON object, got a list"),
        (["--json", "-"], '"text"', "expected a JSON object, got a string"),
        (["--json", "-"], '{"A": {"b": 1}}', "field 'A' is an object"),
        (["--json", "-"], '{"A": [1]}', "field 'A' is a list"),
        (["--json", "-"], '{"A": null}', "field 'A' is null"),
        (["--json", "-"], '{"configuration": 5, "record": {"A": "1"}}', '"configuration" must be a string'),
        (["--json", "missing.json"], None, "--json missing.json does not exist"),
        (["--json", "."], None, "is a directory"),
        (["--output", "yaml"], None, "unknown output format"),
    ],
)
def test_bad_input_exits_2_with_one_line(cg, sandbox_env: SandboxHandle, args, stdin, expected) -> None:
    result = put(cg, "--config", ACCOUNTS_REF, *args, input=stdin)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert result.stderr.startswith("error: ")
    assert sandbox_env.stats()["record_requests"] == 0


def test_no_configuration_exits_2(cg, sandbox_env: SandboxHandle) -> None:
    result = put(cg, *ACME)
    assert result.exit_code == 2
    assert "no configuration given" in result.stderr


def test_invalid_utf8_json_exits_2(cg, sandbox_env: SandboxHandle, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"A": "\xff"}')
    result = put(cg, "--config", ACCOUNTS_REF, "--json", str(path))
    assert result.exit_code == 2
    assert "is not UTF-8" in result.stderr


def test_unreadable_json_exits_2(cg, sandbox_env: SandboxHandle, tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = tmp_path / "locked.json"
    path.write_text("{}")
    path.chmod(0)
    result = put(cg, "--config", ACCOUNTS_REF, "--json", str(path))
    assert result.exit_code == 2
    assert "permission denied" in result.stderr


def test_verbose_logs_attempts_without_secrets(cg, sandbox_env: SandboxHandle) -> None:
    result = cg("-v", "records", "put", "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 0
    assert f"POST {sandbox_env.url}/oauth2/token" in result.stderr
    assert f"PUT {sandbox_env.url}/records/" in result.stderr
    assert "200 OK in" in result.stderr


def test_read_timeout_exits_5(cg, sandbox_env: SandboxHandle) -> None:
    cg("auth", "token", prints_token=True)
    sandbox_env.fault(delay=1.5)
    result = put(cg, "--config", ACCOUNTS_REF, *ACME, "--timeout", "0.3", "--retries", "0")
    assert result.exit_code == 5
    assert "no answer from" in result.stderr and "within 0.3 s" in result.stderr


def test_dropped_connection_is_retried(cg, sandbox_env: SandboxHandle) -> None:
    cg("auth", "token", prints_token=True)
    sandbox_env.fault(drop=True)
    result = put(cg, "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 0, result.output
    assert len(sandbox_env.records()) == 1
