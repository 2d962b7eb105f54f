"""cg records: put one record; `import` (in records_import.py) joins the group here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cg_cli.commands.common import (
    ConfigOption,
    FieldOption,
    JsonOption,
    MappingOption,
    MappingsFileOption,
    NoCheckOption,
    RetriesOption,
    TimeoutOption,
    app_state,
    http_options,
    new_app,
    settings_for,
    token_command,
)
from cg_cli.commands.records_import import IMPORT_EXAMPLES, import_records
from cg_cli.constants import DEFAULT_RETRIES, DEFAULT_TIMEOUT
from cg_cli.output import render

if TYPE_CHECKING:
    from cg_cli.config.settings import Settings
    from cg_cli.records.body import RecordBody

app = new_app("Push records to the PUT Records API.")

PUT_EXAMPLES = """\b
Examples:
  cg records put --config REF -f "Account Name=ACME" -f "Email=joe@x.io"
  cg records put --config REF --json account.json   # {"Account Name": ...}
  echo '{"configuration": "REF", "record": {"Account Name": "ACME"}}' \\
    | cg records put --json -
  cg records put -m accounts --json a.json -f "Email=new@x.io"   # -f wins
  cg records put --config REF -f "Account Name=ACME" --dry-run   # + curl
"""


@app.command(epilog=PUT_EXAMPLES)
def put(
    ctx: typer.Context,
    config: ConfigOption = None,
    mapping: MappingOption = None,
    field: FieldOption = None,
    json_path: JsonOption = None,
    form: Annotated[bool, typer.Option("--form", help="Send x-www-form-urlencoded instead of JSON.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the request and a curl command; send nothing.")
    ] = False,
    no_check: NoCheckOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT,
    retries: RetriesOption = DEFAULT_RETRIES,
    mappings_file: MappingsFileOption = None,
) -> None:
    """Create or update one record.

    Fields come from -f "Field Name=value" (split at the first "="; names keep
    their spaces and case) and/or --json; -f overrides keys from --json.
    """
    from cg_cli.config.targets import resolve_target
    from cg_cli.errors import CheckFailed
    from cg_cli.records.body import RecordBody, build_record, read_json_option

    settings = settings_for(ctx, mappings_file=mappings_file)
    json_input = read_json_option(json_path)
    record = build_record(field or [], json_input)
    target = resolve_target(
        settings,
        config=config,
        mapping_name=mapping,
        body_configuration=json_input.configuration if json_input else None,
    )
    if not no_check:  # with a mapping its fields too; without, the value rules every type shares
        known = target.mapping
        if known is not None:
            from cg_cli.records.mappings import check_record

            problems = check_record(known, record)
        else:
            from cg_cli.records.values import record_problems  # light: a bare --config loads no mapping code

            problems = record_problems(record)
        if problems:
            against = f" for mapping {known.name!r}" if known is not None else ""
            raise CheckFailed(f"{len(problems)} problem(s) with the record{against}; nothing was sent", problems)
    body = RecordBody(target.reference, record, form=form)
    records_url = settings.records_url()
    if dry_run:
        _show_dry_run(records_url, body, token_command(app_state(ctx)), settings.json_output)
        return

    from cg_cli.service.auth import token_provider
    from cg_cli.service.client import RecordsClient

    options = http_options(timeout, retries, resend_after_send=not target.sends_surveys)
    client = RecordsClient(records_url, token_provider(settings, options), options)
    try:
        client.put(body.content_type, body.encode())
    finally:
        client.close()
    if settings.json_output:
        render.json_out({"ok": True, "status": 200, "configuration": target.reference, "record": record})
    else:
        fields = f"{len(record)} field{'s' if len(record) != 1 else ''}"
        render.note(f"Pushed 1 record ({fields}) to configuration {target.reference}.")


def _show_dry_run(url: str, body: RecordBody, token_cmd: str, json_output: bool) -> None:
    from cg_cli.records.body import curl_command, request_headers

    headers = request_headers(body.content_type, "***")
    curl = curl_command(url, body, token_cmd)
    payload = body.encode().decode()
    if json_output:
        render.json_out(
            {
                "ok": True,
                "dry_run": True,
                "method": "PUT",
                "url": url,
                "headers": headers,
                "body": payload,
                "curl": curl,
            }
        )
        return
    lines = [
        f"PUT {url}",
        *(f"{k}: {v}" for k, v in headers.items()),
        "",
        payload,
        "",
        "# the same request with curl:",
        curl,
    ]
    render.out(render.safe("\n".join(lines), one_line=False))


app.command("import", epilog=IMPORT_EXAMPLES)(import_records)

STATE_EXAMPLES = """\b
Examples:
  cg records state state.sqlite               # records per target, last push
  cg records state state.sqlite --forget REF  # next push of REF is full
  cg records state s.sqlite --forget-uncertain REF   # after checking them
