"""cg completion: the shell completion script for bash, zsh or fish."""

from __future__ import annotations

from typing import Annotated

import typer

from cg_cli.commands.common import new_app, settings_for
from cg_cli.output import render

app = new_app("Print the shell completion script.")

SHELLS = ("bash", "zsh", "fish")
COMPLETION_EXAMPLES = """\b
Install it once for your shell:
  cg completion bash >> ~/.bashrc
  cg completion zsh > "${fpath[1]}/_cg"
  cg completion fish > ~/.config/fish/completions/cg.fish
Or try it in the current bash:
  source <(cg completion bash)
"""


@app.command(epilog=COMPLETION_EXAMPLES)
def completion(
    ctx: typer.Context,
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.", metavar="bash|zsh|fish")],
) -> None:
    """Print the completion script for SHELL on stdout (commands, options, mapping names)."""
    from typer._completion_shared import get_completion_script

    from cg_cli.errors import UsageError

    if shell not in SHELLS:
        raise UsageError(f"no completion for shell {shell!r}", hint=f"use one of: {', '.join(SHELLS)}")
    script = get_completion_script(prog_name="cg", complete_var="_CG_COMPLETE", shell=shell).rstrip("\n")
    if settings_for(ctx).json_output:
        render.json_out({"ok": True, "shell": shell, "script": script})
    else:
        render.out(script)
