"""cg help [COMMAND...]: the same as `cg COMMAND... --help`."""

from __future__ import annotations

from typing import Annotated

import typer

from cg_cli.commands.common import new_app, settings_for
from cg_cli.output import render

app = new_app("Show help for cg or one of its commands.")


@app.command(epilog="\b\nExamples:\n  cg help\n  cg help records import")
def help(  # noqa: A001 - the command users type
    ctx: typer.Context,
    command: Annotated[
        list[str] | None, typer.Argument(help="A command, such as: records put.", metavar="COMMAND")
    ] = None,
) -> None:
    """Show help for cg, or for COMMAND."""
    from cg_cli.errors import UsageError

    root = ctx.find_root()
    current: object = root.command
    current_ctx = root
    for name in command or []:
        get_command = getattr(current, "get_command", None)
        found = get_command(current_ctx, name) if get_command is not None else None
        if found is None:
            import difflib

            known = current.list_commands(current_ctx) if hasattr(current, "list_commands") else []
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
            typed = " ".join(command or [])
            hint = (
                f"did you mean {typed.replace(name, close[0], 1)!r}?" if close else "see `cg --help` for the commands"
            )
            raise UsageError(f"no command {typed!r}", hint=hint)
        current_ctx = typer.Context(found, info_name=name, parent=current_ctx)
        current = found
    if settings_for(ctx).json_output:
        render.json_out({"ok": True, "command": " ".join(command or []), "help": current_ctx.get_help()})
    else:
        render.out(current_ctx.get_help())
