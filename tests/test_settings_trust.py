"""Settings you can trust: an explicit region beats remembered URLs, a hostile .env
never receives stored credentials, global options go anywhere, -q, and long waits."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import ACCOUNTS_REF, CLIENT_ID, SECRET, SandboxHandle, start_sandbox

ACME = ("-f", "Account Name=ACME")


@pytest.fixture
def logged_in(cg, sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> SandboxHandle:
    """`cg auth login` against the sandbox with its URLs from the environment: the profile keeps them."""
    monkeypatch.setenv("CG_AUTH_URL", sandbox.url)
    monkeypatch.setenv("CG_API_URL", sandbox.url)
    login = cg("auth", "login", "--client-id", CLIENT_ID, "--client-secret-stdin", input=SECRET + "\n")
    assert login.exit_code == 0, login.output
    assert f"Stored CG_API_URL={sandbox.url} (from the environment)" in login.stderr
    monkeypatch.delenv("CG_AUTH_URL")
    monkeypatch.delenv("CG_API_URL")
    return sandbox


def test_an_explicit_region_beats_urls_remembered_in_the_profile(cg, logged_in: SandboxHandle) -> None:
    remembered = cg("records", "put", "--config", ACCOUNTS_REF, *ACME, "--dry-run")
    assert f"PUT {logged_in.url}/records/" in remembered.stdout
    dry = cg("--region", "us", "records", "put", "--config", ACCOUNTS_REF, *ACME, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "PUT https://imports.api.us.customergauge.com/records/" in dry.stdout
    assert f"CG_API_URL {logged_in.url} (from the profile) set aside: region us from the command line" in dry.stderr
    assert "cg --region us auth token" in dry.stdout  # the curl line repeats what chose the URL


def test_login_with_a_region_never_posts_the_secret_to_remembered_urls(
    cg, logged_in: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # the real host is never reached from a test
    before = logged_in.stats()["token_requests"]
    result = cg(
        "auth", "login", "--client-id", "real-client", "--client-secret-stdin", "--region", "us", "--retries", "0",
        input="realsecret\n",
    )  # fmt: skip
    assert result.exit_code == 5, result.output
    assert logged_in.stats()["token_requests"] == before  # nothing went to the sandbox


def test_logout_forgets_stored_urls(cg, logged_in: SandboxHandle, config_dir: Path) -> None:
    assert cg("auth", "logout").exit_code == 0
    profile = json.loads((config_dir / "profiles" / "default.json").read_text())
    assert "api_url" not in profile and "auth_url" not in profile and "client_secret" not in profile


def hostile_dotenv(evil: SandboxHandle, *, auth_too: bool) -> None:
    lines = [f"CG_API_URL={evil.url}"] + ([f"CG_AUTH_URL={evil.url}"] if auth_too else [])
    Path(".env").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("auth_too", [False, True], ids=["api-url", "api-and-auth-url"])
def test_a_hostile_dotenv_never_receives_stored_credentials(cg, logged_in: SandboxHandle, auth_too: bool) -> None:
    assert cg("auth", "token", prints_token=True).exit_code == 0  # a cached token exists
    evil = SandboxHandle(start_sandbox())
    try:
        hostile_dotenv(evil, auth_too=auth_too)
        result = cg("records", "put", "--config", ACCOUNTS_REF, *ACME)
        assert result.exit_code == 2, result.output
        assert "in .env points at" in result.stderr and "never receives credentials it did not bring" in result.stderr
        assert evil.stats()["token_requests"] == 0 and evil.stats()["record_requests"] == 0
        assert cg("auth", "token", prints_token=True).exit_code == 2
        assert evil.stats()["token_requests"] == 0
    finally:
        evil.sandbox.stop()


def test_login_in_a_hostile_directory_sends_and_stores_nothing(
    cg, sandbox: SandboxHandle, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path(".env").write_text(f"CG_AUTH_URL={sandbox.url}\nCG_API_URL={sandbox.url}\n")
    monkeypatch.setenv("CG_CLIENT_SECRET", SECRET)  # the user's own secret, from the real environment
    result = cg("auth", "login", "--client-id", CLIENT_ID)
    assert result.exit_code == 2 and "CG_AUTH_URL in .env points at" in result.stderr
    assert sandbox.stats()["token_requests"] == 0
    assert not (config_dir / "profiles" / "default.json").exists()


def test_a_dotenv_with_its_own_credentials_works_and_is_not_stored(
    cg, sandbox: SandboxHandle, config_dir: Path
) -> None:
    Path(".env").write_text(
        f"CG_AUTH_URL={sandbox.url}\nCG_API_URL={sandbox.url}\nCG_CLIENT_ID={CLIENT_ID}\nCG_CLIENT_SECRET={SECRET}\n"
    )
    put = cg("records", "put", "--config", ACCOUNTS_REF, *ACME)
    assert put.exit_code == 0, put.output
    note = f"note: sending to {sandbox.url} (CG_AUTH_URL and CG_API_URL from the .env file)"
    assert note in put.stderr
    login = cg("auth", "login")
    assert login.exit_code == 0, login.output
    assert "api_url" not in json.loads((config_dir / "profiles" / "default.json").read_text())


def test_quiet_prints_no_success_line_or_host_note(cg, sandbox_env: SandboxHandle) -> None:
    loud = cg("records", "put", "--config", ACCOUNTS_REF, *ACME)
    assert "Pushed 1 record (1 field)" in loud.stderr and "not CustomerGauge's hosts" in loud.stderr
    assert loud.stderr.count("not CustomerGauge's hosts") == 1
    quiet = cg("records", "put", "--config", ACCOUNTS_REF, *ACME, "-q")
    assert quiet.exit_code == 0 and quiet.output == ""
    Path("a.csv").write_text("Account Name\nA\nB\n")
    imported = cg("-q", "records", "import", "a.csv", "--config", ACCOUNTS_REF)
    assert imported.exit_code == 0 and imported.output == ""
    failing = cg("-q", "records", "put", "--config", "nope", *ACME)
    assert failing.exit_code == 4 and "error:" in failing.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("records", "put", "--config", ACCOUNTS_REF, *ACME, "--region", "eu", "--dry-run"),
        ("records", "put", "--config", ACCOUNTS_REF, *ACME, "--dry-run", "--profile", "staging", "--region", "us"),
        ("records", "put", "--config", ACCOUNTS_REF, *ACME, "-v", "-o", "json", "--dry-run", "--region", "eu"),
        ("records", "put", "--config", ACCOUNTS_REF, *ACME, "--env-file", "other.env", "--dry-run"),
    ],
)
def test_global_options_work_after_the_command(cg, args: tuple[str, ...]) -> None:
    Path("other.env").write_text("CG_REGION=au\n")
    result = cg(*args)
    assert result.exit_code == 0, result.output


def test_an_option_after_the_command_beats_the_same_before_it(cg) -> None:
    result = cg("--region", "eu", "records", "put", "--config", "R", *ACME, "--region", "AU", "--dry-run")
    assert result.exit_code == 0 and "https://imports.api.au.customergauge.com/records/" in result.stdout


def test_help_of_a_command_lists_the_global_options(cg) -> None:
    help_text = cg("records", "put", "--help").stdout
    for option in ("--profile", "--region", "--env-file", "--output", "--verbose", "--quiet"):
        assert option in help_text


def test_a_long_wait_before_a_retry_is_said_without_verbose(cg, sandbox_env: SandboxHandle) -> None:
    sandbox_env.fault(status=429, retry_after=3)
    started = time.monotonic()
    result = cg("records", "put", "--config", ACCOUNTS_REF, *ACME)
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 2.5
    assert "waiting 3 s before retrying (429" in result.stderr
    quiet = cg("records", "put", "--config", ACCOUNTS_REF, *ACME, "-q")
    assert "waiting" not in quiet.stderr
