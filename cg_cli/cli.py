"""The root of the CLI: global options, command groups, and the one place
that turns typed errors (and usage errors) into messages and exit codes."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated, Any

import typer
from typer import _click as click  # typer 0.28 vendors click; the pin in pyproject.toml keeps it

from cg_cli.commands.common import SuggestingGroup, apply_global_options, global_params, new_app, show_help
from cg_cli.constants import COMPLETE_VARIABLE, ENVIRONMENT_HELP
from cg_cli.main import ended, json_requested

# Each command group lives in its own module, imported only when it runs (or
# for --help): `cg records put` never pays for `auth`, `mappings` or `sandbox`.
COMMAND_MODULES = {
    "auth": "cg_cli.commands.auth",
    "records": "cg_cli.commands.records",
    "mappings": "cg_cli.commands.mappings",
    "sandbox": "cg_cli.commands.sandbox",
    "completion": "cg_cli.commands.completion",
    "help": "cg_cli.commands.help",
}


class CgGroup(SuggestingGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMAND_MODULES)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        module = COMMAND_MODULES.get(cmd_name)
        if module is None:
            return None
        return typer.main.get_command(importlib.import_module(module).app)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        return [*params[:-1], *global_params(), params[-1]]

    def invoke(self, ctx: Any) -> Any:
        from cg_cli.commands.common import app_state
        from cg_cli.errors import CgError, ExitCode, Terminated
        from cg_cli.output import render

        given = {p.name: ctx.params.pop(p.name, None) for p in global_params() if p.name}
        apply_global_options(ctx, {k: v for k, v in given.items() if v not in (None, False)})
        try:
            return super().invoke(ctx)
        except CgError as exc:
            render.error(exc, json_output=app_state(ctx).json_output)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            raise typer.Exit(
                ended("interrupted", ExitCode.INTERRUPTED, json_output=app_state(ctx).json_output)
            ) from None
        except Terminated:
            raise typer.Exit(ended("terminated", ExitCode.TERMINATED, json_output=app_state(ctx).json_output)) from None

    def main(self, args: Any = None, prog_name: str | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        """Usage errors too follow --output json: one document, never click's three-line block."""
        standalone_mode = kwargs.pop("standalone_mode", True)
        argv = list(sys.argv[1:] if args is None else args)
        self.argv = argv  # for --version, which answers before -o is parsed
        if os.environ.get(COMPLETE_VARIABLE):  # the shell asks for completions (`cg completion bash`)
            from typer.completion import completion_init  # type: ignore[attr-defined]

            from cg_cli.commands.completion_answers import answer

            if answer(self, os.environ[COMPLETE_VARIABLE]):
                return _exit(0, standalone_mode)
            completion_init()
            kwargs["complete_var"] = COMPLETE_VARIABLE
        try:
            result = super().main(argv, prog_name, standalone_mode=False, **kwargs)
            code = result if isinstance(result, int) else 0
        except click.exceptions.NoArgsIsHelpError as exc:  # bare `cg` or `cg records`: help, exit 0
            show_help(exc.ctx or click.Context(self), json_output=json_requested(argv))
            code = 0
        except click.ClickException as exc:
            code = _usage_error(exc, json_output=json_requested(argv))
        except typer.Abort:
            click.echo("Aborted.", err=True)
            code = 1
        return _exit(code, standalone_mode)


def _exit(code: int, standalone_mode: bool) -> int:
    if standalone_mode:
        sys.exit(code)
    return code


def _usage_error(exc: click.ClickException, *, json_output: bool) -> int:
    from cg_cli.output import render

    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "cg"
    if json_output:
        hint = f"see `{command} --help`"
        render.json_out({"ok": False, "exit_code": exc.exit_code, "error": exc.format_message(), "hint": hint})
    else:  # the shape of every other error (`error: …`, `hint: …`), through render: quoted arguments stay inert
        usage = ctx.get_usage() if ctx is not None and isinstance(exc, click.exceptions.UsageError) else ""
        if usage:
            render.err(render.safe(usage))
        render.err(f"error: {render.safe(exc.format_message())}")
        render.err(f"hint: see `{command} --help`")
    return int(exc.exit_code)


COMMON_TASKS = """\b
Common tasks:
  cg auth login --client-id ID --region eu     # once; asks for the secret
  cg records put --config REF -f "Account Name=ACME"
  cg mappings check accounts --file export.csv # catch silent drops first
  cg records import export.csv --mapping accounts
  cg sandbox                                   # try everything offline
Global options work after the command too: cg records put ... -o json
"""

ENVIRONMENT_EPILOG = (
    COMMON_TASKS
    + "\n\b\nEnvironment variables:\n"
    + "\n".join(f"  {name:<18} {text}" for name, text in ENVIRONMENT_HELP.items())
)

app = new_app(
    "Push records into CustomerGauge through the PUT Records API.",
    cls=CgGroup,
    epilog=ENVIRONMENT_EPILOG,
)


def _show_version(ctx: typer.Context, value: bool) -> None:
    if value:
        from cg_cli.main import requested_output, version_text

        argv = getattr(ctx.find_root().command, "argv", [])
        output = requested_output(argv)
        if output not in (None, "text", "json"):  # a version in no known format would pass a script's check
            raise click.exceptions.UsageError(f"unknown output format {output!r} (from option); use text or json", ctx)
        typer.echo(version_text(json_output=json_requested(argv)))
        raise typer.Exit()


VersionOption = Annotated[
    bool, typer.Option("--version", help="Print the version and exit.", callback=_show_version, is_eager=True)
]


@app.callback()
def root(version: VersionOption = False) -> None:
    """Global options (--profile, --region, --env-file, -o, -v, -q) also work after the command."""
