"""The mapping file (cg-mappings.toml) and the checks that catch silent drops."""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Iterable
from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cg_cli.errors import UsageError
from cg_cli.records.body import is_scalar
from cg_cli.records.readers import RESERVED_COLUMNS

TYPES = ("account", "contact", "multi-object", "survey-response")
# Each inner tuple is a group of which at least one field must have a value.
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "account": (("Account Name",),),
    "contact": (("Email", "Phone"),),
    "multi-object": (("Email", "Phone"),),
    "survey-response": (("Email", "Phone"),),
}
# Types whose push can send a survey: never resent once it may have arrived.
SURVEY_TYPES = frozenset({"multi-object", "survey-response"})
# How CustomerGauge matches a record it updates: Accounts by Account Name, the others by Email, else Phone.
IDENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    "account": ("Account Name",),
    "contact": ("Email", "Phone"),
    "multi-object": ("Email", "Phone"),
    "survey-response": ("Email", "Phone"),
}
DOCUMENTED_KEYS = ("Account Name", "Email", "Phone")
NOT_IN_MAPPING = "not in mapping — the API would drop it silently"
_PHONE = re.compile(r"[0-9 ()+\-]*")
_KEYS = ("reference", "type", "fields", "columns")


@dataclass(frozen=True)
class Mapping:
    name: str
    reference: str
    type: str
    fields: tuple[str, ...]
    columns: tuple[tuple[str, str], ...] = ()  # [name.columns]: input column → Field Heading

    @property
    def required_groups(self) -> tuple[tuple[str, ...], ...]:
        return REQUIRED[self.type]

    @property
    def required_fields(self) -> frozenset[str]:
        return frozenset(f for group in self.required_groups for f in group)

    @property
    def described(self) -> str:
        """'an account mapping', 'a contact mapping'."""
        article = "an" if self.type[0] in "aeiou" else "a"
        return f"{article} {self.type} mapping"

    @property
    def sends_surveys(self) -> bool:
        return self.type in SURVEY_TYPES


@dataclass(frozen=True)
class Problem:
    row: int | None
    field: str | None
    problem: str
    suggestion: str | None = None
    line: int | None = None  # the physical line of the file where the row starts (1 for the header)

    def as_json(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "problem": self.problem, "suggestion": self.suggestion}


@dataclass(frozen=True)
class MappingFile:
    path: Path
    mappings: dict[str, Mapping]

    def get(self, name: str) -> Mapping:
        try:
            return self.mappings[name]
        except KeyError:
            known = ", ".join(sorted(self.mappings)) or "none"
            guess = suggest(name, self.mappings)
            raise UsageError(
                f"no mapping named {name!r} in {self.path} (known: {known})",
                hint=f"did you mean {guess!r}?" if guess else None,
            ) from None

    def by_reference(self, reference: str) -> Mapping | None:
        return next((m for m in self.mappings.values() if m.reference == reference), None)


def load_mappings(path: Path) -> MappingFile:
    from cg_cli.records.files import read_text

    if not path.exists():
        raise UsageError(
            f"mapping file {path} does not exist",
            hint="create cg-mappings.toml (see the README), or point CG_MAPPINGS_FILE / --mappings-file at it",
        )
    return parse_mappings(read_text(path, "mapping file"), path)


def parse_mappings(text: str, path: Path) -> MappingFile:
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: {exc}") from None
    lines = text.splitlines()

    def fail(name: str, key: str | None, message: str) -> UsageError:
        return UsageError(f"{path}, line {_line_of(lines, name, key)}: mapping {name!r}: {message}")

    mappings: dict[str, Mapping] = {}
    for name, table in data.items():
        if not isinstance(table, dict):
            raise fail(name, None, "expected a table like [name] with reference, type and fields")
        for key in table:
            if key not in _KEYS:
                raise fail(name, key, f"unknown key {key!r} (expected {', '.join(_KEYS)})")
        reference = table.get("reference")
        if not isinstance(reference, str) or not reference.strip():
            raise fail(name, "reference", "missing reference (the Inbound Mapping's reference)")
        if reference != reference.strip():
            raise fail(name, "reference", f"reference {reference!r} has leading or trailing spaces")
        kind = table.get("type")
        if kind not in TYPES:
            shown = repr(kind) if kind is not None else "missing"
            raise fail(name, "type", f"type is {shown}; use one of {', '.join(TYPES)}")
        fields = table.get("fields", [])
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise fail(name, "fields", "fields must be a list of strings (the Field Headings)")
        seen: set[str] = set()
        for heading in fields:
            if not heading.strip():
                raise fail(name, "fields", "a Field Heading is empty")
            if heading in seen:
                raise fail(name, "fields", f"duplicate heading {heading!r}")
            seen.add(heading)
        columns = table.get("columns", {})
        if not isinstance(columns, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip() for k, v in columns.items()
        ):
            raise fail(name, "columns", 'columns maps input columns to Field Headings: "Company" = "Account Name"')
        twin = next((m for m in mappings.values() if m.reference == reference and m.type != kind), None)
        if twin is not None:
            # Which type a push to this reference has would depend on the order: a survey could be resent.
            raise UsageError(
                f"{path}, lines {_line_of(lines, twin.name, 'type')} and {_line_of(lines, name, 'type')}: "
                f"reference {reference!r} is declared as {twin.type} ({twin.name!r}) and as {kind} ({name!r})",
                hint="one reference is one Inbound Mapping with one data type: fix the type of one of them",
            )
        mappings[name] = Mapping(name, reference, kind, tuple(fields), tuple(columns.items()))
    return MappingFile(path, mappings)


