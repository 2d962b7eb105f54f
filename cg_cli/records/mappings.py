"""The mapping file (cg-mappings.toml) and the checks that catch silent drops."""

from __future__ import annotations

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
from cg_cli.records.values import REQUIRED, value_problems
from cg_cli.records.values import Problem as Problem  # re-exported: where check problems were always imported from

TYPES = ("account", "contact", "multi-object", "survey-response")
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
_KEYS = ("reference", "type", "fields", "ignore", "columns")


@dataclass(frozen=True)
class Mapping:
    name: str
    reference: str
    type: str
    fields: tuple[str, ...]
    columns: tuple[tuple[str, str], ...] = ()  # [name.columns]: input column → Field Heading
    ignore: tuple[str, ...] = ()  # export columns never sent and never flagged

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
        ignore = table.get("ignore", [])
        if not isinstance(ignore, list) or not all(isinstance(c, str) and c.strip() for c in ignore):
            raise fail(name, "ignore", 'ignore lists export columns never sent: ignore = ["Account ID", "Notes"]')
        mapped = sorted(set(ignore) & seen)
        if mapped:
            raise fail(name, "ignore", f"{mapped[0]!r} is both a field and ignored: keep it in one list")
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
        mappings[name] = Mapping(name, reference, kind, tuple(fields), tuple(columns.items()), tuple(ignore))
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
        close = difflib.get_close_matches(folded, candidates, n=3, cutoff=0.6)
        near = [c for c in close if _typo_distance(folded, c) <= max(2, min(len(folded), len(c)) // 4)]
        return self.folded[near[0]] if near else None


@functools.lru_cache(maxsize=32)
def _heading_index(headings: tuple[str, ...]) -> _HeadingIndex:
    return _HeadingIndex(headings)


def _typo_distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) from a to b: a suggestion must be a typo away.

    difflib alone finds "Account Name" for "Account ID"; a column that far off is another column.
    """
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


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
    """Scalar values, then the service's own value rules (records/values.py) on what it would keep."""
    problems: list[Problem] = []
    for name, value in record.items():
        if not is_scalar(value):
            kind = "an object" if isinstance(value, dict) else "a list" if isinstance(value, list) else "null"
            problems.append(Problem(row, name, f"value is {kind}; only strings, numbers and booleans are sent"))
    kept = record if mapping is None else {k: v for k, v in record.items() if k in mapping.fields}
    found = value_problems(mapping.type if mapping else None, kept)
    problems += [Problem(row, p.label, p.problem) for p in found]
    return problems


def check_record(mapping: Mapping, record: MappingType[str, Any], row: int | None = None) -> list[Problem]:
    return check_fields(mapping, record, row) + check_values(mapping, record, row)
