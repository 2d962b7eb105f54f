"""`cg mappings init`: write a mapping into cg-mappings.toml, from an export's headings or a type's required fields.

The file is edited as text, so the user's comments and layout stay; the result is parsed again
before it replaces the old file (atomically), so a broken file is never left behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cg_cli.errors import UsageError
from cg_cli.records.checks import toml_string
from cg_cli.records.mappings import TYPES, Mapping, parse_mappings
from cg_cli.records.readers import RESERVED_COLUMNS, ReadOptions, RecordFile

# Headings that look like a CRM's own ids or free text: they start out under `ignore`, for the user to review.
_ID_OR_NOTE = re.compile(
    r"(^|[\s_\-.])(id|uuid|guid|key|notes?|description|comments?|remarks?|internal)$|^(id|notes?|description)\b",
    re.IGNORECASE,
)
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_JSONL_KEYS = 10_000  # distinct keys collected from a JSONL file, at most


@dataclass(frozen=True)
class Written:
    path: Path
    mapping: Mapping
    created: bool  # the file did not exist
    replaced: bool  # --force replaced a mapping of that name
    kept_columns: int = 0  # renames carried over from the replaced mapping's [name.columns]


STARTING_FIELDS = {  # what a new mapping starts with when no export is given: the type's required fields
    "account": ("Account Name",),
    "contact": ("Email", "Phone"),
    "multi-object": ("Email", "Phone", "Account Name"),  # Account Name is expected
    "survey-response": ("Email", "Phone"),
}


def headings_of(path: str, options: ReadOptions) -> list[str]:
    """The export's column names (a CSV header; the keys of a JSONL file, in order of first use)."""
    with RecordFile(path, options=options) as records:
        if records.header is not None:
            return [h for h in records.header if h not in RESERVED_COLUMNS]
        seen: dict[str, None] = {}
        for row in records:
            if row.error is None:
                for key in row.record:
                    if len(seen) < _JSONL_KEYS:
                        seen.setdefault(key)
        return list(seen)


def split_headings(headings: Iterable[str]) -> tuple[list[str], list[str]]:
    """(fields, ignore): ids and notes go to ignore, everything else is a field."""
    fields: list[str] = []
    ignore: list[str] = []
    for heading in headings:
        (ignore if _ID_OR_NOTE.search(heading.strip()) else fields).append(heading)
    return fields, ignore


def add_mapping(path: Path, mapping: Mapping, *, force: bool) -> Written:
    """Add `mapping` to the file at `path` (created if missing); an existing name needs `force`."""
    if mapping.type not in TYPES:
        raise UsageError(f"--type {mapping.type!r}: use one of {', '.join(TYPES)}")
    if not mapping.reference.strip() or mapping.reference != mapping.reference.strip():
        raise UsageError(f"--config {mapping.reference!r}: give the Inbound Mapping's reference, without spaces")
    if not mapping.name.strip() or any(c in mapping.name for c in "\r\n\0"):
        raise UsageError(f"mapping name {mapping.name!r} is not usable")
    created = not path.exists()
    text = "" if created else _read(path)
    existing = parse_mappings(text, path).mappings if text.strip() else {}
    replaced = mapping.name in existing
    if replaced and not force:
        raise UsageError(
            f"{path} already has a mapping named {mapping.name!r}",
            hint="pass --force to replace it, or choose another name",
        )
    kept = 0
    if replaced:
        text = _without_table(text, mapping.name)
        if not mapping.columns and existing[mapping.name].columns:
            mapping = _with_columns(mapping, existing[mapping.name].columns)
            kept = len(mapping.columns)
    new_text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + render_table(mapping)
    parse_mappings(new_text, path)  # what is written must load
    _write_atomically(path.resolve() if path.is_symlink() else path, new_text)  # a symlinked file stays linked
    return Written(path, mapping, created, replaced, kept)


def _with_columns(mapping: Mapping, columns: tuple[tuple[str, str], ...]) -> Mapping:
    """`mapping` with the user's renames kept: an export heading they rename becomes its Field Heading."""
    renamed = dict(columns)
    fields = tuple(dict.fromkeys(renamed.get(field, field) for field in mapping.fields))
    return Mapping(mapping.name, mapping.reference, mapping.type, fields, columns, mapping.ignore)


def render_table(mapping: Mapping) -> str:
    key = mapping.name if _BARE_KEY.fullmatch(mapping.name) else toml_string(mapping.name)
    lines = [
        f"[{key}]",
        f"reference = {toml_string(mapping.reference)}",
        f'type = "{mapping.type}"  # account | contact | multi-object | survey-response',
        "# The Inbound Mapping's Field Headings, exactly as CustomerGauge shows them (case and spaces matter).",
        f"fields = [{', '.join(toml_string(f) for f in mapping.fields)}]",
    ]
    if mapping.ignore:
        lines += [
            "# Columns that look like ids or notes: never sent. Move one to fields if the mapping has it.",
            f"ignore = [{', '.join(toml_string(c) for c in mapping.ignore)}]",
        ]
    if mapping.columns:
        lines += ["", f"[{key}.columns]  # input column → Field Heading"]
        lines += [f"{toml_string(column)} = {toml_string(heading)}" for column, heading in mapping.columns]
    return "\n".join(lines) + "\n"


def add_missing(path: Path, mappings: Iterable[Mapping]) -> tuple[list[str], list[str]]:
    """Add each mapping the file does not name yet; (added, already there). A name there is left as it is."""
    added, kept = [], []
    for mapping in mappings:
        present = path.exists() and mapping.name in parse_mappings(_read(path), path).mappings
        if present:
            kept.append(mapping.name)
        else:
            add_mapping(path, mapping, force=False)
            added.append(mapping.name)
    return added, kept


def _read(path: Path) -> str:
    from cg_cli.records.files import read_text

    return read_text(path, "mapping file")


def _without_table(text: str, name: str) -> str:
    """`text` without table `name` and its sub-tables ([name.columns]), comments just above it included."""
    quoted = "|".join(re.escape(n) for n in (name, toml_string(name), f"'{name}'"))
    own = re.compile(rf"^\s*\[\s*(?:{quoted})\s*[.\]]")
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    inside = False
    for line in lines:
        if line.lstrip().startswith("["):
            inside = bool(own.match(line))
            if inside:
                while kept and kept[-1].lstrip().startswith("#"):
                    kept.pop()  # a comment written above the table goes with it
        if not inside:
            kept.append(line)
    return "".join(kept)


def _write_atomically(path: Path, text: str) -> None:
    temporary = ""
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
