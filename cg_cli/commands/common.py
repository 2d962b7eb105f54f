"""What every command shares: the app factory, option aliases, settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from cg_cli.settings import GlobalOptions, HttpOptions, Settings


def new_app(help_text: str, **kwargs: Any) -> typer.Typer:
    """A Typer app with rich help and pretty tracebacks off (fast start, no leaked locals)."""
    return typer.Typer(
        help=help_text,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
        **kwargs,
    )


class AppState:
    """Carried in the click context: global options, and how errors are shown."""

    def __init__(self) -> None:
        self.options: GlobalOptions | None = None
        self.json_output = False


def app_state(ctx: typer.Context) -> AppState:
    state = ctx.find_root().obj
    if not isinstance(state, AppState):
        state = AppState()
        ctx.find_root().obj = state
    return state


def settings_for(
    ctx: typer.Context,
    *,
    region: str | None = None,
    client_id: str | None = None,
    configuration: str | None = None,
    output: str | None = None,
    mappings_file: Path | None = None,
) -> Settings:
    """Settings for this command; from here on errors follow its --output."""
    from cg_cli.settings import GlobalOptions, load_settings

    state = app_state(ctx)
    if output == "json":
        state.json_output = True
    settings = load_settings(
        state.options or GlobalOptions(),
        region=region,
        client_id=client_id,
        configuration=configuration,
        output=output,
        mappings_file=str(mappings_file) if mappings_file else None,
    )
    state.json_output = settings.json_output
    return settings


def http_options(timeout: float, retries: int, *, resend_after_send: bool = True) -> HttpOptions:
    from cg_cli.errors import UsageError
    from cg_cli.settings import HttpOptions

    if timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    if retries < 0:
        raise UsageError("--retries must be 0 or more")
    return HttpOptions(timeout=timeout, retries=retries, resend_after_send=resend_after_send)


def token_command(state: AppState) -> str:
    """`cg auth token` as this invocation would run it (same profile and env file), shell-quoted."""
    import shlex

    parts = ["cg"]
    if state.options is not None and state.options.profile:
        parts += ["--profile", state.options.profile]
    if state.options is not None and state.options.env_file:
        parts += ["--env-file", str(state.options.env_file)]
    return shlex.join([*parts, "auth", "token"])


OutputOption = Annotated[
    str | None,
    typer.Option("--output", "-o", help="text or json (default: CG_OUTPUT, else text).", metavar="text|json"),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait to connect and for each answer.", min=0.001)
]
RetriesOption = Annotated[
    int, typer.Option("--retries", help="Retries for 429, 502-504 and connection failures.", min=0)
]
FieldOption = Annotated[
    list[str] | None,
    typer.Option("--field", "-f", help='A field as "Field Name=value" (repeatable).', metavar="FIELD=VALUE"),
]
JsonOption = Annotated[
    str | None,
    typer.Option("--json", help="JSON file with the record (or a whole body); - reads stdin.", metavar="PATH|-"),
]
MappingsFileOption = Annotated[
    Path | None,
    typer.Option("--mappings-file", help="Mapping file (default: CG_MAPPINGS_FILE, else ./cg-mappings.toml)."),
]
ConfigOption = Annotated[
    str | None,
    typer.Option("--config", "-c", help="Inbound Mapping reference (default: CG_CONFIGURATION).", metavar="REF"),
]
MappingOption = Annotated[
    str | None, typer.Option("--mapping", "-m", help="A mapping from the mapping file (sets the reference).")
]
NoCheckOption = Annotated[bool, typer.Option("--no-check", help="Send even if the mapping check finds problems.")]
