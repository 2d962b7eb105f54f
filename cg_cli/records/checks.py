"""A file's columns and rows against a mapping: the typo guard, ignore lists, and a capped, streaming row check."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from cg_cli.errors import CheckFailed
from cg_cli.records.mappings import Mapping, Problem, check_fields, check_record, check_values, suggest
from cg_cli.records.readers import RESERVED_COLUMNS, RecordFile, Row

SHOWN_PROBLEMS = 100  # problems listed one by one; the rest are counted by kind
KEPT_PROBLEMS = 1000  # problems kept for the CI reports (a JUnit case each); the text and JSON list SHOWN_PROBLEMS
KINDS = 50  # distinct kinds counted; beyond, "other problems"


def check_header(
    mapping: Mapping, header: list[str], source_header: list[str] | None = None, ignore: Iterable[str] = ()
) -> list[Problem]:
    """Columns of a CSV header (after renames) the mapping does not know; ignored ones and cg's own are fine.

    A renamed column is shown by both names: "Acount Name (column Company)".
    """
    ignored = set(ignore)
    columns = list(zip(header, source_header or header, strict=True))
    names = [h for h, s in columns if h not in RESERVED_COLUMNS | ignored and s not in ignored]
    renamed = {h: s for h, s in columns if h != s}
    return [
        dataclasses.replace(p, field=f"{p.field} (column {renamed[p.field]})") if p.field in renamed else p
        for p in check_fields(mapping, names)
    ]


@dataclass(frozen=True)
class ColumnCheck:
    """What a file's columns mean for a mapping: problems, and the line that would ignore the unknown ones."""

    problems: list[Problem]
    ignore_line: str  # `ignore = [...]` covering the unknown columns no heading is a typo away from; "" when none


def check_columns(mapping: Mapping, records: RecordFile) -> ColumnCheck:
    """The header of an open CSV (and the --set fields) against the mapping, honouring ignore lists."""
    header = records.header or []
    source = records.source_header or header
    ignore = records.options.ignore
    problems = check_header(mapping, header, source, ignore)
    constants = list(records.options.constants)
    problems += [dataclasses.replace(p, field=f"{p.field} (--set)") for p in check_fields(mapping, constants)]
    known = set(mapping.fields) | RESERVED_COLUMNS | set(ignore)
    unknown = [s for h, s in zip(header, source, strict=True) if h not in known and s not in known]
    to_ignore = [c for c in unknown if suggest(c, mapping.fields) is None and c not in mapping.ignore]
    line = ""
    if to_ignore:
        line = "ignore = [" + ", ".join(toml_string(c) for c in [*mapping.ignore, *to_ignore]) + "]"
    return ColumnCheck(problems, line)


def toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, but TOML also refuses a bare DEL (a header can hold one)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def refuse_columns(mapping: Mapping, found: ColumnCheck, what: str) -> CheckFailed:
    """The refusal of a header: the problems, and the `ignore = [...]` line to paste (apart from the typos)."""
    return CheckFailed(
        f"{what} has {len(found.problems)} column(s) the mapping does not know; nothing was sent",
        found.problems,
        hint=column_hint(mapping, found),
        paste=found.ignore_line,
    )


def header_verdict(mapping: Mapping, records: RecordFile, what: str, *, check: bool) -> list[str]:
    """The pre-flight notices of an import's header (what is left out, what --no-check sends); raises its refusal."""
    found = check_columns(mapping, records)
    notices: list[str] = []  # what is left out is named in the pre-flight line (RecordFile.described)
    if found.problems and not check:
        notices.append(
            f"--no-check: {len(found.problems)} column(s) the mapping does not know are sent as they are "
            "(the service drops them silently)"
        )
    elif found.problems:
        raise refuse_columns(mapping, found, what)
    return notices


def column_hint(mapping: Mapping, found: ColumnCheck | None) -> str | None:
    """What to do about unknown columns: ignore the ones no heading is close to, fix the typos."""
    if found is None or not found.problems:
        return None
    typos = (
        " Fix the misspelled ones (or map them with --rename or [NAME.columns])."
        if any(p.suggestion for p in found.problems)
        else ""
    )
    if found.ignore_line:
        where = f"[{mapping.name}] of the mapping file"
        return f"to leave columns out on purpose, put the line below in {where} (or pass --ignore COLUMN).{typos}"
    return typos.strip() or None


@dataclass
class FileCheck:
    """A whole file's problems in flat memory: the first KEPT_PROBLEMS, and a count of every kind."""

    kept: list[Problem] = field(default_factory=list)
    total: int = 0
    rows: int = 0
    problem_rows: int = 0  # rows with at least one problem; the header's problems are no row's
    kinds: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, problems: Iterable[Problem]) -> FileCheck:
        """The check of problems found another way (an import's header), no row read."""
        found = cls()
        for problem in problems:
            found.add(problem)
        return found

    @property
    def shown(self) -> list[Problem]:
        return self.kept[:SHOWN_PROBLEMS]

    def add(self, problem: Problem) -> None:
        self.total += 1
        if len(self.kept) < KEPT_PROBLEMS:
            self.kept.append(problem)
        kind = _kind(problem)
        if kind in self.kinds or len(self.kinds) < KINDS:
            self.kinds[kind] += 1
        else:
            self.kinds["other problems"] += 1

    @property
    def truncated(self) -> bool:
        return self.total > len(self.shown)

    def summary(self) -> str:
        """'4,998 more not listed: Email: has no @ (3,000), Phone: has no digit (1,998)'; '' when all are listed."""
        if not self.truncated:
            return ""
        counts = ", ".join(f"{kind} ({count:,})" for kind, count in self.kinds.most_common(5))
        more = f", and {len(self.kinds) - 5} more kind(s)" if len(self.kinds) > 5 else ""
        return f"{self.total - len(self.shown):,} more not listed; by kind over the whole file: {counts}{more}"

    def as_json(self) -> dict[str, object]:
        return {
            "problems_total": self.total,
            "problems_truncated": self.truncated,
            "problem_counts": dict(self.kinds.most_common()),
        }


def check_file(mapping: Mapping, rows: Iterable[Row], columns: ColumnCheck | None) -> FileCheck:
    """Problems of a whole file, streaming: the CSV header once (`columns`), then every row's values."""
    found = FileCheck()
    for problem in columns.problems if columns is not None else ():
        found.add(dataclasses.replace(problem, line=1))
    for row in rows:
        found.rows += 1
        if row.error is not None:
            problems = [Problem(row.number, None, row.error)]
        elif columns is None:  # JSONL: each row names its own fields
            problems = check_record(mapping, row.record, row.number)
        else:
            problems = check_values(mapping, row.record, row.number)
        for problem in problems:
            found.add(dataclasses.replace(problem, line=row.line))
        found.problem_rows += bool(problems)
    return found


_NUMBER = re.compile(r"\d+")


def _kind(problem: Problem) -> str:
    """What a problem is, without where: 'Email: has no @'; numbers in a reader's message made N."""
    text = _NUMBER.sub("N", problem.problem)
    return f"{problem.field}: {text}" if problem.field else text
