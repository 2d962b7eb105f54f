"""The installed `cg` as a user runs it: entry points, start-up imports, the sandbox command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import spawn

CG = shutil.which("cg", path=str(Path(sys.executable).parent)) or "cg"


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CG, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, input=stdin, timeout=30
    )


def test_version_from_script_and_module() -> None:
    script = run("--version")
    module = subprocess.run([sys.executable, "-m", "cg_cli", "--version"], capture_output=True, text=True)
    assert script.returncode == module.returncode == 0
    assert script.stdout == module.stdout
    assert script.stdout.startswith("cg ")


def imported_modules(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules a real `cg ARGS` process had imported when it exited."""
    code = (
        "import sys, json, atexit\n"
        "atexit.register(lambda: sys.__stderr__.write('MODULES' + json.dumps(sorted(sys.modules))))\n"
        "from cg_cli.main import main\n"
        f"sys.argv = ['cg', *{list(args)!r}]\n"
        "raise SystemExit(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env={**os.environ, **(env or {})}
    )
    return set(json.loads(done.stderr.rsplit("MODULES", 1)[1]))


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("records", "put", "--help")])
def test_version_and_help_do_not_import_requests_or_rich(args: tuple[str, ...]) -> None:
    modules = imported_modules(*args)
    assert "requests" not in modules
    assert "urllib3" not in modules
    assert "rich" not in modules


def test_version_does_not_even_import_typer() -> None:
    assert "typer" not in imported_modules("--version")


def test_each_path_imports_only_what_it_uses(tmp_path: Path) -> None:
    from tests.conftest import ACCOUNTS_REF, CLIENT_ID, SECRET, start_sandbox

    server = start_sandbox()
    try:
        env = {
            "CG_AUTH_URL": server.url,
            "CG_API_URL": server.url,
            "CG_CLIENT_ID": CLIENT_ID,
            "CG_CLIENT_SECRET": SECRET,
            "CG_CONFIG_DIR": str(tmp_path / "cfg"),
        }
        first_token = imported_modules("auth", "token", env=env)
        assert "requests" in first_token  # no cached token yet: it has to ask for one
        cached_token = imported_modules("auth", "token", env=env)
        assert not {"requests", "urllib3", "rich"} & cached_token
        dry_run = imported_modules("records", "put", "-c", "REF", "-f", "A=1", "--dry-run", env=env)
        assert not {"requests", "urllib3", "rich", "cg_cli.importing.importer", "cg_cli.commands.auth"} & dry_run
        put = imported_modules("records", "put", "-c", ACCOUNTS_REF, "-f", "Account Name=A", env=env)
        assert len(server.state.records) == 1
        assert "requests" in put
        assert (
            not {
                "rich",
                "cg_cli.importing.importer",
                "cg_cli.records.readers",
                "cg_cli.records.mappings",
                "cg_cli.commands.auth",
            }
            & put
        )
    finally:
        server.stop()


def test_config_dir_that_is_a_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "cfg").write_text("not a directory")
    done = run("auth", "logout", env={"CG_CONFIG_DIR": str(tmp_path / "cfg"), "CG_REGION": "eu"})
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert str(tmp_path / "cfg") in done.stderr


