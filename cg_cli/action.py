"""What the GitHub Action (action.yml) runs: `cg records import` from the action's inputs.

Inputs arrive as INPUT_* variables (the composite action passes them); the
credentials come from the caller's `env` (CG_CLIENT_ID, CG_CLIENT_SECRET),
never from inputs. Writes `sent`, `failed` and `exit-code` to $GITHUB_OUTPUT
and exits with cg's exit code.

    python -m cg_cli.action
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path


def command_line(environ: dict[str, str] | os._Environ[str]) -> list[str]:
    """`cg records import …` for the action's inputs."""
    file = environ.get("INPUT_FILE", "").strip()
    if not file:
        raise SystemExit("error: the action needs the input `file`")
    args = [sys.executable, "-m", "cg_cli", "records", "import", file, "-o", "json"]
    for name, option in (("MAPPING", "--mapping"), ("CONFIG", "--config"), ("REGION", "--region"),
                         ("WORKERS", "--workers")):  # fmt: skip
        value = environ.get(f"INPUT_{name}", "").strip()
        if value:
            args += [option, value]
    args += shlex.split(environ.get("INPUT_ARGS", ""))
    return args


def main() -> int:
    done = subprocess.run(command_line(os.environ), stdout=subprocess.PIPE, text=True)
    try:
        summary = json.loads(done.stdout)
    except ValueError:
        summary = {}
    outputs = {"sent": summary.get("sent", 0), "failed": summary.get("failed", 0), "exit-code": done.returncode}
    output_file = os.environ.get("GITHUB_OUTPUT")
    if output_file:
        with Path(output_file).open("a", encoding="utf-8") as stream:
            stream.writelines(f"{key}={value}\n" for key, value in outputs.items())
    sys.stdout.write(done.stdout)
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
