"""-o json is exactly one document, always: an internal error (a bug) and --version included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cg_cli import __version__


@pytest.mark.parametrize(
    ("argv", "env"),
    [(["-o", "json", "auth", "logout"], {}), (["auth", "logout", "--output=json"], {}),
     (["auth", "logout"], {"CG_OUTPUT": "json"})],
)  # fmt: skip
def test_an_internal_error_is_one_json_document(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], env: dict[str, str]
) -> None:
    from cg_cli import main as entry
    from cg_cli.service import auth

    def broken(settings: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(auth, "logout", broken)
    monkeypatch.setattr(sys, "argv", ["cg", *argv])
    monkeypatch.setenv("CG_REGION", "eu")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert entry.main() == 1
    captured = capsys.readouterr()
    document = json.loads(captured.out)  # the whole of stdout is one document
    assert document == {
        "ok": False,
        "exit_code": 1,
        "error": f"internal error (RuntimeError); this is a bug in cg {__version__}.",
        "hint": "run again with CG_DEBUG=1 for the traceback, and report it",
    }
    assert captured.err.startswith("error: internal error (RuntimeError)") and "Traceback" not in captured.err


def test_an_internal_error_in_text_mode_prints_nothing_on_stdout(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cg_cli import main as entry
    from cg_cli.service import auth

    monkeypatch.setattr(auth, "logout", lambda settings: 1 / 0)
    monkeypatch.setattr(sys, "argv", ["cg", "auth", "logout"])
    monkeypatch.setenv("CG_REGION", "eu")
    assert entry.main() == 1
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("args", "env"),
    [(["-o", "json", "--version"], {}), (["--version", "--output", "json"], {}), (["--version"], {"CG_OUTPUT": "json"}),
     (["--output=json", "--version"], {})],
)  # fmt: skip
def test_version_under_json(args: list[str], env: dict[str, str]) -> None:
    cg = str(Path(sys.executable).parent / "cg")
    done = subprocess.run([cg, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ok": True, "version": __version__}


def test_version_in_text(cg) -> None:
    assert cg("--version").stdout == f"cg {__version__}\n"
    assert json.loads(cg("-o", "json", "--version").stdout) == {"ok": True, "version": __version__}