def test_internal_errors_are_one_line_without_traceback(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from cg_cli import main as entry
    from cg_cli.service import auth

    def broken(settings: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(auth, "logout", broken)
    monkeypatch.setattr(sys, "argv", ["cg", "auth", "logout"])
    monkeypatch.setenv("CG_REGION", "eu")
    assert entry.main() == 1
    err = capsys.readouterr().err
    assert err.startswith("error: internal error (RuntimeError); this is a bug")
    assert "Traceback" not in err
    monkeypatch.setenv("CG_DEBUG", "1")
    with pytest.raises(RuntimeError):
        entry.main()


def test_sandbox_command_serves_and_stops_on_sigint(tmp_path: Path) -> None:
    proc = spawn([CG, "sandbox", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("export CG_AUTH_URL=http://127.0.0.1:")
        url = line.split()[1].split("=", 1)[1]
        with urllib.request.urlopen(url + "/_sandbox/stats", timeout=5) as response:
            assert json.loads(response.read())["records_accepted"] == 0
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "sandbox stopped" in err
    assert "Traceback" not in err


def test_sandbox_refuses_non_loopback_host() -> None:
    done = run("sandbox", "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    assert "loopback only" in done.stderr


def test_sandbox_port_in_use_exits_2() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        done = run("sandbox", "--port", str(sock.getsockname()[1]))
    assert done.returncode == 2
    assert "cannot listen" in done.stderr


def test_demo_flow_in_a_shell(tmp_path: Path) -> None:
    """The README's login-by-pipe line, run by a real shell against a real sandbox process."""
    proc = spawn([CG, "sandbox", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        exports = "".join(proc.stdout.readline() for _ in range(3)) if proc.stdout else ""
        script = (
            f"{exports}\n"
            'printf "%s\\n" "$CG_CLIENT_SECRET" | cg auth login --client-id "$CG_CLIENT_ID" --client-secret-stdin\n'
            "unset CG_CLIENT_SECRET\n"
            "cg auth status > status.json\n"
            'a=$(cg auth token); b=$(cg auth token); [ "$a" = "$b" ]\n'
        )
        env = {**os.environ, "CG_CONFIG_DIR": str(tmp_path / "cfg"), "PATH": f"{Path(CG).parent}:{os.environ['PATH']}"}
        done = subprocess.run(["bash", "-euc", script], capture_output=True, text=True, env=env, timeout=30)
        assert done.returncode == 0, done.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def test_login_prompts_on_a_terminal_without_echoing_the_secret(tmp_path: Path) -> None:
    import pty
    import select

    from tests.conftest import CLIENT_ID, SECRET, start_sandbox

    server = start_sandbox()
    master, slave = pty.openpty()
    env = {**os.environ, "CG_AUTH_URL": server.url, "CG_API_URL": server.url, "CG_CONFIG_DIR": str(tmp_path)}
    env.pop("CG_CLIENT_SECRET", None)
    proc = subprocess.Popen([CG, "auth", "login"], stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    seen = b""

    def read_until(marker: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 20
        while marker not in seen:
            assert time.monotonic() < deadline, seen
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                seen += os.read(master, 1024)

    try:
        read_until(b"Client id: ")
        os.write(master, f"{CLIENT_ID}\n".encode())
        read_until(b"Client secret: ")
        os.write(master, f"{SECRET}\n".encode())
        read_until(b"Logged in as")
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
        os.close(master)
        server.stop()
    assert SECRET.encode() not in seen  # the prompt hid what was typed
    assert CLIENT_ID.encode() in seen


HELP_PAGES = [
    "", "auth", "auth login", "auth status", "auth token", "auth logout", "auth list", "records", "records put",
    "records import", "records state", "mappings", "mappings list", "mappings show", "mappings check", "mappings init",
    "sandbox",
    "completion",
]  # fmt: skip


@pytest.mark.parametrize("page", HELP_PAGES)
def test_help_teaches_within_80_columns(page: str) -> None:
    done = run(*page.split(), "--help", env={"COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    assert all(len(line) <= 80 for line in done.stdout.splitlines()), done.stdout
    assert "{" not in done.stdout.splitlines()[0] and "<str>" not in done.stdout and "range>" not in done.stdout
    if page.count(" ") == 1 or page in ("sandbox", "completion"):
        assert "Examples:" in done.stdout or "Install it once" in done.stdout


def test_bare_cg_shows_help_and_exits_0() -> None:
    done = run()
    assert done.returncode == 0 and "Common tasks:" in done.stdout


def test_bash_completion_completes_commands_and_options(tmp_path: Path) -> None:
    import shutil

    if shutil.which("bash") is None:
        pytest.skip("no bash")
    script = (  # as bash calls the function: the line up to the cursor, and the word being completed as $2
        "source <(cg completion bash); "
        'COMP_LINE="cg rec"; COMP_POINT=6; _cg_completion cg rec cg; echo "1:${COMPREPLY[*]}"; '
        'COMP_LINE="cg records put --ma"; COMP_POINT=19; _cg_completion cg --ma put; echo "2:${COMPREPLY[*]}"'
    )
    env = {**os.environ, "PATH": f"{Path(CG).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=30)
    assert "1:records" in done.stdout and "2:--mapping --mappings-file" in done.stdout, done.stdout + done.stderr
    assert run("completion", "powershell").returncode == 2
