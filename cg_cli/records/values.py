"""The value rules CustomerGauge documents for the PUT Records API, written once.

`cg` checks records with them before sending (`records put`, `records import`, `mappings check`)
and the sandbox answers 422 with them, so a row `cg` lets through is a row the service takes:

- required fields non-blank: `account` needs Account Name; the other types Email or Phone;
- Phone: only digits, spaces, parentheses, dash and plus, and at least one digit;
- Email: one @ with text on both sides, no spaces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Each inner tuple is a group of which at least one field must have a value.
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "account": (("Account Name",),),
    "contact": (("Email", "Phone"),),
    "multi-object": (("Email", "Phone"),),
    "survey-response": (("Email", "Phone"),),
}
PHONE_CHARACTERS = re.compile(r"[0-9 ()+\-]*")
EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+")


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
class ValueProblem:
    """One broken rule: `field` is where the API reports it, `label` what cg shows (a group: "Email or Phone")."""

    field: str
    label: str
    problem: str  # cg's words
    api_message: str  # the service's 422 words, as the sandbox answers


def filled(value: Any) -> bool:
    """A value that counts for a required field: null and blank text do not."""
    return value is not None and str(value).strip() != ""


def value_problems(record_type: str | None, record: Mapping[str, Any]) -> list[ValueProblem]:
    """What the service would refuse in `record` (only the fields it keeps); [] when it takes it."""
    problems: list[ValueProblem] = []
    for group in REQUIRED.get(record_type or "", ()):
        if not any(filled(record.get(f)) for f in group):
            first, *others = group
            state = "empty" if any(f in record for f in group) else "missing"
            suffix = f" when record.{others[0]} is not present" if others else ""
            problems.append(
                ValueProblem(
                    first,
                    " or ".join(group),
                    f"required for {_described(record_type or '')} but {state}",
                    f"The record.{first} field is required{suffix}.",
                )
            )
    phone = record.get("Phone")
    if filled(phone):
        problem = phone_problem(phone)
        if problem:
            problems.append(ValueProblem("Phone", "Phone", problem, "The record.Phone format is invalid."))
    email = record.get("Email")
    if filled(email):
        problem = email_problem(email)
        if problem:
            problems.append(ValueProblem("Email", "Email", problem, "The record.Email must be a valid email address."))
    return problems


def record_problems(record: Mapping[str, Any]) -> list[Problem]:
    """The rules every type shares (no mapping known: a bare --config), as check problems."""
    return [Problem(None, p.label, p.problem) for p in value_problems(None, record)]


def phone_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return "must be text of digits, spaces, parentheses, dash and plus"
    text = str(value)
    if not PHONE_CHARACTERS.fullmatch(text):
        return "may hold only digits, spaces, parentheses, dash and plus"
    if not any(c.isdigit() for c in text):
        return "has no digit"
    return None


def email_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be text like name@example.com"
    if "@" not in value:
        return "has no @"
    if not EMAIL_SHAPE.fullmatch(value):
        return "is not an email address (one @ with text on both sides, no spaces)"
    return None


def _described(record_type: str) -> str:
    """'an account mapping', 'a contact mapping'."""
    article = "an" if record_type[:1] in tuple("aeiou") else "a"
    return f"{article} {record_type} mapping"
