"""What every command shares: the app factory, option aliases, settings."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer import _click as click  # typer 0.28 vendors click; the pin in pyproject.toml keeps it
from typer.core import TyperCommand, TyperGroup

from cg_cli.commands import completers

if TYPE_CHECKING:
    from cg_cli.config.settings import GlobalOptions, HttpOptions, Settings
    from cg_cli.records.mappings import Mapping
    from cg_cli.records.readers import ReadOptions


def show_help(ctx: click.Context, *, json_output: bool) -> None:
    """A command's help: text, or under -o json the document `cg help COMMAND -o json` prints."""
    from cg_cli.output import render

    if json_output:
        command = ctx.command_path.partition(" ")[2]  # without the program's name, as `cg help` takes it
        render.json_out({"ok": True, "command": command, "help": ctx.get_help()})
    else:
        click.echo(ctx.get_help())


def help_option_following_output(option: click.Parameter | None) -> click.Parameter | None:
    """--help that honours -o json (given before or after it): it is eager, so it reads the command line."""
    if option is not None and not getattr(option, "_follows_output", False):

        def show(ctx: click.Context, param: click.Parameter, value: bool) -> None:
            if value and not ctx.resilient_parsing:
                from cg_cli.main import json_requested

                show_help(ctx, json_output=json_requested(getattr(ctx.find_root().command, "argv", [])))
                ctx.exit()

        option.callback = show
        option._follows_output = True  # type: ignore[attr-defined]
    return option


class CgCommand(TyperCommand):
    """A command that also takes the global options after its name: `cg records put … -v`.

    gh and aws users put flags anywhere. The global options are added to the
    command's own (so its --help lists them); their values are taken out of the
    call and merged into the run's state, over any given before the command.
    """

    def get_help_option(self, ctx: click.Context) -> Any:
        return help_option_following_output(super().get_help_option(ctx))

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        own = {p.name for p in params}
        return [*params[:-1], *(p for p in global_params() if p.name not in own), params[-1]]

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        """Plain placeholders in the usage line: `FILE`, not Typer's `{FILE}`."""
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in super().collect_usage_pieces(ctx)]

    def invoke(self, ctx: click.Context) -> Any:
        given = {}
        for param in global_params():
            if param.name and param.name in ctx.params and param.name not in {p.name for p in self.params}:
                value = ctx.params.pop(param.name)
                if value not in (None, False):
                    given[param.name] = value
        apply_global_options(ctx, given)
        return super().invoke(ctx)


class SuggestingGroup(TyperGroup):
    """A command group that answers a mistyped command with the one meant."""

    def get_help_option(self, ctx: click.Context) -> Any:
        return help_option_following_output(super().get_help_option(ctx))

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.UsageError as exc:
            import difflib

            typed = args[0] if args else ""
            close = difflib.get_close_matches(typed, self.list_commands(ctx), n=1, cutoff=0.5)
            if not close or "No such command" not in exc.format_message() or "Did you mean" in exc.format_message():
                raise
            raise click.exceptions.UsageError(f"{exc.format_message()} Did you mean {close[0]!r}?", ctx) from None


class CgTyper(typer.Typer):
    """Typer whose commands are CgCommands."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", CgCommand)
        return super().command(*args, **kwargs)


def new_app(help_text: str, **kwargs: Any) -> typer.Typer:
    """A Typer app with rich help and pretty tracebacks off (fast start, no leaked locals)."""
    kwargs.setdefault("cls", SuggestingGroup)
    return CgTyper(
        help=help_text,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
        **kwargs,
    )


@functools.cache
def global_params() -> tuple[click.Parameter, ...]:
    """The options every command honours, before or after its name."""
    from typer.core import TyperOption

    def option(*names: str, flag: bool = False, **kwargs: Any) -> click.Parameter:
        if flag:
            return TyperOption(param_decls=list(names), is_flag=True, default=False, **kwargs)
        return TyperOption(param_decls=list(names), **kwargs)

    return (
        option(
            "--profile",
            metavar="NAME",
            help="Profile name (default: CG_PROFILE, else default).",
            autocompletion=completers.complete_profiles,
        ),
        option(
            "--region",
            metavar="eu|us|au",
            help="Region (default: CG_REGION, else the profile's).",
            autocompletion=completers.complete_regions,
        ),
        option("--env-file", metavar="PATH", help="Read settings from this file instead of ./.env."),
        option(
            "--output",
            "-o",
            metavar="text|json",
            help="text or json (default: CG_OUTPUT, else text).",
            autocompletion=completers.complete_outputs,
        ),
        option("--verbose", "-v", flag=True, help="Log each HTTP attempt on stderr (secrets redacted)."),
        option("--quiet", "-q", flag=True, help="Print only errors and warnings (and the JSON document)."),
    )


class AppState:
    """Carried in the click context: global options, and how errors are shown."""

    def __init__(self) -> None:
        self.options: GlobalOptions | None = None
        self.json_output = False


def app_state(ctx: click.Context) -> AppState:
    state = ctx.find_root().obj
    if not isinstance(state, AppState):
        state = AppState()
        ctx.find_root().obj = state
    return state


def apply_global_options(ctx: click.Context, given: dict[str, Any]) -> None:
    """Merge global options into the run's state (later ones win) and set up diagnostics."""
    from cg_cli.config.settings import GlobalOptions
    from cg_cli.output import render

    state = app_state(ctx)
    if given.get("env_file") is not None:
        given["env_file"] = Path(given["env_file"])
    options = (state.options or GlobalOptions())._replace(**given)
    state.options = options
    if options.output == "json":
        state.json_output = True
    render.configure(verbose=options.verbose, quiet=options.quiet)