def _line_of(lines: list[str], name: str, key: str | None) -> int:
    """1-based line of table `name` (or of `key` inside it), for error messages."""
    quoted = "|".join(re.escape(n) for n in (name, f'"{name}"', f"'{name}'"))
    header = re.compile(rf"^\s*\[\s*(?:{quoted})\s*[.\]]")  # [name] or a sub-table [name.x]
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        inline = re.compile(rf"^\s*(?:{quoted})\s*=")
        return next((i + 1 for i, line in enumerate(lines) if inline.match(line)), 1)
    if key is not None:
        # `key = …` inside the table, or a sub-table of its own: [name.columns]
        key_line = re.compile(rf"^\s*(?:{re.escape(key)}\s*=|\[\s*(?:{quoted})\s*\.\s*{re.escape(key)}\s*\])")
        for i in range(start + 1, len(lines)):
            if key_line.match(lines[i]):
                return i + 1
            if lines[i].lstrip().startswith("[") and not header.match(lines[i]):
                break
    return start + 1


def suggest(name: str, headings: Iterable[str]) -> str | None:
    """The heading `name` probably meant: same ignoring case, spacing and accents' encoding, else the closest."""
    return _heading_index(tuple(headings)).suggest(name)


FULL_SCAN_LIMIT = 200  # up to this many headings, every one is compared; beyond, a trigram index picks candidates
POSTINGS_BUDGET = 800  # index entries looked at per unknown name


class _HeadingIndex:
    """Headings prepared once per mapping, so thousands of unknown columns cost milliseconds, not minutes."""

    def __init__(self, headings: tuple[str, ...]) -> None:
        self.squashed: dict[str, str] = {}
        for heading in headings:
            self.squashed.setdefault(_squash(heading), heading)
        self.folded = {h.casefold(): h for h in headings}
        self.keys = list(self.folded)
        self.grams: dict[str, list[int]] = {}
        if len(self.keys) > FULL_SCAN_LIMIT:
            for index, key in enumerate(self.keys):
                for gram in _trigrams(key):
                    self.grams.setdefault(gram, []).append(index)

    def suggest(self, name: str) -> str | None:
        import difflib

        same = self.squashed.get(_squash(name))
        if same is not None:
            return same
        folded = name.casefold()
        candidates = self.keys
        if self.grams:
            from collections import Counter

            # Count shared trigrams, rarest first, within a budget: common ones ("ame", " na") tell little.
            postings = sorted((self.grams.get(g, []) for g in _trigrams(folded)), key=len)
            shared: Counter[int] = Counter()
            budget = POSTINGS_BUDGET
            for posting in postings:
                if budget <= 0:
                    break
                shared.update(posting[:budget])
                budget -= len(posting)
            candidates = [self.keys[i] for i, _ in shared.most_common(4)]
        close = difflib.get_close_matches(folded, candidates, n=1, cutoff=0.6)
        return self.folded[close[0]] if close else None


@functools.lru_cache(maxsize=32)
def _heading_index(headings: tuple[str, ...]) -> _HeadingIndex:
    return _HeadingIndex(headings)


def _trigrams(text: str) -> set[str]:
    padded = f"  {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def _squash(text: str) -> str:
    return "".join(unicodedata.normalize("NFC", text).split()).casefold()


def invisible_difference(name: str, heading: str) -> str | None:
    """How two names that look alike differ, when a reader could not see it."""
    if name == heading:
        return None
    if unicodedata.normalize("NFC", name) == unicodedata.normalize("NFC", heading):
        return "differs only in how its accents are encoded (Unicode NFD vs NFC)"
    if name.strip() == heading.strip():
        return "differs only in leading or trailing spaces"
    if name.split() == heading.split():
        return "differs only in spacing"
    return None