"""


@app.command("state", epilog=STATE_EXAMPLES)
def show_state(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A state file written by records import --state.", metavar="PATH")],
    forget: Annotated[
        str | None,
        typer.Option(
            "--forget", help="Forget what the state holds for this configuration (or mapping).", metavar="REF"
        ),
    ] = None,
    forget_uncertain: Annotated[
        str | None,
        typer.Option(
            "--forget-uncertain",
            help="Forget the survey rows of this configuration (or mapping) that may have arrived (checked by hand): "
            "the next push sends those still in the input.",
            metavar="REF",
        ),
    ] = None,
    mappings_file: MappingsFileOption = None,
) -> None:
    """Show what an incremental-push state holds per target, or forget one configuration.

    REF is a configuration reference the state holds, or the name of a mapping in the mapping file.
    """
    from cg_cli.errors import UsageError
    from cg_cli.importing.state import describe_state
    from cg_cli.service.auth import iso_time

    settings = settings_for(ctx, mappings_file=mappings_file)
    if forget is not None and forget_uncertain is not None:
        raise UsageError("give --forget or --forget-uncertain, not both")
    given = forget_uncertain if forget_uncertain is not None else forget
    if given is not None:
        _forget(settings, path, given, only_uncertain=forget_uncertain is not None)
        return
    targets = describe_state(path)
    data = [
        {
            "configuration": t.configuration,
            "records_url": t.records_url,
            "client_id": t.client_id,
            "records": t.records,
            "may_have_arrived": t.uncertain,
            "first_pushed": iso_time(t.first_pushed),
            "last_pushed": iso_time(t.last_pushed),
        }
        for t in targets
    ]
    if settings.json_output:
        render.json_out({"ok": True, "state": str(path), "targets": data})
        return
    if not data:
        render.note(f"{path} remembers no records (the next --state push sends every row).")
        return
    # Narrow enough for 80 columns: the URL without its scheme, the time to the minute (-o json has both whole).
    rows = [
        (
            t.configuration,
            t.records_url.partition("://")[2] or t.records_url,
            t.client_id,
            t.records,
            t.uncertain,
            iso_time(t.last_pushed)[:16].replace("T", " "),
        )
        for t in targets
    ]
    columns = ("Configuration", "Records URL", "Client", "Records", "Uncertain", "Last pushed")
    render.table(str(path), columns, rows, whole=columns[3:])


def _forget(settings: Settings, path: Path, given: str, *, only_uncertain: bool) -> None:
    """--forget and --forget-uncertain: REF as the state knows it, or a mapping's name; refused when neither."""
    from cg_cli.importing.state import configuration_named, forget_configuration

    reference = configuration_named(path, given, lambda name: _mapping_reference(settings, name))
    count = forget_configuration(path, reference, only_uncertain=only_uncertain)
    if settings.json_output:
        render.json_out({"ok": True, "configuration": reference, "forgot": count})
    named = f"{reference} (mapping {given})" if reference != given else reference
    if only_uncertain:
        render.note(f"Forgot {count} row(s) of configuration {named} that may have arrived, in {path}.")
    else:
        render.note(f"Forgot {count} record(s) of configuration {named} in {path}.")


def _mapping_reference(settings: Settings, name: str) -> str | None:
    from cg_cli.config.targets import mapping_file

    mappings = mapping_file(settings, required=False)
    mapping = mappings.mappings.get(name) if mappings is not None else None
    return mapping.reference if mapping is not None else None
