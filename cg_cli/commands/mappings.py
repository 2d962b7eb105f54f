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
    JsonOption,
    MappingsFileOption,
    RenameOption,
    SetOption,
    new_app,
    read_options,
    settings_for,
)
from cg_cli.output import render

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from cg_cli.records.mappings import MappingFile
    from cg_cli.records.readers import Row

MappingName = Annotated[str, typer.Argument(help="A mapping of the mapping file.", metavar="NAME")]

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
    mappings_file: MappingsFileOption = None,
    ci_mode: CiOption = None,
    junit: JunitOption = None,
) -> None:
    """Find what the API would drop silently or refuse, before anything is sent.

    Exits 0 when clean, 4 when there is any problem.
    """
    from cg_cli.errors import CheckFailed, UsageError
    from cg_cli.records.body import build_record, read_json_option
    from cg_cli.records.mappings import check_fields, check_file, check_mapping, check_record

    check_mode(ci_mode)
    mappings, json_output = _load(ctx, mappings_file)
    mapping = mappings.get(name)
    duplicates = None
    if file is not None and (field or json_path):
        raise UsageError("check either a record (-f/--json) or a file (--file), not both")
    if file is not None:
        from cg_cli.records.readers import RecordFile

        options = read_options(file_format, delimiter, encoding, rename, set_fields, mapping)
        rows = 0
        with RecordFile(file, options=options) as records:
            if junit is not None:  # never the file it checks, never a FIFO waited on at the end
                from cg_cli.importing.outputs import JUNIT, Output, check_outputs

                check_outputs(file, [Output(JUNIT, junit)])
            render.note(f"reading {file}: {records.described}")

            def counted(source: Iterable[Row]) -> Iterator[Row]:
                nonlocal rows
                for row in source:
                    rows += 1
                    yield row

            problems = check_file(mapping, counted(records), records.header, records.source_header)
            problems += check_fields(mapping, list(options.constants))
        report_check(ci_mode, junit, file, mapping.name, problems, rows)
        duplicates = None
        if file != "-":
            from cg_cli.importing.duplicates import scan

            duplicates = scan(file, options, mapping.type)
            render.note(f"{file}: {duplicates.describe()}")
        what = file
    elif field or json_path:
        problems = check_record(mapping, build_record(field or [], read_json_option(json_path), strict=False))
        what = "the record"
    else:
        problems = check_mapping(mapping)
        what = f"mapping {mapping.name!r}"
    extra = {"duplicate_keys": duplicates.as_json()} if file is not None and duplicates is not None else {}
    if problems:
        raise CheckFailed(f"{len(problems)} problem(s) in {what}", problems, report=True).with_details(**extra)
    if json_output:
        render.json_out({"ok": True, "problems": [], **extra})
    against = "" if what.startswith("mapping ") else f" for mapping {mapping.name!r}"
    render.note(f"No problems in {what}{against}.")