def identity_keys(mapping_type: str | None, record: MappingType[str, Any]) -> tuple[str, ...]:
    """The keys a record is matched by; rows sharing one are sent one after another, in file order.

    A known type has one key (Account Name; or Email, else Phone). With a bare --config of
    unknown type every documented key present counts, so no pair that could match is reordered.
    """
    fields = IDENTITY_FIELDS.get(mapping_type or "")
    known = fields is not None
    keys: list[str] = []
    for field in fields or DOCUMENTED_KEYS:
        value = record.get(field)
        if value is None or not is_scalar(value):
            continue
        text = (value if type(value) is str else str(value)).strip()
        if text:
            keys.append(f"{field}\0{text.casefold()}")
            if known:
                break
    return tuple(keys)


def check_mapping(mapping: Mapping) -> list[Problem]:
    """Problems of the mapping itself."""
    problems: list[Problem] = []
    for group in mapping.required_groups:
        if not any(f in mapping.fields for f in group):
            problems.append(
                Problem(None, " or ".join(group), f"required for {mapping.described} but not among its fields")
            )
    for heading in mapping.fields:
        if heading != heading.strip():
            problems.append(Problem(None, heading, "heading has leading or trailing spaces", heading.strip() or None))
    return problems


def check_fields(mapping: Mapping, names: Iterable[str], row: int | None = None) -> list[Problem]:
    """Field names the mapping does not know: the API would drop them."""
    known = set(mapping.fields)
    problems = []
    for name in names:
        if name in known:
            continue
        guess = suggest(name, mapping.fields)
        invisible = invisible_difference(name, guess) if guess else None
        problems.append(Problem(row, name, f"{NOT_IN_MAPPING}; {invisible}" if invisible else NOT_IN_MAPPING, guess))
    return problems


def check_values(mapping: Mapping | None, record: MappingType[str, Any], row: int | None = None) -> list[Problem]:
    """Scalar values, Phone and Email shapes, and (with a mapping) its required fields."""
    problems: list[Problem] = []
    for name, value in record.items():
        if not is_scalar(value):
            kind = "an object" if isinstance(value, dict) else "a list" if isinstance(value, list) else "null"
            problems.append(Problem(row, name, f"value is {kind}; only strings, numbers and booleans are sent"))
    for group in mapping.required_groups if mapping else ():
        if not any(_has_value(record.get(f)) for f in group):
            label = " or ".join(group)
            present = any(f in record for f in group)
            assert mapping is not None
            problems.append(
                Problem(row, label, f"required for {mapping.described} but {'empty' if present else 'missing'}")
            )
    phone = record.get("Phone")
    if isinstance(phone, str) and phone and not _PHONE.fullmatch(phone):
        problems.append(Problem(row, "Phone", "may hold only digits, spaces, parentheses, dash and plus"))
    email = record.get("Email")
    if isinstance(email, str) and email and "@" not in email:
        problems.append(Problem(row, "Email", "has no @"))
    return problems


def check_record(mapping: Mapping, record: MappingType[str, Any], row: int | None = None) -> list[Problem]:
    return check_fields(mapping, record, row) + check_values(mapping, record, row)


def check_header(mapping: Mapping, header: list[str], source_header: list[str] | None = None) -> list[Problem]:
    """Columns of a CSV header (after renames) the mapping does not know; the columns cg adds itself are fine.

    A renamed column is shown by both names: "Acount Name (column Company)".
    """
    problems = check_fields(mapping, [h for h in header if h not in RESERVED_COLUMNS])
    renamed = {new: old for old, new in zip(source_header or header, header, strict=True) if old != new}
    return [
        Problem(p.row, f"{p.field} (column {renamed[p.field]})", p.problem, p.suggestion) if p.field in renamed else p
        for p in problems
    ]


def check_file(
    mapping: Mapping, rows: Iterable[Any], header: list[str] | None, source_header: list[str] | None = None
) -> list[Problem]:
    """Problems of a whole file: the CSV header once, then every row."""
    problems = check_header(mapping, header, source_header) if header is not None else []
    problems = [dataclasses.replace(p, line=1) for p in problems]
    for row in rows:
        if row.error is not None:
            found = [Problem(row.number, None, row.error)]
        elif header is None:
            found = check_record(mapping, row.record, row.number)
        else:
            found = check_values(mapping, row.record, row.number)
        problems.extend(dataclasses.replace(p, line=row.line) for p in found)
    return problems


def _has_value(value: Any) -> bool:
    return value is not None and value != "" and not (isinstance(value, str) and not value.strip())
