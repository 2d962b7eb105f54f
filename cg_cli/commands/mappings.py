"""cg mappings: list, show and check the Inbound Mappings of the mapping file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cg_cli.commands.ci_output import CiOption, JunitOption, check_mode, report_check
from cg_cli.commands.common import (
    DelimiterOption,
    EncodingOption,
    FieldOption,
    FormatOption,
    IgnoreOption,
    JsonOption,
    MappingsFileOption,
    RenameOption,
    SetOption,
    new_app,
    read_options,
    settings_for,
)
from cg_cli.commands.completers import complete_mappings, complete_types
from cg_cli.output import render

if TYPE_CHECKING:
    from cg_cli.records.mappings import Mapping, MappingFile
    from cg_cli.records.readers import ReadOptions

MappingName = Annotated[
    str, typer.Argument(help="A mapping of the mapping file.", metavar="NAME", autocompletion=complete_mappings)
]
NewMappingName = Annotated[str, typer.Argument(help="The name to use with --mapping.", metavar="NAME")]

app = new_app("Inspect and check the mapping file (cg-mappings.toml) before data is sent.")


def _load(ctx: typer.Context, mappings_file: Path | None) -> tuple[MappingFile, bool]:
    from cg_cli.config.targets import mapping_file

    settings = settings_for(ctx, mappings_file=mappings_file)
    mappings = mapping_file(settings, required=True)
    assert mappings is not None
    return mappings, settings.json_output


@app.command(
    "list",
    epilog="""\b
Examples:
  cg mappings list
  cg mappings list --mappings-file other.toml -o json
""",
)
def list_mappings(ctx: typer.Context, mappings_file: MappingsFileOption = None) -> None:
    """List the mappings: name, type, reference, number of fields."""
    mappings, json_output = _load(ctx, mappings_file)
    items = list(mappings.mappings.values())
    if json_output:
        listed = [{"name": m.name, "type": m.type, "reference": m.reference, "fields": list(m.fields)} for m in items]
        render.json_out({"ok": True, "file": str(mappings.path), "mappings": listed})
        return
    rows = [(m.name, m.type, m.reference, len(m.fields)) for m in items]
    render.table(str(mappings.path), ("Name", "Type", "Reference", "Fields"), rows)


@app.command(
    epilog="""\b
Examples:
  cg mappings show accounts      # headings, and what each record needs
  cg mappings show contacts -o json
"""
)
def show(ctx: typer.Context, name: MappingName, mappings_file: MappingsFileOption = None) -> None:
    """Show a mapping's Field Headings; the type's required ones are marked."""
    mappings, json_output = _load(ctx, mappings_file)
    mapping = mappings.get(name)
    if json_output:
        render.json_out(
            {
                "ok": True,
                "name": mapping.name,
                "type": mapping.type,
                "reference": mapping.reference,
                "fields": list(mapping.fields),
                "required": [" or ".join(group) for group in mapping.required_groups],
                "ignore": list(mapping.ignore),
            }
        )
        return
    render.note(f"{mapping.name}: {mapping.described}, reference {mapping.reference}")
    groups_of = {f: group for group in mapping.required_groups for f in group}
    rows = [
        (heading, ("required" if len(groups_of[heading]) == 1 else " or ".join(groups_of[heading]))
         if heading in groups_of else "")
        for heading in mapping.fields
    ]  # fmt: skip
    render.table(None, ("Field Heading", "Required"), rows)
    groups = [" or ".join(group) for group in mapping.required_groups]
    render.note(f"Each record needs: {'; '.join(groups)}.")
    if mapping.ignore:
        render.note(f"Ignored export columns (never sent): {', '.join(mapping.ignore)}.")


INIT_EXAMPLES = """\b
Examples:
  cg mappings init accounts --config REF --type account --file export.csv
  cg mappings init contacts --config contact --type contact   # required only
  cg mappings init accounts --config REF --type account --file new.csv --force
