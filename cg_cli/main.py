"""The `cg` entry point: kept free of heavy imports so `cg --version` starts fast."""

from __future__ import annotations

import os
import sys

from cg_cli import __version__
from cg_cli.constants import ENV_DEBUG, ENV_OUTPUT

EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


_ctrl_c_seen = False


def _on_ctrl_c(signum: int, frame: object) -> None:
    """Python's own Ctrl-C, remembering that it came: whatever breaks after it is the interruption."""
    global _ctrl_c_seen
    _ctrl_c_seen = True
    raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: object) -> None:
    # cg_cli.errors was imported whole before this handler was installed (_main): a lookup, never an import
    # that a SIGTERM landing inside another import would meet half done.
    raise sys.modules["cg_cli.errors"].Terminated


def main() -> int:
    """Entry point of the `cg` script: Ctrl-C at any moment is exit 130 and one line (SIGTERM: 143),
    with the one JSON document under -o json; a bug is exit 1."""
    try:
        return _main()
    except KeyboardInterrupt:  # while modules load, or anywhere the command's own handling does not reach
        return ended("interrupted", EXIT_INTERRUPTED, json_output=json_requested(sys.argv[1:]))
    except Exception as exc:
        if not (_ctrl_c_seen or caused_by_ctrl_c(exc)):
            raise
        return ended("interrupted", EXIT_INTERRUPTED, json_output=json_requested(sys.argv[1:]))
    except BaseException as exc:  # SystemExit goes on; SIGTERM's Terminated (only once a command runs) ends here
        errors = sys.modules.get("cg_cli.errors")
        if errors is None or not isinstance(exc, errors.Terminated):
            raise
        return ended("terminated", EXIT_TERMINATED, json_output=json_requested(sys.argv[1:]))


def ended(word: str, code: int, *, json_output: bool) -> int:
    """Ctrl-C or SIGTERM ended the command: one line on stderr, and under -o json the one document,
    unless the command printed its own already."""
    sys.stderr.write(f"{word}\n")
    sys.stderr.flush()
    render = sys.modules.get("cg_cli.output.render")
    if json_output and not getattr(render, "documents_written", 0):
        import json

        sys.stdout.write(json.dumps({"ok": False, "exit_code": code, "error": word, "hint": None}, indent=2) + "\n")
        sys.stdout.flush()
    return code


def json_requested(argv: list[str]) -> bool:
    """Whether the command line asks for -o json (or, without -o, CG_OUTPUT=json does)."""
    value = requested_output(argv)
    return value == "json" if value is not None else os.environ.get(ENV_OUTPUT) == "json"


def requested_output(argv: list[str]) -> str | None:
    """The value of -o/--output on the command line, as typed: the last one, as for the options themselves
    (None when there is none)."""
    found: str | None = None
    arguments = iter(argv)
    for arg in arguments:
        if arg == "--":
            break
        if arg in ("-o", "--output"):
            found = next(arguments, None)
        elif arg.startswith("--output="):
            found = arg.partition("=")[2]
        elif arg.startswith("-o") and not arg.startswith("--"):
            found = arg[2:]
    return found


def caused_by_ctrl_c(exc: BaseException) -> bool:
    """Ctrl-C while a class is built arrives wrapped ("Error calling __set_name__"): still Ctrl-C."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _main() -> int:
    if sys.argv[1:] == ["--version"]:
        # The commonest probe in scripts answers before Typer is even imported.
        sys.stdout.write(version_text(json_output=os.environ.get(ENV_OUTPUT) == "json") + "\n")
        return 0
    import signal

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # an ignored Ctrl-C stays ignored
        signal.signal(signal.SIGINT, _on_ctrl_c)
    from cg_cli.errors import ExitCode  # whole before the SIGTERM handler that raises its Terminated

    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:  # likewise an ignored SIGTERM
        signal.signal(signal.SIGTERM, _on_sigterm)
    from cg_cli.cli import app
    from cg_cli.commands.common import AppState

    try:
        app(prog_name="cg", obj=AppState())
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a bug: say so briefly, unless asked for the traceback
        if _ctrl_c_seen or caused_by_ctrl_c(exc):
            raise
        if os.environ.get(ENV_DEBUG) == "1" or "-v" in sys.argv or "--verbose" in sys.argv:
            raise
        from cg_cli.output import render

        message = f"internal error ({exc.__class__.__name__}); this is a bug in cg {__version__}."
        hint = f"run again with {ENV_DEBUG}=1 for the traceback, and report it"
        if json_requested(sys.argv[1:]):  # -o json: still exactly one document
            render.json_out({"ok": False, "exit_code": int(ExitCode.INTERNAL), "error": message, "hint": hint})
        sys.stderr.write(f"error: {message}\nhint: {hint}\n")
        return int(ExitCode.INTERNAL)
    return 0


def version_text(*, json_output: bool) -> str:
    """`cg --version`: `cg 1.2.3`, or `{"ok": true, "version": "1.2.3"}` under -o json / CG_OUTPUT=json."""
    if json_output:
        import json

        return json.dumps({"ok": True, "version": __version__}, indent=2)
    return f"cg {__version__}"