def settings_for(
    ctx: click.Context,
    *,
    region: str | None = None,
    client_id: str | None = None,
    mappings_file: Path | None = None,
) -> Settings:
    """Settings for this command; from here on errors follow its --output."""
    from cg_cli.config.settings import GlobalOptions, load_settings
    from cg_cli.output import render

    state = app_state(ctx)
    settings = load_settings(
        state.options or GlobalOptions(),
        region=region,
        client_id=client_id,
        mappings_file=str(mappings_file) if mappings_file else None,
    )
    state.json_output = settings.json_output
    for notice in settings.notices:
        render.note(notice)
    return settings


MAX_TIMEOUT = 3600.0


def http_options(
    timeout: float, retries: int, *, resend_after_send: bool = True, pass_throttling: bool = False
) -> HttpOptions:
    from cg_cli.config.settings import HttpOptions
    from cg_cli.errors import UsageError

    if not math.isfinite(timeout) or not 0 < timeout <= MAX_TIMEOUT:
        raise UsageError(f"--timeout must be a number of seconds above 0 and up to {MAX_TIMEOUT:g}, not {timeout}")
    if retries < 0:
        raise UsageError("--retries must be 0 or more")
    return HttpOptions(
        timeout=timeout, retries=retries, resend_after_send=resend_after_send, pass_throttling=pass_throttling
    )


def token_command(state: AppState) -> str:
    """`cg auth token` as this invocation would run it (same profile, region and env file), shell-quoted."""
    import shlex

    parts = ["cg"]
    options = state.options
    if options is not None and options.profile:
        parts += ["--profile", options.profile]
    if options is not None and options.region:
        parts += ["--region", options.region]
    if options is not None and options.env_file:
        parts += ["--env-file", str(options.env_file)]
    return shlex.join([*parts, "auth", "token"])


TimeoutOption = Annotated[
    float,
    typer.Option("--timeout", help="Seconds to wait to connect and for the answer.", min=0.001, metavar="SECONDS"),
]
RetriesOption = Annotated[
    int, typer.Option("--retries", help="Retries for 429, 502-504 and connection failures.", min=0, metavar="N")
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
    typer.Option(
        "--mappings-file", help="Mapping file (default: CG_MAPPINGS_FILE, else ./cg-mappings.toml).", metavar="PATH"
    ),
]
ConfigOption = Annotated[
    str | None,
    typer.Option("--config", "-c", help="Inbound Mapping reference (default: CG_CONFIGURATION).", metavar="REF"),
]
MappingOption = Annotated[
    str | None,
    typer.Option(
        "--mapping",
        "-m",
        help="A mapping from the mapping file (sets the reference).",
        metavar="NAME",
        autocompletion=completers.complete_mappings,
    ),
]
NoCheckOption = Annotated[
    bool,
    typer.Option("--no-check", help="Send every column as it is, even those the mapping does not know (a stale "
                 "mapping file); ignored columns still stay home."),
]  # fmt: skip


DelimiterOption = Annotated[
    str | None,
    typer.Option(
        "--delimiter",
        help="CSV delimiter: , ; | or tab (default: from the header).",
        metavar="CHAR",
        autocompletion=completers.complete_delimiters,
    ),
]
EncodingOption = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="cp1252, latin-1, … (default: UTF-8, or UTF-16 by its BOM).",
        metavar="NAME",
        autocompletion=completers.complete_encodings,
    ),
]
RenameOption = Annotated[
    list[str] | None,
    typer.Option("--rename", help='Read a column as a Field Heading: "Company=Account Name" (repeatable).',
                 metavar="COLUMN=FIELD"),
]  # fmt: skip
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help='Add a field to every record: "Source=CRM" (repeatable).', metavar="FIELD=VALUE"),
]
FormatOption = Annotated[
    str | None,
    typer.Option("--format", help="csv (also tab-separated) or jsonl (default: from the content, else the "
                 "extension).", metavar="csv|jsonl", autocompletion=completers.complete_formats),
]  # fmt: skip


IgnoreOption = Annotated[
    list[str] | None,
    typer.Option("--ignore", help="A column never sent and never flagged (repeatable; adds to the mapping's ignore).",
                 metavar="COLUMN"),
]  # fmt: skip


def read_options(
    file_format: str | None,
    delimiter: str | None,
    encoding: str | None,
    renames: list[str] | None,
    constants: list[str] | None,
    mapping: Mapping | None,
    ignore: list[str] | None = None,
) -> ReadOptions:
    """How to read an export: the command line's choices over the mapping's [name.columns]."""
    from cg_cli.records.body import fields_from_options
    from cg_cli.records.readers import ReadOptions, parse_delimiter

    columns = dict(mapping.columns) if mapping is not None else {}
    for option in renames or []:
        old, sep, new = option.partition("=")
        if not sep or not old.strip() or not new.strip():
            from cg_cli.errors import UsageError

            raise UsageError(f'--rename {option!r}: write --rename "Column=Field Heading"')
        columns[old] = new
    return ReadOptions(
        file_format=file_format,
        delimiter=parse_delimiter(delimiter) if delimiter else None,
        encoding=encoding,
        renames=columns,
        constants={k: str(v) for k, v in fields_from_options(constants or [], option="--set").items()},
        ignore=frozenset([*(mapping.ignore if mapping is not None else ()), *(ignore or [])]),
    )