"""


@app.command(epilog=INIT_EXAMPLES)
def init(
    ctx: typer.Context,
    name: NewMappingName,
    config: Annotated[str, typer.Option("--config", "-c", help="The Inbound Mapping's reference.", metavar="REF")],
    kind: Annotated[
        str,
        typer.Option(
            "--type",
            help="account, contact, multi-object or survey-response.",
            metavar="TYPE",
            autocompletion=complete_types,
        ),
    ],
    file: Annotated[
        str | None, typer.Option("--file", help="An export whose headings become the fields.", metavar="EXPORT")
    ] = None,
    file_format: FormatOption = None,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a mapping of that name.")] = False,
    mappings_file: MappingsFileOption = None,
) -> None:
    """Write a mapping into the mapping file (created if missing, added to if not).

    With --file, the export's headings become the fields; columns that look
    like ids or notes start out under `ignore` (review them). Without, the
    type's required fields. An existing mapping is replaced only with --force.
    """
    from cg_cli.config.mapping_init import STARTING_FIELDS, add_mapping, headings_of, split_headings
    from cg_cli.constants import DEFAULT_MAPPINGS_FILE
    from cg_cli.errors import UsageError
    from cg_cli.records.mappings import TYPES, Mapping

    settings = settings_for(ctx, mappings_file=mappings_file)
    if kind not in TYPES:
        raise UsageError(f"--type {kind!r}: use one of {', '.join(TYPES)}")
    fields: list[str] = list(STARTING_FIELDS[kind])
    ignore: list[str] = []
    if file is not None:
        headings = headings_of(file, read_options(file_format, delimiter, encoding, None, None, None))
        fields, ignore = split_headings(headings)
    path = Path(settings.mappings_file.value or DEFAULT_MAPPINGS_FILE)
    written = add_mapping(path, Mapping(name, config, kind, tuple(fields), (), tuple(ignore)), force=force)
    fields = list(written.mapping.fields)  # with the renames --force kept
    missing = [" or ".join(g) for g in written.mapping.required_groups if not any(f in fields for f in g)]
    if settings.json_output:
        render.json_out({"ok": True, "file": str(path), "name": name, "type": kind, "reference": config,
                         "fields": fields, "ignore": ignore, "columns": dict(written.mapping.columns),
                         "created": written.created, "replaced": written.replaced})  # fmt: skip
        return
    action = "replaced" if written.replaced else "added"
    render.note(f"{action} mapping {name!r} in {path}: {len(fields)} field(s), {len(ignore)} ignored")
    if written.kept_columns:
        render.note(f"kept {written.kept_columns} column rename(s) of the old mapping ([{name}.columns])")
    if missing:
        render.err(
            f"warning: {'; '.join(missing)} is required for {written.mapping.described} but not among the fields"
        )
    render.note(f"next: check the headings against CustomerGauge, then `cg mappings check {name}"
                + (f" --file {file}`" if file else "`"))  # fmt: skip


CHECK_EXAMPLES = """\b
Examples:
  cg mappings check accounts                         # the mapping itself
  cg mappings check accounts -f "Acount Name=ACME"   # exit 4: "Account Name"?
  cg mappings check accounts --json account.json
  cg mappings check accounts --file export.csv       # header and every row
"""


@app.command(epilog=CHECK_EXAMPLES)
def check(
    ctx: typer.Context,
    name: MappingName,
    field: FieldOption = None,
    json_path: JsonOption = None,
    file: Annotated[str | None, typer.Option("--file", help="A CSV or JSONL file to check.", metavar="PATH")] = None,
    file_format: FormatOption = None,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = None,
    rename: RenameOption = None,
    set_fields: SetOption = None,
    ignore: IgnoreOption = None,
    mappings_file: MappingsFileOption = None,
    ci_mode: CiOption = None,
    junit: JunitOption = None,
) -> None:
    """Find what the API would drop silently or refuse, before anything is sent.

    Exits 0 when clean, 4 when there is any problem.
    """
    from cg_cli.errors import CheckFailed, UsageError
    from cg_cli.records.body import build_record, read_json_option
    from cg_cli.records.mappings import check_mapping, check_record

    check_mode(ci_mode)
    mappings, json_output = _load(ctx, mappings_file)
    mapping = mappings.get(name)
    if file is not None and (field or json_path):
        raise UsageError("check either a record (-f/--json) or a file (--file), not both")
    if ignore and file is None:
        raise UsageError("--ignore goes with --file", hint="it names a column of the file that is never sent")
    if file is not None:
        _check_file(ctx, mapping, file, read_options(file_format, delimiter, encoding, rename, set_fields, mapping,
                                                     ignore), ci_mode, junit)  # fmt: skip
        return
    if field or json_path:
        problems = check_record(mapping, build_record(field or [], read_json_option(json_path), strict=False))
        what = "the record"
    else:
        problems = check_mapping(mapping)
        what = f"mapping {mapping.name!r}"
    if problems:
        raise CheckFailed(f"{len(problems)} problem(s) in {what}", problems, report=True)
    if json_output:
        render.json_out({"ok": True, "problems": []})
    against = "" if what.startswith("mapping ") else f" for mapping {mapping.name!r}"
    render.note(f"No problems in {what}{against}.")


def _check_file(
    ctx: typer.Context, mapping: Mapping, file: str, options: ReadOptions, ci_mode: str | None, junit: Path | None
) -> None:
    """Header and every row, streaming: the first problems listed, the rest counted by kind."""
    from cg_cli.errors import CheckFailed
    from cg_cli.records.checks import check_columns, check_file, column_hint
    from cg_cli.records.readers import RecordFile

    with RecordFile(file, options=options) as records:
        if junit is not None:  # never the file it checks, never a FIFO waited on at the end
            from cg_cli.importing.outputs import JUNIT, Output, check_outputs

            check_outputs(file, [Output(JUNIT, junit)])
        columns = check_columns(mapping, records) if records.header is not None else None
        render.note(f"reading {file}: {records.described}")
        found = check_file(mapping, records, columns)
    report_check(ci_mode, junit, file, mapping.name, found)
    extra: dict[str, object] = found.as_json()
    if file != "-":
        from cg_cli.importing.duplicates import scan

        duplicates = scan(file, options, mapping.type)
        render.note(f"{file}: {duplicates.describe()}")
        extra["duplicate_keys"] = duplicates.as_json()
    if found.total:
        listed = f"; the first {len(found.shown)} listed, {found.summary()}" if found.truncated else ""
        raise CheckFailed(
            f"{found.total:,} problem(s) in {file} over {found.rows:,} row(s){listed}",
            found.shown,
            report=True,
            hint=column_hint(mapping, columns),
            paste=columns.ignore_line if columns is not None else "",
        ).with_details(**extra)
    if settings_for(ctx).json_output:
        render.json_out({"ok": True, "problems": [], **extra})
    render.note(f"No problems in {file} for mapping {mapping.name!r}.")
