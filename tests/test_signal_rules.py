"""The signal rules, in-process (the child-process tests in test_import_signals.py cannot be reached by mutants):
Ctrl-C at any moment is exit 130 and one line; a first Ctrl-C or SIGTERM drains, a second quits at once."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import cg_cli
from cg_cli import main as entry
from cg_cli.commands import records_import


class FakeRun:
    def __init__(self) -> None:
        self.stops: list[str] = []

    def request_stop(self, name: str) -> None:
        self.stops.append(name)


@pytest.fixture
def exits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """os._exit recorded instead of ending the test process."""
    codes: list[int] = []

    def fake_exit(code: int) -> None:
        codes.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    return codes


@pytest.mark.parametrize(("signum", "name", "code"), [(signal.SIGTERM, "SIGTERM", 143), (signal.SIGINT, "SIGINT", 130)])
def test_a_first_signal_drains_a_second_quits_at_once_with_its_code(
    exits: list[int], capfd: pytest.CaptureFixture[str], signum: int, name: str, code: int
) -> None:
    run = FakeRun()
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(SystemExit), records_import._stop_on_signals(run):  # type: ignore[arg-type]
            os.kill(os.getpid(), signum)
            assert run.stops == [name]
            os.kill(os.getpid(), signum)
        assert exits == [code]
        err = capfd.readouterr().err
        assert "stopping: finishing the requests in flight" in err and "stopped again: quitting now" in err
        assert signal.getsignal(signum) is not before[signum]  # once stopping, a late signal still quits at once
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


def test_handlers_are_given_back_when_no_signal_came() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with records_import._stop_on_signals(FakeRun()):  # type: ignore[arg-type]
        assert signal.getsignal(signal.SIGINT) is not before[0]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_ctrl_c_inside_a_command_is_130_and_one_line(monkeypatch: pytest.MonkeyPatch, capfd: Any) -> None:
    from cg_cli import cli

    def interrupted(**_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "app", interrupted)
    monkeypatch.setattr(sys, "argv", ["cg", "auth", "status"])
    monkeypatch.setattr(entry, "_ctrl_c_seen", False)
    assert entry.main() == 130
    assert capfd.readouterr().err == "interrupted\n"


def test_an_error_that_a_ctrl_c_caused_is_still_130(monkeypatch: pytest.MonkeyPatch, capfd: Any) -> None:
    from cg_cli import cli

    def wrapped(**_: object) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("Error calling __set_name__") from exc

    monkeypatch.setattr(cli, "app", wrapped)
    monkeypatch.setattr(sys, "argv", ["cg", "auth", "status"])
    monkeypatch.setattr(entry, "_ctrl_c_seen", False)
    assert entry.main() == 130
    assert capfd.readouterr().err == "interrupted\n"


def test_an_error_after_a_ctrl_c_was_seen_is_130(monkeypatch: pytest.MonkeyPatch, capfd: Any) -> None:
    from cg_cli import cli

    def broken_after_ctrl_c(**_: object) -> None:
        with pytest.raises(KeyboardInterrupt):
            entry._on_ctrl_c(signal.SIGINT, None)
        raise OSError("a pipe closed by the interruption")

    monkeypatch.setattr(cli, "app", broken_after_ctrl_c)
    monkeypatch.setattr(sys, "argv", ["cg", "auth", "status"])
    monkeypatch.setattr(entry, "_ctrl_c_seen", False)
    assert entry.main() == 130
    assert capfd.readouterr().err == "interrupted\n"


def test_caused_by_ctrl_c_follows_causes_and_contexts() -> None:
    def chain(depth: int) -> BaseException:
        exc: BaseException = KeyboardInterrupt()
        for i in range(depth):
            outer = RuntimeError(str(i))
            if i % 2:
                outer.__cause__ = exc
            else:
                outer.__context__ = exc
            exc = outer
        return exc

    assert entry.caused_by_ctrl_c(chain(0)) and entry.caused_by_ctrl_c(chain(3)) and entry.caused_by_ctrl_c(chain(9))
    assert not entry.caused_by_ctrl_c(RuntimeError("plain"))
    assert not entry.caused_by_ctrl_c(chain(10))  # a chain longer than ten is not followed to its end


def test_the_import_time_hooks_keep_ctrl_c_to_one_line(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    others: list[object] = []
    monkeypatch.setattr(cg_cli, "_previous_hook", lambda *args: others.append(args[0]))
    cg_cli._interrupted_quietly(KeyboardInterrupt, KeyboardInterrupt(), None)
    assert capsys.readouterr().err == "interrupted\n"
    cg_cli._interrupted_quietly(ValueError, ValueError(), None)
    assert others == [ValueError]


def test_ctrl_c_in_a_callback_python_cannot_raise_from_ends_with_130(exits: list[int], capfd: Any) -> None:
    with pytest.raises(SystemExit):
        cg_cli._interrupted_in_a_callback(SimpleNamespace(exc_value=KeyboardInterrupt()))  # type: ignore[arg-type]
    assert exits == [130] and capfd.readouterr().err == "interrupted\n"


def test_other_unraisable_errors_go_to_the_previous_hook(monkeypatch: pytest.MonkeyPatch, exits: list[int]) -> None:
    seen: list[object] = []
    monkeypatch.setattr(cg_cli, "_previous_unraisable_hook", seen.append)
    other = SimpleNamespace(exc_value=ValueError())
    cg_cli._interrupted_in_a_callback(other)  # type: ignore[arg-type]
    assert seen == [other] and exits == []


class Terminated(Exception):
    pass


def test_the_action_writes_its_outputs_when_a_signal_comes_just_after_cg_ended(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A job cancelled in the last instant: cg is done, the wrapper still writes the outputs and ends with cg's code
    (it was killed by the SIGTERM instead, leaving the step without outputs: seen under `make test-random`)."""
    from cg_cli import action

    document = "import json; print(json.dumps({'sent': 3, 'failed': 0}))"
    monkeypatch.setattr(action, "command_line", lambda environ: [sys.executable, "-c", document])
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    write = action.write_outputs

    def cancelled_now(values: dict[str, object], environ: Any) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        write(values, environ)

    def terminated(signum: int, frame: object) -> None:
        raise Terminated  # where the default action would end the step, here the test

    monkeypatch.setattr(action, "write_outputs", cancelled_now)
    before = {number: signal.getsignal(number) for number in action.FORWARDED}
    signal.signal(signal.SIGTERM, terminated)
    try:
        assert action.main() == 0
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
    assert (tmp_path / "out").read_text() == "sent=3\nfailed=0\nexit-code=0\n"


