"""cg auth against the sandbox: login, status, token, logout, caching, files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.conftest import CLIENT_ID, SECRET, SandboxHandle


@pytest.fixture
def urls(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> SandboxHandle:
    monkeypatch.setenv("CG_AUTH_URL", sandbox.url)
    monkeypatch.setenv("CG_API_URL", sandbox.url)
    return sandbox


def login(cg, secret: str = SECRET, *extra: str):
    return cg("auth", "login", "--client-id", CLIENT_ID, "--client-secret-stdin", *extra, input=secret + "\n")


def test_login_with_stdin_then_status_and_token(cg, urls: SandboxHandle, config_dir: Path) -> None:
    result = login(cg)
    assert result.exit_code == 0, result.output
    assert "Logged in as test-client" in result.stderr
    assert result.stdout == ""

    status = cg("auth", "status", "--output", "json")
    assert status.exit_code == 0, status.output
    data = json.loads(status.stdout)
    assert {"profile", "region", "client_id", "source", "authenticated", "token_expires_at"} <= set(data)
    assert data["authenticated"] is True
    assert data["client_id"] == CLIENT_ID
    assert data["source"]["client_id"] == "profile"
    assert data["source"]["auth_url"] == "env"

    tokens = [cg("auth", "token", prints_token=True) for _ in range(3)]
    assert all(t.exit_code == 0 for t in tokens)
    assert len({t.stdout for t in tokens}) == 1
    assert tokens[0].stdout.strip() in urls.tokens
    assert (
        tokens[0].stderr
        == f"note: sending to {urls.url} (CG_AUTH_URL and CG_API_URL from the environment), not CustomerGauge's hosts\n"
    )
    assert urls.stats()["token_requests"] == 1  # the login's token, reused


def test_status_text_names_sources(cg, urls: SandboxHandle) -> None:
    login(cg)
    result = cg("auth", "status")
    assert result.exit_code == 0
    assert "client id" in result.stdout and "profile" in result.stdout
    assert "valid until" in result.stdout


def test_files_are_private(cg, urls: SandboxHandle, config_dir: Path) -> None:
    assert login(cg).exit_code == 0
    profile = config_dir / "profiles" / "default.json"
    tokens = list((config_dir / "tokens").glob("*.json"))
    assert len(tokens) == 1
    for path in (profile, tokens[0]):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (config_dir, config_dir / "profiles", config_dir / "tokens"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert not [p for p in config_dir.rglob("*.tmp")]


def test_wrong_secret_exits_3_and_stores_nothing(cg, urls: SandboxHandle, config_dir: Path) -> None:
    result = login(cg, "wrong-secret")
    assert result.exit_code == 3
    assert "rejected the client id and secret" in result.stderr
    assert "wrong-secret" not in result.output
    assert not (config_dir / "profiles" / "default.json").exists()


def test_no_secret_and_no_terminal_exits_2_at_once(cg, urls: SandboxHandle) -> None:
    result = cg("auth", "login", "--client-id", CLIENT_ID)
    assert result.exit_code == 2
    assert "no client secret" in result.stderr
    assert "--client-secret-stdin" in result.stderr
    assert urls.stats()["token_requests"] == 0


def test_empty_stdin_secret_exits_2(cg, urls: SandboxHandle) -> None:
    result = cg("auth", "login", "--client-id", CLIENT_ID, "--client-secret-stdin", input="")
    assert result.exit_code == 2
    assert "stdin held no secret" in result.stderr


def test_login_without_client_id_exits_2(cg, urls: SandboxHandle) -> None:
    result = cg("auth", "login", "--client-secret-stdin", input=SECRET + "\n")
    assert result.exit_code == 2
    assert "no client id" in result.stderr


def test_login_takes_secret_from_environment(cg, urls: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_CLIENT_SECRET", SECRET)
    result = cg("auth", "login", "--client-id", CLIENT_ID)
    assert result.exit_code == 0, result.output


def test_logout_makes_status_exit_3(cg, urls: SandboxHandle, config_dir: Path) -> None:
    login(cg)
    result = cg("auth", "logout")
    assert result.exit_code == 0
    assert "Logged out" in result.stderr
    assert not list((config_dir / "tokens").glob("*.json"))
    profile = json.loads((config_dir / "profiles" / "default.json").read_text())
    assert "client_secret" not in profile and profile["client_id"] == CLIENT_ID
    status = cg("auth", "status", "-o", "json")
    assert status.exit_code == 3
    assert json.loads(status.stdout.split("\n}\n")[0] + "\n}")["authenticated"] is False
    assert "not authenticated" in status.stderr
    again = cg("auth", "logout")
    assert again.exit_code == 0 and "nothing to forget" in again.stderr


def test_status_without_any_credentials_exits_3(cg, urls: SandboxHandle) -> None:
    result = cg("auth", "status")
    assert result.exit_code == 3
    assert "(not set)" in result.stdout


def test_environment_credentials_are_enough_for_token(cg, sandbox_env: SandboxHandle) -> None:
    result = cg("auth", "token", prints_token=True)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() in sandbox_env.tokens


def test_dotenv_credentials_are_enough_for_token(cg, sandbox: SandboxHandle) -> None:
    Path(".env").write_text(
        f"CG_AUTH_URL={sandbox.url}\nCG_API_URL={sandbox.url}\nCG_CLIENT_ID={CLIENT_ID}\nCG_CLIENT_SECRET='{SECRET}'\n"
    )
    result = cg("auth", "token", prints_token=True)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() in sandbox.tokens


def test_token_without_credentials_exits_2(cg, urls: SandboxHandle) -> None:
    result = cg("auth", "token")
    assert result.exit_code == 2
    assert "no credentials" in result.stderr
    assert result.stdout == ""


def test_token_with_rejected_credentials_exits_3(cg, sandbox_env: SandboxHandle, monkeypatch) -> None:
    monkeypatch.setenv("CG_CLIENT_SECRET", "not-the-secret")
    result = cg("auth", "token")
    assert result.exit_code == 3
    assert "not-the-secret" not in result.output


def test_expired_cached_token_is_refreshed(cg, sandbox_env: SandboxHandle, config_dir: Path) -> None:
    first = cg("auth", "token", prints_token=True).stdout
    cache = next((config_dir / "tokens").glob("*.json"))
    data = json.loads(cache.read_text())
    data["expires_at"] = 0
    cache.write_text(json.dumps(data))
    second = cg("auth", "token", prints_token=True).stdout
    assert first != second
    assert sandbox_env.stats()["token_requests"] == 2


def test_corrupt_token_cache_is_discarded_with_a_warning(cg, sandbox_env: SandboxHandle, config_dir: Path) -> None:
    cg("auth", "token", prints_token=True)
    cache = next((config_dir / "tokens").glob("*.json"))
    cache.write_text("{not json")
    result = cg("auth", "token", prints_token=True)
    assert result.exit_code == 0
    assert str(cache) in result.stderr and "discarding" in result.stderr
    assert json.loads(cache.read_text())["access_token"] == result.stdout.strip()


def test_corrupt_profile_exits_2_naming_the_file(cg, urls: SandboxHandle, config_dir: Path) -> None:
    login(cg)
    profile = config_dir / "profiles" / "default.json"
    profile.write_text("[1, 2")
    result = cg("auth", "token")
    assert result.exit_code == 2
    assert str(profile) in result.stderr


def test_profiles_are_separate(cg, urls: SandboxHandle, config_dir: Path) -> None:
    assert login(cg, SECRET).exit_code == 0
    result = cg("--profile", "staging", "auth", "status")
    assert result.exit_code == 3
    assert (
        cg(
            "--profile",
            "staging",
            "auth",
            "login",
            "--client-id",
            CLIENT_ID,
            "--client-secret-stdin",
            input=SECRET + "\n",
        ).exit_code
        == 0
    )
    assert (config_dir / "profiles" / "staging.json").exists()


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "x" * 65])
def test_profile_names_with_path_tricks_exit_2(cg, urls: SandboxHandle, name: str, config_dir: Path) -> None:
    result = cg(
        "--profile", name, "auth", "login", "--client-id", CLIENT_ID, "--client-secret-stdin", input=SECRET + "\n"
    )
    assert result.exit_code == 2
    assert ("invalid profile name" if name else "--profile needs a name") in result.stderr
    assert not (config_dir.parent / "x.json").exists()
