"""What a hostile server, a broken machine and odd values do to `cg`: each finding of
the hardening review, reproduced against a real server on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from tests.conftest import ACCOUNTS_REF, CLIENT_ID, SandboxHandle, start_sandbox
from tests.hostile import HostileServer, endless_chunked, many_headers, respond, trickle

CG = str(Path(sys.executable).parent / "cg")
ACME = ("-f", "Account Name=ACME")


def echo_form(status: str) -> Any:
    """A token service that echoes the form body it was sent (a misconfigured proxy)."""

    def answer(request: bytes, sock: socket.socket) -> None:
        body = request.partition(b"\r\n\r\n")[2]
        payload = json.dumps({"message": "bad request: " + body.decode()}).encode()
        respond(status, payload)(request, sock)

    return answer


# --- secrets -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["400 Bad Request", "500 Internal Server Error"])
@pytest.mark.parametrize("secret", ["p@ss w0rd+/=&x~Zq9", "S" * 30 + "-secret-" + "T" * 28])
def test_an_echoed_secret_is_scrubbed_in_every_encoding(cg, monkeypatch: pytest.MonkeyPatch, status, secret) -> None:
    with HostileServer(echo_form(status)) as server:
        monkeypatch.setenv("CG_AUTH_URL", server.url)
        monkeypatch.setenv("CG_API_URL", server.url)
        monkeypatch.setenv("CG_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("CG_CLIENT_SECRET", secret)
        text = cg("auth", "token", "--retries", "0").output
        as_json = cg("auth", "status", "-o", "json", "--retries", "0").output
    assert server.requests, "the token service was asked"
    for output in (text, as_json):
        for form in (secret, quote(secret, safe=""), quote_plus(secret)):
            for start in range(0, max(1, len(form) - 12)):
                assert form[start : start + 12] not in output, output


def test_an_unusable_token_is_exit_5_and_never_shown(cg, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = json.dumps({"access_token": "TOKsecretvalue123\n", "expires_in": 3600}).encode()
    with HostileServer(respond("200 OK", bad)) as server:
        monkeypatch.setenv("CG_AUTH_URL", server.url)
        monkeypatch.setenv("CG_API_URL", server.url)
        monkeypatch.setenv("CG_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("CG_CLIENT_SECRET", "x" * 20)
        for verbose in ((), ("-v",)):
            result = cg("records", "put", "--config", ACCOUNTS_REF, *ACME, *verbose)
            assert result.exit_code == 5, result.output
            assert "without a usable access token" in result.stderr and "TOKsecretvalue123" not in result.output
        Path("a.csv").write_text("Account Name\nA\n")
        imported = cg("records", "import", "a.csv", "--config", ACCOUNTS_REF)
        assert imported.exit_code == 5 and "TOKsecretvalue123" not in imported.output


@pytest.mark.parametrize("what", ["config dir", "tokens dir", "token file"])
def test_credentials_others_could_write_are_refused(cg, sandbox_env: SandboxHandle, config_dir: Path, what) -> None:
    assert cg("auth", "token", prints_token=True).exit_code == 0
    [token_file] = (config_dir / "tokens").glob("*.json")
    target = {"config dir": config_dir, "tokens dir": config_dir / "tokens", "token file": token_file}[what]
    os.chmod(target, 0o777 if target.is_dir() else 0o666)
    result = cg("records", "put", "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 2, result.output
    assert f"{target} can be written by other users" in result.stderr and "chmod" in result.stderr
    assert sandbox_env.records() == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to hand a file to another user")
def test_a_token_file_of_another_user_is_refused(cg, sandbox_env: SandboxHandle, config_dir: Path) -> None:
    cg("auth", "token", prints_token=True)
    [token_file] = (config_dir / "tokens").glob("*.json")
    os.chown(token_file, 65534, 65534)
    result = cg("records", "put", "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 2 and "belongs to another user" in result.stderr


def test_created_directories_are_private(cg, sandbox_env: SandboxHandle, config_dir: Path) -> None:
    cg("auth", "token", prints_token=True)
    assert (config_dir / "tokens").stat().st_mode & 0o777 == 0o700


def test_a_token_cache_that_cannot_be_written_is_a_warning_in_ci(cg, sandbox_env: SandboxHandle, config_dir) -> None:
    config_dir.mkdir(mode=0o700, exist_ok=True)
    (config_dir / "tokens").write_text("not a directory")
    result = cg("records", "put", "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("warning: cannot cache the token") == 1
    Path("a.csv").write_text("Account Name\nA\nB\n")
    assert cg("records", "import", "a.csv", "--config", ACCOUNTS_REF).exit_code == 0
    assert len(sandbox_env.records()) == 3


def test_a_profile_that_cannot_be_stored_is_exit_2(cg, sandbox_env: SandboxHandle, config_dir: Path) -> None:
    config_dir.mkdir(mode=0o700, exist_ok=True)
    (config_dir / "profiles").write_text("not a directory")
    result = cg("auth", "login", "--client-id", CLIENT_ID)
    assert result.exit_code == 2 and "cannot store the profile" in result.stderr


# --- unbounded answers --------------------------------------------------------------------


def records_server_env(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxHandle, records_url: str) -> None:
    monkeypatch.setenv("CG_AUTH_URL", sandbox.url)
    monkeypatch.setenv("CG_API_URL", records_url)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (respond("200 OK", b"x" * (2 << 20)), "an answer over 1 MiB"),
        (endless_chunked, "an answer over 1 MiB"),
        (trickle("200 OK", 0.3, 40), "did not arrive within 2 s"),
    ],
    ids=["2-MiB body", "endless chunked", "slowloris"],
)
def test_answers_are_bounded_in_size_and_time(cg, sandbox_env, monkeypatch, answer: Any, expected: str) -> None:
    with HostileServer(answer) as server:
        records_server_env(monkeypatch, sandbox_env, server.url)
        result = cg("records", "put", "--config", ACCOUNTS_REF, *ACME, "--timeout", "2", "--retries", "0")
    # The bound is proven by its message and exit 5: unbounded, the slowloris would end in 12 s with exit 0.
    assert result.exit_code == 5, result.output
    assert expected in result.stderr


def test_a_malformed_answer_is_not_resent(cg, sandbox_env, monkeypatch: pytest.MonkeyPatch) -> None:
    with HostileServer(many_headers) as server:
        records_server_env(monkeypatch, sandbox_env, server.url)
        result = cg("records", "put", "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 5 and "malformed answer" in result.stderr, result.output
    assert len(server.requests) == 1


# --- odd token lifetimes ---------------------------------------------------------------------


@pytest.mark.parametrize("expires_in", ["0", "-5", "NaN", "Infinity", "1e999", '"soon"'])
def test_odd_token_lifetimes_are_clamped(cg, sandbox_env, monkeypatch, config_dir: Path, expires_in: str) -> None:
    token = (
        b'{"access_token": "tok-' + expires_in.encode().strip(b'"') + b'", "expires_in": ' + expires_in.encode() + b"}"
    )
    token = token.replace(b"tok-1e999", b"tokbig").replace(b"tok--5", b"tokneg")
    with HostileServer(respond("200 OK", token)) as server:
        monkeypatch.setenv("CG_AUTH_URL", server.url)
        for _ in range(3):
            assert cg("auth", "token", prints_token=True).exit_code == 0
    assert len(server.requests) == 1  # one token for all: never one per call, never forever
    [cache] = (config_dir / "tokens").glob("*.json")
    data = json.loads(cache.read_text())  # valid JSON: no NaN or Infinity written
    assert 60 <= data["expires_at"] - data["issued_at"] <= 86_400


def test_parallel_processes_ask_for_one_token(sandbox: SandboxHandle, tmp_path: Path) -> None:
    sandbox.post("/_sandbox/faults", {"target": "token", "delay": 1.0, "count": 12})
    env = {**os.environ, "CG_AUTH_URL": sandbox.url, "CG_API_URL": sandbox.url, "CG_CLIENT_ID": CLIENT_ID}
    env["CG_CLIENT_SECRET"] = sandbox.sandbox.state.client_secret
    procs = [
        subprocess.Popen([CG, "records", "put", "--config", ACCOUNTS_REF, "-f", f"Account Name=P{i}"], env=env)
        for i in range(12)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0] * 12
    assert sandbox.stats()["token_requests"] == 1


# --- values on the wire ------------------------------------------------------------------------


def test_non_finite_numbers_and_duplicate_keys_are_row_errors(cg, sandbox_env: SandboxHandle) -> None:
    lines = ['{"Account Name": "A", "First Name": 1e999}', '{"Account Name": "B", "First Name": NaN}',
             '{"Account Name": "C", "First Name": -Infinity}', '{"Account Name": "D", "Account Name": "E"}',
             '{"Account Name": "F"}']  # fmt: skip
    Path("a.jsonl").write_text("\n".join(lines) + "\n")
    result = cg("records", "import", "a.jsonl", "--config", ACCOUNTS_REF)
    assert result.exit_code == 6
    failed = [json.loads(line) for line in Path("a.failed.jsonl").read_text().splitlines()]  # strict JSON
    assert [f["_row"] for f in failed] == [1, 2, 3, 4]
    assert "out of range" in failed[0]["_error"] and "NaN is not a JSON value" in failed[1]["_error"]
    assert "key 'Account Name' appears twice" in failed[3]["_error"]
    assert [r["record"] for r in sandbox_env.records()] == [{"Account Name": "F"}]
    Path("r.json").write_text('{"Account Name": "A", "Account Name": "B"}')
    assert cg("records", "put", "--config", ACCOUNTS_REF, "--json", "r.json").exit_code == 2


# --- the scale of the checks -------------------------------------------------------------------


def test_suggestions_for_thousands_of_columns_stay_right() -> None:
    from cg_cli.records.mappings import Mapping, check_fields

    fields = (*(f"Custom Field {i:05d}" for i in range(10_000)), "Account Name")
    mapping = Mapping("big", "r", "account", fields)
    problems = check_fields(mapping, [f"Custom Feild {i:05d}" for i in range(0, 10_000, 5)] + ["acount name"])
    assert len(problems) == 2001
    assert problems[0].suggestion == "Custom Field 00000" and problems[-1].suggestion == "Account Name"


# --- HTTPS as the real service speaks it ----------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> Any:
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture
def https_sandbox(ca: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server = start_sandbox(tls=context)
    handle = SandboxHandle(server)
    for name in ("CG_AUTH_URL", "CG_API_URL"):
        monkeypatch.setenv(name, server.url)
    monkeypatch.setenv("CG_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("CG_CLIENT_SECRET", server.state.client_secret)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield handle, ca_file
    server.stop()


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_token_put_and_import_over_https(cg, https_sandbox: Any, monkeypatch, variable: str) -> None:
    sandbox, ca_file = https_sandbox
    monkeypatch.setenv(variable, str(ca_file))
    assert cg("records", "put", "--config", ACCOUNTS_REF, *ACME).exit_code == 0
    Path("a.csv").write_text("Account Name\nA\nB\n")
    assert cg("records", "import", "a.csv", "--config", ACCOUNTS_REF).exit_code == 0
    assert len(sandbox.sandbox.state.records) == 3


def test_an_unknown_ca_fails_at_once_naming_the_reason_and_the_fix(cg, https_sandbox: Any, monkeypatch) -> None:
    from cg_cli.service import client

    granted: list[str] = []  # retries urllib3 was allowed to make, by the error that asked for one
    real_increment = client._LoggedRetry.increment

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        retry = real_increment(self, *args, **kwargs)
        granted.append(repr(kwargs.get("error")))
        return retry

    monkeypatch.setattr(client._LoggedRetry, "increment", counted)
    result = cg("records", "put", "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 5, result.output
    assert "certificate verify failed" in result.stderr
    assert "REQUESTS_CA_BUNDLE" in result.stderr and "SSL_CERT_FILE" in result.stderr
    assert "retries" not in result.stderr and granted == []  # a certificate is not retried


def test_https_through_a_connect_proxy_and_no_proxy(cg, https_sandbox: Any, monkeypatch) -> None:
    from tests.hostile import ConnectProxy

    _, ca_file = https_sandbox
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        assert cg("records", "put", "--config", ACCOUNTS_REF, *ACME).exit_code == 0
        assert proxy.tunnels and proxy.tunnels[0].startswith("localhost:")
        tunnels = len(proxy.tunnels)
        monkeypatch.setenv("NO_PROXY", "localhost")
        assert cg("records", "put", "--config", ACCOUNTS_REF, *ACME).exit_code == 0
        assert len(proxy.tunnels) == tunnels  # NO_PROXY honoured