def test_sigterm_during_an_import_never_meets_a_half_imported_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SIGTERM handler raises Terminated without importing: a SIGTERM that lands inside another import
    (cg starting under a cancelled job) met cg_cli.errors half done, an ImportError and exit 1 (seen in CI)."""
    import builtins

    from cg_cli.errors import Terminated

    imported: list[str] = []
    real_import = builtins.__import__

    def recording_import(name: str, *args: Any, **kwargs: Any) -> Any:
        imported.append(name)
        return real_import(name, *args, **kwargs)

    raised: BaseException | None = None
    monkeypatch.setattr(builtins, "__import__", recording_import)
    try:
        entry._on_sigterm(signal.SIGTERM, None)
    except BaseException as exc:  # what the handler raised, looked at once the import is back
        raised = exc
    finally:
        monkeypatch.undo()
    assert isinstance(raised, Terminated) and imported == []


def test_the_sigterm_handler_is_installed_only_once_errors_is_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a fresh process _main imports cg_cli.errors itself: it must do so before the handler can run."""
    import builtins

    events: list[str] = []
    real_import = builtins.__import__

    def recording_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "cg_cli.errors":
            events.append("import errors")
        return real_import(name, *args, **kwargs)

    def install(signum: int, handler: Any) -> None:
        if signum == signal.SIGTERM:
            events.append("handler")

    monkeypatch.setattr(builtins, "__import__", recording_import)
    monkeypatch.setattr(signal, "signal", install)
    monkeypatch.setattr(signal, "getsignal", lambda signum: signal.SIG_DFL)
    monkeypatch.setattr(sys, "argv", ["cg", "help"])
    assert entry._main() == 0
    assert events[:2] == ["import errors", "handler"]
