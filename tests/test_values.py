"""One table of values drives both sides: what `cg` refuses before sending is what the sandbox answers 422 to.

The rules live once, in cg_cli/records/values.py; these cases hold `cg records put` (checked and
--no-check, so the sandbox judges) and `cg mappings check` to the same answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CONTACTS_MAPPING, SandboxHandle, write_mappings

# (record fields, the API field the service refuses, or None when it takes the record)
CASES: list[tuple[dict[str, str], str | None]] = [
    ({"Email": "joe@example.com"}, None),
    ({"Phone": "+44 (20) 7946-0958"}, None),
    ({"Phone": "0123456789"}, None),
    ({"Phone": "(--)"}, "Phone"),  # the documented characters only, but no digit
    ({"Phone": "+ -"}, "Phone"),
    ({"Phone": "call me"}, "Phone"),
    ({"Phone": "0123 ext. 4"}, "Phone"),
    ({"Email": "joe.example.com"}, "Email"),
    ({"Email": "joe@"}, "Email"),
    ({"Email": "@example.com"}, "Email"),
    ({"Email": "joe doe@example.com"}, "Email"),
    ({"Email": "a@b@c"}, "Email"),
    ({"Email": "   "}, "Email"),  # blank: the required group is empty
    ({"First Name": "Jo"}, "Email"),  # neither Email nor Phone
    ({"Email": "joe@example.com", "Phone": "n/a"}, "Phone"),
]


@pytest.fixture
def contacts(make_sandbox: Any) -> SandboxHandle:
    write_mappings(Path("cg-mappings.toml"), CONTACTS_MAPPING)
    handle: SandboxHandle = make_sandbox(mappings=[CONTACTS_MAPPING])
    return handle


def _fields(record: dict[str, str]) -> list[str]:
    return [a for name, value in record.items() for a in ("-f", f"{name}={value}")]


@pytest.mark.parametrize(("record", "refused"), CASES)
def test_cg_and_the_sandbox_apply_the_same_value_rules(
    cg: Any, contacts: SandboxHandle, record: dict[str, str], refused: str | None
) -> None:
    from cg_cli.records.values import value_problems

    found = value_problems("contact", record)
    assert [p.field for p in found] == ([refused] if refused else [])

    checked = cg("records", "put", "--mapping", "contacts", *_fields(record))
    assert checked.exit_code == (4 if refused else 0), checked.output
    assert len(contacts.records()) == (0 if refused else 1)  # refused locally: nothing was sent

    unchecked = cg("records", "put", "--mapping", "contacts", "--no-check", "-o", "json", *_fields(record))
    assert unchecked.exit_code == (4 if refused else 0), unchecked.output  # the sandbox's own verdict
    if refused:
        assert f"record.{refused}" in unchecked.stdout
    assert len(contacts.records()) == (0 if refused else 2)

    check = cg("mappings", "check", "contacts", *_fields(record))
    assert check.exit_code == (4 if refused else 0), check.output
