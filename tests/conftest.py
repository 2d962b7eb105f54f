"""Shared fixtures: a clean environment per test, a real sandbox on loopback,
and a runner that remembers every output so secrets can be looked for."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cg_cli.cli import app
from cg_cli.commands.common import AppState
from cg_cli.importing.delivery import Destination
from cg_cli.records.mappings import Mapping
from cg_cli.sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_MAPPINGS, Sandbox

SECRET = "s3cr3t-Value-that-must-never-show"
# The machine's own CA and proxy settings: a test names the ones it means.
HOST_TRUST_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
CI_VARIABLES = ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE", "GITHUB_OUTPUT")
CLIENT_ID = "test-client"
ACCOUNTS = DEFAULT_MAPPINGS[0]
ACCOUNTS_REF = ACCOUNTS.reference


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Outputs:
    """Everything cg printed during a test, minus what was meant to show a token."""

    texts: list[str] = field(default_factory=list)


class SandboxHandle:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.url = sandbox.url

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return json.loads(response.read() or b"null")

    def post(self, path: str, data: Any = None) -> None:
        body = json.dumps(data).encode() if data is not None else b""
        request = urllib.request.Request(self.url + path, data=body, method="POST")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def records(self) -> list[dict[str, Any]]:
        return list(self.get("/_sandbox/records")["records"])

    def stats(self) -> dict[str, Any]:
        return dict(self.get("/_sandbox/stats"))

    def fault(self, **fault: Any) -> None:
        self.post("/_sandbox/faults", fault)

    def expire_tokens(self) -> None:
        self.post("/_sandbox/expire-tokens")

    @property
    def tokens(self) -> list[str]:
        with self.sandbox.state.lock:
            return list(self.sandbox.state.tokens)


def start_sandbox(**kwargs: Any) -> Sandbox:
    kwargs.setdefault("client_id", CLIENT_ID)
    kwargs.setdefault("client_secret", SECRET)
    return Sandbox("127.0.0.1", 0, **kwargs).start()


@pytest.fixture
def outputs() -> Outputs:
    return Outputs()


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Own HOME, config dir and working dir; no CG_* from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("CG_") or name in HOST_TRUST_VARIABLES + CI_VARIABLES or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("CG_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.chdir(work)
    return tmp_path


@pytest.fixture
def config_dir(clean_env: Path) -> Path:
    return clean_env / "config"


@pytest.fixture
def breaker_on_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """One row that keeps failing is sent often enough to open the breaker (5 failures), without waiting:
    a service that is down from that row on, in a test with a few rows."""
    from cg_cli.importing import concurrency

    monkeypatch.setattr(concurrency, "ROW_ATTEMPTS", 5)
    monkeypatch.setattr(concurrency, "ROW_RETRY_WAIT", 0.0)


@pytest.fixture
def sandbox(outputs: Outputs) -> Iterator[SandboxHandle]:
    server = start_sandbox()
    yield SandboxHandle(server)
    server.stop()
    assert_no_secrets(outputs, server)


def assert_no_secrets(outputs: Outputs, server: Sandbox) -> None:
    _assert_no_secrets(outputs, [SECRET, *server.state.issued])


def use_sandbox(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxHandle) -> SandboxHandle:
    """The sandbox's URLs and credentials in the environment, as a CI job would set them."""
    for name in ("CG_AUTH_URL", "CG_API_URL"):
        monkeypatch.setenv(name, sandbox.url)
    monkeypatch.setenv("CG_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("CG_CLIENT_SECRET", SECRET)
    return sandbox


@pytest.fixture
def sandbox_env(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> SandboxHandle:
    return use_sandbox(monkeypatch, sandbox)


@pytest.fixture
def make_sandbox(outputs: Outputs, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., SandboxHandle]]:
    """Start sandboxes with other settings (mappings, latency); each is checked for leaks at the end."""
    started: list[Sandbox] = []

    def start(**kwargs: Any) -> SandboxHandle:
        server = start_sandbox(**kwargs)
        started.append(server)
        return use_sandbox(monkeypatch, SandboxHandle(server))

    yield start
    for server in started:
        server.stop()
        assert_no_secrets(outputs, server)


def _assert_no_secrets(outputs: Outputs, secrets: list[str]) -> None:
    """Nothing cg printed, and no file it wrote in the working dir (failed files, journals), holds a secret."""
    for text in outputs.texts:
        for secret in secrets:
            assert secret not in text, "a secret or token showed in cg's output"
    for path in [*Path.cwd().rglob("*.failed.*"), *Path.cwd().rglob("*.cg-journal*"), *Path.cwd().rglob("*.results.*")]:
        if path.is_file():
            content = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in content, f"a secret or token was written to {path.name}"


@pytest.fixture
def cg(outputs: Outputs) -> Any:
    """Run cg in-process; every output is kept and checked for secrets at teardown."""

    def run(*args: str, input: str | None = None, prints_token: bool = False) -> Result:  # noqa: A002
        runner = CliRunner()
        result = runner.invoke(app, list(args), input=input, obj=AppState(), catch_exceptions=False)
        out = Result(result.exit_code, result.stdout, result.stderr)
        if not prints_token:
            outputs.texts.append(out.output)
        else:
            outputs.texts.append(out.stderr)
        assert "Traceback" not in out.output, out.output
        return out

    return run


ACCOUNTS_MAPPING = Mapping("accounts", "acc-ref", "account", ("Account Name", "First Name", "Email"))
CONTACTS_MAPPING = Mapping("contacts", "contact", "contact", ("Email", "Phone", "First Name"))
SURVEYS_MAPPING = Mapping("responses", "resp-ref", "survey-response", ("Email", "Score"))


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Running inside GitHub Actions: its variables set, the job summary file returned (not created yet)."""
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(Path.cwd()))
    return summary


@pytest.fixture
def server(make_sandbox: Any, clean_env: Path) -> Any:
    """Start a sandbox serving the import test mappings, which are also in ./cg-mappings.toml."""
    mappings = [ACCOUNTS_MAPPING, CONTACTS_MAPPING, SURVEYS_MAPPING]
    write_mappings(Path("cg-mappings.toml"), *mappings)
    return lambda **kwargs: make_sandbox(mappings=mappings, **kwargs)


_SPAWNED: list[subprocess.Popen[Any]] = []
# Children get Ctrl-C back: a test runner started under `nohup` or `trap '' INT` passes SIGINT on ignored,
# and the tests that send it would wait forever. Exec keeps the default disposition this shim sets.
_SIGINT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)


def spawn(args: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """A child process in its own session with default Ctrl-C, killed at the end of the test whatever happens."""
    proc = subprocess.Popen([sys.executable, "-c", _SIGINT_DEFAULT, *args], start_new_session=True, **kwargs)
    _SPAWNED.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _reap_spawned() -> Iterator[None]:
    yield
    while _SPAWNED:
        proc = _SPAWNED.pop()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def journal_rows(path: Path) -> dict[int, str]:
    """Row number → status (S sent, F failed, I in flight) of an import journal; {} when there is none."""
    import sqlite3

    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT number, status FROM rows"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_mappings(path: Path, *mappings: Mapping) -> Path:
    lines = []
    for m in mappings:
        fields = ", ".join(json.dumps(f) for f in m.fields)
        lines += [f"[{m.name}]", f'reference = "{m.reference}"', f'type = "{m.type}"', f"fields = [{fields}]", ""]
    path.write_text("\n".join(lines))
    return path


@pytest.fixture
def devices(tmp_path: Path) -> tuple[Path, Path]:
    """Character devices of the test's own (full and null), so a broken guard can never replace the machine's."""
    if os.geteuid() != 0:
        pytest.skip("making device nodes needs root")
    full, null = tmp_path / "dev" / "full", tmp_path / "dev" / "null"
    full.parent.mkdir()
    try:
        os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        with open(full, "wb", buffering=0) as probe, contextlib.suppress(OSError):
            probe.write(b"x")
            pytest.skip("this file system's device nodes do not act as devices")
    except PermissionError:
        pytest.skip("device nodes cannot be made here")
    return full, null


__all__ = ["ACCOUNTS_REF", "CLIENT_ID", "DEFAULT_CLIENT_ID", "SECRET", "Result"]


def destination(reference: str) -> Destination:
    """The target `cg` run with the current environment sends to (what its journal and state are bound to)."""
    return Destination(
        reference,
        os.environ.get("CG_API_URL", "") + "/records/",
        os.environ.get("CG_AUTH_URL", "") + "/oauth2/token",
        os.environ.get("CG_CLIENT_ID", ""),
    )
