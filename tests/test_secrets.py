"""Secrets stay secret: not in argv, output, files or tracebacks; private files replaced atomically.

(Every test that talks to a sandbox also greps all of cg's output, failed
files and journals for the secret and every token issued: see conftest.)
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer

from cg_cli.cli import app
from cg_cli.config.storage import write_private_json
from tests.conftest import ACCOUNTS_REF, CLIENT_ID, SECRET, SandboxHandle


def all_options() -> list[tuple[str, object]]:
    found = []

    def walk(command: object, path: str) -> None:
        for param in getattr(command, "params", []):
            found.append((f"{path} {'/'.join(param.opts)}", param))
        if hasattr(command, "list_commands"):
            for name in command.list_commands(None):  # type: ignore[attr-defined]
                walk(command.get_command(None, name), f"{path} {name}")  # type: ignore[attr-defined]

    walk(typer.main.get_command(app), "cg")
    return found


def test_no_option_takes_a_secret_value() -> None:
    options = all_options()
    assert len(options) > 40
    # `cg sandbox --client ID:SECRET` sets the fake service's own demo credentials; it is no user secret.
    options = [(name, p) for name, p in options if not name.startswith("cg sandbox")]
    secret_like = [(name, p) for name, p in options if "secret" in name or "token" in name.split()[-1]]
    assert [name for name, _ in secret_like] == ["cg auth login --client-secret-stdin"]
    assert all(getattr(p, "is_flag", False) for _, p in secret_like)


def test_every_command_with_verbose_keeps_secrets(cg, sandbox_env: SandboxHandle) -> None:
    Path("a.csv").write_text("Account Name\nA\nB\n")
    commands = [
        ["-v", "auth", "login", "--client-id", CLIENT_ID],
        ["-v", "auth", "status", "-o", "json"],
        ["-v", "records", "put", "-c", ACCOUNTS_REF, "-f", "Account Name=A"],
        ["-v", "records", "put", "-c", ACCOUNTS_REF, "-f", "Account Name=A", "--dry-run"],
        ["-v", "records", "put", "-c", ACCOUNTS_REF, "-f", "Email=x"],  # a 422
        ["-v", "records", "import", "a.csv", "-c", ACCOUNTS_REF],
        ["-v", "auth", "logout"],
    ]
    for args in commands:
        result = cg(*args)
        assert result.exit_code in (0, 4), result.output
        assert "Bearer ***" in result.stdout or "--dry-run" not in args
    # conftest's teardown checks every output above for SECRET and each issued token


def test_server_text_cannot_restyle_or_clear_the_terminal(cg, sandbox_env: SandboxHandle) -> None:
    cg("auth", "token", prints_token=True)
    body = json.dumps({"message": "\x1b[2J\x1b]0;owned\x07[bold red]boom[/]"})
    sandbox_env.fault(status=403, body=body)
    result = cg("records", "put", "-c", ACCOUNTS_REF, "-f", "Account Name=A")
    assert result.exit_code == 5
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b[2J\\x1b]0;owned\\x07[bold red]boom[/]" in result.stderr


def test_field_values_with_escapes_are_shown_literally(cg, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_REGION", "eu")
    result = cg("records", "put", "-c", "REF", "-f", "Account Name=\x1b[31mred", "--dry-run")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout


def test_a_crash_with_debug_shows_no_secret(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from cg_cli.service import auth\n"
        "def broken(*a, **k): raise RuntimeError('boom')\n"
        "auth.token_provider = broken\n"
        "from cg_cli.main import main\n"
        "sys.argv = ['cg', 'auth', 'token']\n"
        "main()\n"
    )
    env = {
        **os.environ,
        "CG_DEBUG": "1",
        "CG_CLIENT_SECRET": SECRET,
        "CG_CLIENT_ID": "x",
        "CG_REGION": "eu",
        "CG_CONFIG_DIR": str(tmp_path),
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert "Traceback" in done.stderr and "RuntimeError: boom" in done.stderr
    assert SECRET not in done.stderr + done.stdout


def test_private_files_are_0600_in_0700_dirs(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "secret.json"
    write_private_json(path, {"client_secret": "x"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


def test_a_failed_write_leaves_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "private" / "profile.json"
    write_private_json(path, {"v": "old"})

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        write_private_json(path, {"v": "new"})
    assert json.loads(path.read_text()) == {"v": "old"}
    assert [p.name for p in path.parent.iterdir()] == ["profile.json"]  # no temporary file left


def test_a_process_killed_mid_write_leaves_a_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    write_private_json(path, {"n": -1, "pad": ""})
    writer = (
        "import sys\n"
        "from pathlib import Path\n"
        "from cg_cli.config.storage import write_private_json\n"
        "path = Path(sys.argv[1])\n"
        "n = 0\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        "    write_private_json(path, {'n': n, 'pad': 'x' * 200_000})\n"
        "    n += 1\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", writer, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    data = json.loads(path.read_text())  # never half a file
    assert data["n"] >= 0 and data["pad"] in ("", "x" * 200_000)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_secret_echoed_by_the_token_service_is_scrubbed(cg, sandbox_env: SandboxHandle) -> None:
    body = json.dumps({"error": "invalid_client", "error_description": f"client_secret={SECRET} is wrong"})
    sandbox_env.fault(target="token", status=401, body=body)
    result = cg("auth", "token")
    assert result.exit_code == 3
    assert "client_secret=*** is wrong" in result.stderr  # conftest checks SECRET appears nowhere


def test_a_token_echoed_by_the_records_service_is_scrubbed(cg, sandbox_env: SandboxHandle) -> None:
    token = cg("auth", "token", prints_token=True).stdout.strip()
    errors = {"record": [f"bad token {token}"]}
    sandbox_env.fault(status=422, body=json.dumps({"message": f"echo {token}", "errors": errors}))
    result = cg("records", "put", "-c", ACCOUNTS_REF, "-f", "Account Name=A", "-o", "json")
    assert result.exit_code == 4
    assert json.loads(result.stdout) == {
        "ok": False,
        "exit_code": 4,
        "error": "the API refused the record (422): echo ***",
        "hint": None,
        "status": 422,
        "message": "echo ***",
        "errors": {"record": ["bad token ***"]},
    }


def test_the_client_secret_echoed_by_the_records_service_is_scrubbed_everywhere(
    cg, server: Any, tmp_path: Path
) -> None:
    """The records service never receives the secret, but one that knows it (a shared host, a misconfigured
    proxy) must not get it printed, annotated or written to the failed, results or JUnit files."""
    sandbox = server()
    escaped = json.dumps(SECRET)[1:-1]
    body = json.dumps({"message": f"echo {SECRET}", "errors": {"Email": [f"see {escaped}"]}})
    sandbox.fault(status=422, body=body, count=2)
    put = cg("records", "put", "-c", ACCOUNTS_REF, "-f", "Account Name=A")
    assert put.exit_code == 4 and "echo ***" in put.stderr
    Path("a.csv").write_text("Account Name,Email\nA,a@x.io\n")
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--results", "r.csv", "--junit", "j.xml")
    assert result.exit_code == 6, result.output
    for name in ("a.failed.csv", "r.csv", "j.xml"):
        assert SECRET not in Path(name).read_text() and "***" in Path(name).read_text(), name
