"""The `cg` entry point: kept free of heavy imports so `cg --version` starts fast."""

from __future__ import annotations

import os
import sys

from cg_cli import __version__
from cg_cli.constants import ENV_DEBUG


def main() -> int:
    """Entry point of the `cg` script; internal errors end as exit 1 without a traceback."""
    if sys.argv[1:] == ["--version"]:
        # The commonest probe in scripts answers before Typer is even imported.
        sys.stdout.write(f"cg {__version__}\n")
        return 0
    from cg_cli.cli import app
    from cg_cli.commands.common import AppState
    from cg_cli.errors import ExitCode

    try:
        app(prog_name="cg", obj=AppState())
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except Exception as exc:  # a bug: say so briefly, unless asked for the traceback
        if os.environ.get(ENV_DEBUG) == "1" or "-v" in sys.argv or "--verbose" in sys.argv:
            raise
        sys.stderr.write(
            f"error: internal error ({exc.__class__.__name__}); this is a bug in cg {__version__}.\n"
            f"hint: run again with {ENV_DEBUG}=1 for the traceback, and report it\n"
        )
        return int(ExitCode.INTERNAL)
    return 0
