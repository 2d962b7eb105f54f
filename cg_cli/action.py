"""What the GitHub Action (action.yml) runs: `cg records import` from the action's inputs.

Inputs arrive as INPUT_* variables (the composite action passes them); the
credentials come from the caller's `env` (CG_CLIENT_ID, CG_CLIENT_SECRET),
never from inputs. Writes `sent`, `failed` and `exit-code` to $GITHUB_OUTPUT
and exits with cg's exit code, however the run ends. The counts come from cg's
JSON document, asked for whatever `args` holds (`-o text` only keeps it off
this step's stdout); a dry run sends nothing, so its `sent` is 0 and `failed`
the rows that would fail.

    "$VENV/bin/python" -P -m cg_cli.action

`-P` keeps the working directory off sys.path: a `./cg_cli/` in the workspace
(a repository the job checked out) is never imported in place of the installed
package. The action's step `exec`s this script, so a cancelled job's SIGINT or
SIGTERM reaches it; it passes the signal on to `cg`, which finishes the
requests in flight and journals them (exit 130 or 143), and waits for that.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from cg_cli.main import requested_output

FORWARDED = (signal.SIGINT, signal.SIGTERM)
USAGE_ERROR = 2


def command_line(environ: Mapping[str, str]) -> list[str]:
    """`cg records import …` for the action's inputs, run by this interpreter with -P.

    `-o json` comes first (a usage error follows the first) and again after `args` (the last one wins
    otherwise), before a `--` that ends the options.
    """
    file = environ.get("INPUT_FILE", "").strip()
    if not file:
        raise ValueError("the action needs the input `file` to import (without it, it only installs cg)")
    args = [sys.executable, "-P", "-m", "cg_cli", "records", "import", file, "-o", "json"]
    for name, option in (("MAPPING", "--mapping"), ("CONFIG", "--config"), ("REGION", "--region"),
                         ("WORKERS", "--workers")):  # fmt: skip
        value = environ.get(f"INPUT_{name}", "").strip()
        if value:
            args += [option, value]
    extra = user_args(environ)
    end = extra.index("--") if "--" in extra else len(extra)
    return args + extra[:end] + ["--output=json"] + extra[end:]


def user_args(environ: Mapping[str, str]) -> list[str]:
    return shlex.split(environ.get("INPUT_ARGS", ""))


def run(args: list[str]) -> tuple[int, bytes]:
    """Run cg, passing SIGINT/SIGTERM on to it (its own session: it hears each once), until it has exited.

    The handlers stay for the rest of the process: a signal that comes after cg exited (a job cancelled
    in the last instant) changes nothing, so the outputs are still written and the step ends with cg's code.
    """
    pending: list[int] = []
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: FrameType | None) -> None:
        if child is None:
            pending.append(signum)  # before cg started: passed on as soon as it has
        elif child.poll() is None:
            child.send_signal(signum)

    for forwarded in FORWARDED:
        signal.signal(forwarded, forward)
    child = subprocess.Popen(args, stdout=subprocess.PIPE, start_new_session=True)
    for signum in pending:
        child.send_signal(signum)
    stdout, _ = child.communicate()  # a signal meanwhile is passed on; the wait goes on until cg is done
    code = child.returncode
    return (128 - code if code < 0 else code), stdout  # killed by signal N: 128 + N, as a shell reports it


def outputs(code: int, stdout: bytes) -> dict[str, object]:
    """The step's outputs from cg's JSON document. Counts are empty when it has none: cg ended before the
    import started (a usage error, a refused header, refused credentials) or was killed before it could say."""
    try:
        summary = json.loads(stdout)
    except ValueError:
        summary = {}
    if not isinstance(summary, dict):
        summary = {}
    if summary.get("dry_run") is True:
        summary = {"sent": 0, "failed": summary.get("would_fail")}
    counts = {key: summary.get(key) for key in ("sent", "failed")}  # numbers only: an output is one line
    return {**{k: v if isinstance(v, int) and not isinstance(v, bool) else "" for k, v in counts.items()},
            "exit-code": code}  # fmt: skip


def write_outputs(values: dict[str, object], environ: Mapping[str, str]) -> None:
    output_file = environ.get("GITHUB_OUTPUT")
    if output_file:
        with Path(output_file).open("a", encoding="utf-8") as stream:
            stream.writelines(f"{key}={value}\n" for key, value in values.items())


def main() -> int:
    try:
        args = command_line(os.environ)
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        write_outputs({"sent": "", "failed": "", "exit-code": USAGE_ERROR}, os.environ)
        return USAGE_ERROR
    code, stdout = run(args)
    write_outputs(outputs(code, stdout), os.environ)
    if requested_output(user_args(os.environ)) != "text":  # text: cg's stdout is empty for an import
        sys.stdout.buffer.write(stdout)  # cg's JSON document: its workflow commands were already defused
        sys.stdout.flush()
    return code


if __name__ == "__main__":
    exit_code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Not SystemExit: the interpreter's shutdown puts SIGTERM back to its default first, so a job cancelled
    # in that instant would end the step as killed although cg finished and the outputs are written.
    os._exit(exit_code)
