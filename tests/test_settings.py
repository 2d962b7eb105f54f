"""The precedence ladder, proved by what the sandbox received."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cg_cli.config.profiles import save_profile
from tests.conftest import CLIENT_ID, SECRET, SandboxHandle, start_sandbox


def clients_seen(sandbox: SandboxHandle) -> list[str]:
    return list(sandbox.stats()["token_clients"])


def test_client_id_ladder(cg, sandbox: SandboxHandle, config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_AUTH_URL", sandbox.url)
    monkeypatch.setenv("CG_API_URL", sandbox.url)
    save_profile(config_dir, "default", {"client_id": "from-profile", "client_secret": SECRET})
    cg("auth", "token")
    Path(".env").write_text("CG_CLIENT_ID=from-dotenv\n")
    cg("auth", "token")
    monkeypatch.setenv("CG_CLIENT_ID", "from-env")
    cg("auth", "token")
    cg("auth", "login", "--client-id", "from-option")  # secret from the profile is not used by login
    monkeypatch.setenv("CG_CLIENT_SECRET", "x")
    cg("auth", "login", "--client-id", "from-option")
    assert clients_seen(sandbox) == ["from-profile", "from-dotenv", "from-env", "from-option"]


def test_url_ladder_env_beats_dotenv_beats_profile(cg, config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    servers = {name: start_sandbox() for name in ("profile", "dotenv", "env")}
    try:
        save_profile(
            config_dir,
            "default",
            {
                "client_id": CLIENT_ID,
                "client_secret": SECRET,
                "auth_url": servers["profile"].url,
                "api_url": servers["profile"].url,
            },
        )
        steps = []
        cg("auth", "token", prints_token=True)
        steps.append({n: s.state.token_requests for n, s in servers.items()})
        # A .env naming its own host must bring its own credentials (see the hostile .env tests).
        Path(".env").write_text(f"CG_AUTH_URL={servers['dotenv'].url}\nCG_CLIENT_SECRET={SECRET}\n")
        cg("auth", "token", prints_token=True)
        steps.append({n: s.state.token_requests for n, s in servers.items()})
        monkeypatch.setenv("CG_AUTH_URL", servers["env"].url)
        cg("auth", "token", prints_token=True)
        steps.append({n: s.state.token_requests for n, s in servers.items()})
        assert steps == [
            {"profile": 1, "dotenv": 0, "env": 0},
            {"profile": 1, "dotenv": 1, "env": 0},
            {"profile": 1, "dotenv": 1, "env": 1},
        ]
    finally:
        for server in servers.values():
            server.stop()


def test_dotenv_never_overrides_the_environment(cg, sandbox_env: SandboxHandle) -> None:
    Path(".env").write_text("CG_CLIENT_ID=from-dotenv\nCG_CLIENT_SECRET=wrong\n")
    result = cg("auth", "token", prints_token=True)
    assert result.exit_code == 0
    assert clients_seen(sandbox_env) == [CLIENT_ID]


def test_env_file_option_replaces_dotenv(cg, sandbox: SandboxHandle, tmp_path: Path) -> None:
    Path(".env").write_text("CG_CLIENT_ID=from-dotenv\n")
    other = tmp_path / "ci.env"
    other.write_text(f"CG_AUTH_URL={sandbox.url}\nCG_CLIENT_ID={CLIENT_ID}\nCG_CLIENT_SECRET={SECRET}\n")
    result = cg("--env-file", str(other), "auth", "token", prints_token=True)
    assert result.exit_code == 0, result.output
    assert clients_seen(sandbox) == [CLIENT_ID]


def dry_run_url(cg, *args: str) -> str:
    result = cg(*args, "records", "put", "-c", "REF", "-f", "A=1", "--dry-run", "-o", "json")
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["url"])


def test_region_ladder(cg, config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_profile(config_dir, "default", {"region": "au", "client_id": "x"})
    assert dry_run_url(cg) == "https://imports.api.au.customergauge.com/records/"
    Path(".env").write_text("CG_REGION=us\n")
    assert dry_run_url(cg) == "https://imports.api.us.customergauge.com/records/"
    monkeypatch.setenv("CG_REGION", "eu")
    assert dry_run_url(cg) == "https://imports.api.eu.customergauge.com/records/"
    assert dry_run_url(cg, "--region", "au") == "https://imports.api.au.customergauge.com/records/"


def test_unknown_region_lists_the_three(cg, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_REGION", "mars")
    result = cg("auth", "token")
    assert result.exit_code == 2
    assert "unknown region 'mars'" in result.stderr and "eu, us, au" in result.stderr


def test_missing_region_is_a_usage_error(cg) -> None:
    result = cg("records", "put", "-c", "REF", "-f", "A=1", "--dry-run")
    assert result.exit_code == 2
    assert "no region" in result.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://imports.example.com", "refused"),
        ("http://10.0.0.5:8080", "refused"),
        ("ftp://example.com", "must be an https://"),
        ("https://user:pw@example.com", "must not contain a user name or password"),
        ("not a url", "must be an https://"),
        ("https://example.com:99999", "not a valid URL"),
    ],
)
def test_unsafe_urls_are_refused(cg, monkeypatch: pytest.MonkeyPatch, url: str, expected: str) -> None:
    monkeypatch.setenv("CG_API_URL", url)
    monkeypatch.setenv("CG_AUTH_URL", "https://auth.example.com")
    result = cg("records", "put", "-c", "REF", "-f", "A=1", "--dry-run")
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "pw@" not in result.output


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_loopback_http_is_allowed(cg, monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    monkeypatch.setenv("CG_API_URL", f"http://{host}:9")
    monkeypatch.setenv("CG_AUTH_URL", f"http://{host}:9")
    assert dry_run_url(cg) == f"http://{host}:9/records/"


@pytest.mark.parametrize(
    ("content", "expected"),
    [("CG_REGION=eu\nthis is not an assignment\n", ".env, line 2"), (b"\xff\xfe", "not UTF-8")],
)
def test_malformed_dotenv_exits_2(cg, content: str | bytes, expected: str) -> None:
    path = Path(".env")
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = cg("auth", "token")
    assert result.exit_code == 2
    assert expected in result.stderr


def test_missing_env_file_exits_2(cg) -> None:
    result = cg("--env-file", "nope.env", "auth", "token")
    assert result.exit_code == 2
    assert "nope.env does not exist" in result.stderr


def test_env_file_that_is_a_directory_exits_2(cg, tmp_path: Path) -> None:
    result = cg("--env-file", str(tmp_path), "auth", "token")
    assert result.exit_code == 2
    assert "is a directory" in result.stderr


def test_bad_output_env_exits_2(cg, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_OUTPUT", "yaml")
    result = cg("auth", "status")
    assert result.exit_code == 2
    assert "unknown output format 'yaml'" in result.stderr
