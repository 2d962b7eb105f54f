"""The root of the CLI: global options, command groups, and the one place
that turns typed errors into messages and exit codes."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cg_cli import __version__
from cg_cli.commands.common import app_state, new_app
from cg_cli.constants import ENVIRONMENT_HELP

# Each command group lives in its own module, imported only when it runs (or
# for --help): `cg records put` never pays for `auth`, `mappings` or `sandbox`.
COMMAND_MODULES = {
    "auth": "cg_cli.commands.auth",
    "records": "cg_cli.commands.records",
    "mappings": "cg_cli.commands.mappings",
    "sandbox": "cg_cli.commands.sandbox",
}


class CgGroup(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMAND_MODULES)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        module = COMMAND_MODULES.get(cmd_name)
        if module is None:
            return None
        return typer.main.get_command(importlib.import_module(module).app)

    def invoke(self, ctx: Any) -> Any:
        from cg_cli import render
        from cg_cli.errors import CgError, ExitCode

        try:
            return super().invoke(ctx)
        except CgError as exc:
            render.error(exc, json_output=app_state(ctx).json_output)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            render.err("interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


ENVIRONMENT_EPILOG = "\b\nEnvironment variables:\n" + "\n".join(
    f"  {name:<18} {text}" for name, text in ENVIRONMENT_HELP.items()
)

app = new_app(
    "Push records into CustomerGauge through the PUT Records API.",
    cls=CgGroup,
    epilog=ENVIRONMENT_EPILOG,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"cg {__version__}")
        raise typer.Exit()


ProfileOption = Annotated[
    str | None, typer.Option("--profile", help="Profile name (default: CG_PROFILE, else default).")
]
RegionOption = Annotated[
    str | None, typer.Option("--region", help="eu, us or au (default: CG_REGION, else the profile's).")
]
EnvFileOption = Annotated[
    Path | None, typer.Option("--env-file", help="Read settings from this file instead of ./.env.")
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Log each HTTP attempt on stderr (secrets redacted).")
]
VersionOption = Annotated[
    bool, typer.Option("--version", help="Print the version and exit.", callback=_show_version, is_eager=True)
]


@app.callback()
def root(
    ctx: typer.Context,
    profile: ProfileOption = None,
    region: RegionOption = None,
    env_file: EnvFileOption = None,
    verbose: VerboseOption = False,
    version: VersionOption = False,
) -> None:
    from cg_cli import render
    from cg_cli.settings import GlobalOptions

    state = app_state(ctx)
    state.options = GlobalOptions(profile=profile, region=region, env_file=env_file, verbose=verbose)
    render.start_diagnostics(verbose)
