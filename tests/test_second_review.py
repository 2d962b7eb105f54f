"""Findings of the second review: output that never fails after a send, escapes,
closed stdin, mapping file rules, profiles, and a sandbox that says only what it knows."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ACCOUNTS_REF, CLIENT_ID, SECRET, SandboxHandle

CG = str(Path(sys.executable).parent / "cg")


def run_cg(sandbox: SandboxHandle, *args: str, env: dict[str, str] | None = None, shell: str | None = None) -> Any:
    base = {**os.environ, "CG_AUTH_URL": sandbox.url, "CG_API_URL": sandbox.url, "CG_CLIENT_ID": CLIENT_ID}
    base["CG_CLIENT_SECRET"] = SECRET
    command = ["bash", "-c", shell] if shell else [CG, *args]
    return subprocess.run(command, env={**base, **(env or {})}, capture_output=True, timeout=30)


# --- 1. output never fails after a send ------------------------------------------


def test_an_ascii_stdout_gets_escaped_json_after_the_send(sandbox: SandboxHandle) -> None:
    ascii_out = {"PYTHONIOENCODING": "ascii"}
    put = run_cg(
        sandbox, "records", "put", "--config", ACCOUNTS_REF, "-f", "Account Name=Zoë", "-o", "json", env=ascii_out
    )
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["record"] == {"Account Name": "Zoë"}
    assert len(sandbox.records()) == 1
    dry = run_cg(
        sandbox, "records", "put", "--config", ACCOUNTS_REF, "-f", "Account Name=Zoë", "--dry-run", env=ascii_out
    )
    assert dry.returncode == 0 and b"Traceback" not in dry.stderr


def test_undecodable_argv_is_refused_before_sending(sandbox: SandboxHandle) -> None:
    c_locale = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    result = run_cg(
        sandbox, shell=f"{CG} records put --config {ACCOUNTS_REF} -f $'Account Name=Zo\\xc3\\xab'", env=c_locale
    )
    assert result.returncode == 2, result.stderr
    assert b"not valid text in this locale" in result.stderr
    assert sandbox.stats()["record_requests"] == 0


def test_json_from_a_closed_stdin_is_exit_2(sandbox: SandboxHandle) -> None:
    result = run_cg(sandbox, shell=f"{CG} records put --config {ACCOUNTS_REF} --json - <&-")
    assert result.returncode == 2 and b"stdin is closed" in result.stderr


# --- 2. escapes ----------------------------------------------------------------------


def test_escapes_and_bidi_controls_from_a_mapping_file_are_shown_not_obeyed(cg) -> None:
    Path("cg-mappings.toml").write_text(
        '["evil\\u001b]0;PWNED\\u0007"]\nreference = "r\\u001b[2J\\u202egnp.exe"\ntype = "account"\n'
        'fields = ["Account Name"]\n'
    )
    shown = cg("mappings", "show", "evil\x1b]0;PWNED\x07")
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.output and "\u202e" not in shown.output
    assert "\\x1b]0;PWNED\\x07" in shown.stderr and "\\u202e" in shown.stderr


# --- 4 and 7: the mapping file ----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            '[a]\nreference = "R"\ntype = "contact"\nfields = ["Email"]\n\n'
            '[b]\nreference = "R"\ntype = "survey-response"\nfields = ["Email"]\n',
            "lines 3 and 8: reference 'R' is declared as contact ('a') and as survey-response ('b')",
        ),
        ('[a]\nreference = " R "\ntype = "account"\nfields = ["Account Name"]\n', "leading or trailing spaces"),
        (
            '[a]\nreference = "R"\ntype = "account"\nfields = ["Account Name", ""]\n',
            "line 4: mapping 'a': a Field Heading is empty",
        ),
        ("# c\n\n[c.d]\nx = 1\n", "line 3: mapping 'c'"),
    ],
)
def test_mapping_file_mistakes_are_load_errors(cg, content: str, expected: str) -> None:
    Path("cg-mappings.toml").write_text(content)
    result = cg("mappings", "list")
    assert result.exit_code == 2 and expected in result.stderr, result.stderr


def test_the_same_reference_twice_with_one_type_is_fine(cg) -> None:
    Path("cg-mappings.toml").write_text(
        '[a]\nreference = "R"\ntype = "contact"\nfields = ["Email"]\n[b]\nreference = "R"\ntype = "contact"\n'
        'fields = ["Email", "Phone"]\n'
    )
    assert cg("mappings", "list").exit_code == 0


def test_did_you_mean_for_mappings_and_invisible_differences(cg) -> None:
    nfc = unicodedata.normalize("NFC", "Café")
    Path("cg-mappings.toml").write_text(
        f'[accounts]\nreference = "R"\ntype = "account"\nfields = ["Account Name", "{nfc}"]\n'
    )
    unknown = cg("mappings", "show", "acounts")
    assert unknown.exit_code == 2 and "did you mean 'accounts'?" in unknown.stderr
    nfd = unicodedata.normalize("NFD", "Café")
    found = cg(
        "mappings", "check", "accounts", "-f", "Account Name=A", "-f", f"{nfd}=x", "-f", "Account Name =y", "-o", "json"
    )
    problems = json.loads(found.stdout)["problems"]
    by_field = {p["field"]: p for p in problems}
    assert "Unicode NFD vs NFC" in by_field[nfd]["problem"] and by_field[nfd]["suggestion"] == nfc
    assert "leading or trailing spaces" in by_field["Account Name "]["problem"]


# --- 6 and 7: credentials and profiles -----------------------------------------------


def test_a_changed_secret_is_not_vouched_for(cg, sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_AUTH_URL", sandbox.url)
    monkeypatch.setenv("CG_API_URL", sandbox.url)
    monkeypatch.setenv("CG_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("CG_CLIENT_SECRET", SECRET)
    assert cg("auth", "status").exit_code == 0
    monkeypatch.setenv("CG_CLIENT_SECRET", "wrong")
    status = cg("auth", "status")
    assert status.exit_code == 3, status.output


def test_a_misspelled_profile_is_named_with_a_suggestion(cg, sandbox: SandboxHandle, monkeypatch) -> None:
    monkeypatch.setenv("CG_AUTH_URL", sandbox.url)
    monkeypatch.setenv("CG_API_URL", sandbox.url)
    login = cg("--profile", "staging", "auth", "login", "--client-id", CLIENT_ID, "--client-secret-stdin", input=SECRET)
    assert login.exit_code == 0
    monkeypatch.delenv("CG_AUTH_URL")
    monkeypatch.delenv("CG_API_URL")
    result = cg("--profile", "stagign", "records", "put", "--config", "R", "-f", "A=b")
    assert result.exit_code == 2
    assert "no profile named 'stagign' (from the command line)" in result.stderr
    assert "did you mean 'staging'?" in result.stderr


def test_auth_list_shows_every_profile(cg, sandbox: SandboxHandle, monkeypatch) -> None:
    monkeypatch.setenv("CG_AUTH_URL", sandbox.url)
    monkeypatch.setenv("CG_API_URL", sandbox.url)
    for name in ("staging", "default"):  # the same credentials share one cached token: log out staging first
        cg("--profile", name, "auth", "login", "--client-id", CLIENT_ID, "--client-secret-stdin", input=SECRET)
        if name == "staging":
            cg("--profile", "staging", "auth", "logout")
    listed = json.loads(cg("auth", "list", "-o", "json").stdout)
    assert [(p["name"], p["token_valid"], p["has_secret"]) for p in listed["profiles"]] == [
        ("default", True, True),
        ("staging", False, False),
    ]
    text = cg("auth", "list").stdout
    assert "default" in text and "staging" in text and "valid until" in text


# --- 8-11: the sandbox --------------------------------------------------------------------


def put_record(sandbox: SandboxHandle, token: str, record: dict[str, Any], reference: str = ACCOUNTS_REF) -> int:
    body = json.dumps({"configuration": reference, "record": record}).encode()
    return raw_request(sandbox, "PUT", "/records/", body, {"Authorization": f"Bearer {token}"})


def raw_request(sandbox: SandboxHandle, method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
    port = int(sandbox.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers={"Content-Type": "application/json", **headers})
    status = connection.getresponse().status
    connection.close()
    return status


@pytest.mark.parametrize(
    ("record", "reference", "status"),
    [
        ({"Account Name": None}, ACCOUNTS_REF, 422),
        ({"Account Name": "  "}, ACCOUNTS_REF, 422),
        ({"Account Name": "A", "Email": "not-an-email"}, ACCOUNTS_REF, 422),
        ({"Account Name": "A", "Email": "a b@x.io"}, ACCOUNTS_REF, 422),
        ({"Phone": "()-+ "}, "contact", 422),
        ({"Phone": "+31 (0)6-1234"}, "contact", 200),
        ({"Account Name": "A", "Email": "a@x.io"}, ACCOUNTS_REF, 200),
    ],
)
def test_the_sandbox_checks_what_the_docs_document(
    cg, sandbox_env: SandboxHandle, record: dict[str, Any], reference: str, status: int
) -> None:
    token = cg("auth", "token", prints_token=True).stdout.strip()
    assert put_record(sandbox_env, token, record, reference) == status


def test_required_fields_count_only_when_mapped(cg, make_sandbox: Any) -> None:
    from cg_cli.records.mappings import Mapping

    sandbox = make_sandbox(mappings=[Mapping("c", "c-ref", "contact", ("Email", "First Name"))])
    token = cg("auth", "token", prints_token=True).stdout.strip()
    assert put_record(sandbox, token, {"Phone": "123"}, "c-ref") == 422  # Phone is not mapped: dropped first


@pytest.mark.parametrize(
    "fault",
    [{"count": 100_000_000}, {"status": "abc"}, {"delay": "x"}, {"delay": 1e9}, {"drop": "yes"}, {"target": "x"}, [1]],
)
def test_bad_faults_are_refused(sandbox: SandboxHandle, fault: Any) -> None:
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as refused:
        sandbox.post("/_sandbox/faults", fault)
    assert refused.value.code == 400
    assert sandbox.stats()["faults_pending"] == {"records": 0, "token": 0}


def test_bodies_the_sandbox_will_not_read(sandbox: SandboxHandle) -> None:
    assert raw_request(sandbox, "PUT", "/records/", b"x" * 2_000_001, {}) == 413
    port = int(sandbox.url.rsplit(":", 1)[1])
    for head, expected in ((b"Content-Length: abc", b" 400 "), (b"Transfer-Encoding: chunked", b" 411 ")):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(b"PUT /records/ HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n\r\n")
            assert expected in raw.recv(200)


@pytest.mark.parametrize("option", ["--token-ttl", "--latency"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_sandbox_refuses_non_finite_seconds(cg, option: str, value: str) -> None:
    result = cg("sandbox", "--port", "0", option, value)
    assert result.exit_code == 2 and "number of seconds" in result.stderr


def test_sandbox_refuses_a_mapping_without_its_required_field(cg) -> None:
    Path("m.toml").write_text('[c]\nreference = "c"\ntype = "contact"\nfields = ["First Name"]\n')
    result = cg("sandbox", "--port", "0", "--mappings-file", "m.toml")
    assert result.exit_code == 2 and "Email or Phone" in result.stderr


@pytest.mark.parametrize("timeout", ["nan", "inf", "1e20"])
def test_absurd_timeouts_are_refused(cg, timeout: str) -> None:
    result = cg("records", "put", "--config", "R", "-f", "A=b", "--timeout", timeout, "--region", "eu")
    assert result.exit_code == 2 and "--timeout" in result.stderr


def test_sandbox_listens_on_ipv6_loopback() -> None:
    from cg_cli.sandbox.server import Sandbox

    try:
        server = Sandbox("::1", 0).start()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    try:
        assert server.url.startswith("http://[::1]:")
    finally:
        server.stop()
