"""One table of values drives both sides: what `cg` refuses before sending is what the sandbox answers 422 to.

The rules live once, in cg_cli/records/values.py; these cases hold `cg records put` (checked and
--no-check, so the sandbox judges) and `cg mappings check` to the same answer.
"""

from __future__ import annotations

import json
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


def test_check_file_names_bad_values_with_their_lines_and_import_sends_neither(
    cg: Any, contacts: SandboxHandle
) -> None:
    Path("people.csv").write_text(
        "Email,Phone,First Name\nann@example.com,,Ann\n"
        'joe.example.com,,"Jo\nMulti"\n,(--),Bo\nbea@example.com,+1 555,Bea\n'
    )
    check = cg("mappings", "check", "contacts", "--file", "people.csv", "-o", "json")
    assert check.exit_code == 4
    assert [(p["row"], p["field"], p["problem"]) for p in json.loads(check.stdout)["problems"]] == [
        (2, "Email", "has no @"),
        (3, "Phone", "has no digit"),
    ]
    annotated = cg("mappings", "check", "contacts", "--file", "people.csv", "--ci", "github")
    assert (
        "::error file=people.csv,line=3," in annotated.stderr and "::error file=people.csv,line=5," in annotated.stderr
    )

    result = cg("records", "import", "people.csv", "--mapping", "contacts")
    assert result.exit_code == 6, result.output
    assert sorted(r["record"]["Email"] for r in contacts.records()) == ["ann@example.com", "bea@example.com"]
    failed = Path("people.failed.csv").read_text()
    assert "Email: has no @" in failed and "Phone: has no digit" in failed


def test_check_file_lists_the_first_problems_and_counts_the_rest_by_kind(cg: Any, contacts: SandboxHandle) -> None:
    rows = "".join(f"user{i}.example.com\n" if i % 2 else "(--)\n" for i in range(250))
    Path("many.csv").write_text("Email\n" + rows.replace("(--)", "ok@example.com"))
    document = json.loads(cg("mappings", "check", "contacts", "--file", "many.csv", "-o", "json").stdout)
    assert len(document["problems"]) == 100 and document["problems_total"] == 125
    assert document["problems_truncated"] is True
    assert document["problem_counts"] == {"Email: has no @": 125}
    text = cg("mappings", "check", "contacts", "--file", "many.csv")
    assert "125 problem(s) in many.csv over 250 row(s); the first 100 listed" in text.stderr
    assert "Email: has no @ (125)" in text.stderr


def test_records_put_with_a_bare_config_checks_values_too(cg: Any, contacts: SandboxHandle) -> None:
    result = cg("records", "put", "--config", "contact", "-f", "Phone=(--)")
    assert result.exit_code == 4 and "has no digit" in result.output
    assert contacts.stats()["record_requests"] == 0  # refused locally, as records import does


# In-process: each rule's exact verdict, as cg shows it and as the sandbox answers it (make mutation).
CONTACT_MISSING = "The record.Email field is required when record.Phone is not present."


@pytest.mark.parametrize(
    ("record_type", "record", "expected"),
    [
        (
            "account",
            {"Email": "a@b.c"},
            [
                (
                    "Account Name",
                    "Account Name",
                    "required for an account mapping but missing",
                    "The record.Account Name field is required.",
                )
            ],
        ),
        (
            "account",
            {"Account Name": "  "},
            [
                (
                    "Account Name",
                    "Account Name",
                    "required for an account mapping but empty",
                    "The record.Account Name field is required.",
                )
            ],
        ),
        ("contact", {}, [("Email", "Email or Phone", "required for a contact mapping but missing", CONTACT_MISSING)]),
        # one field of the group present but blank, the other absent: empty, not missing
        (
            "contact",
            {"Phone": ""},
            [("Email", "Email or Phone", "required for a contact mapping but empty", CONTACT_MISSING)],
        ),
        (
            "contact",
            {"Email": None},
            [("Email", "Email or Phone", "required for a contact mapping but empty", CONTACT_MISSING)],
        ),
        (
            "multi-object",
            {"First Name": "Jo"},
            [("Email", "Email or Phone", "required for a multi-object mapping but missing", CONTACT_MISSING)],
        ),
        (
            "survey-response",
            {"First Name": "Jo"},
            [("Email", "Email or Phone", "required for a survey-response mapping but missing", CONTACT_MISSING)],
        ),
        ("contact", {"Phone": 0}, []),  # the number 0 is a value
        (
            "contact",
            {"Phone": False},
            [
                (
                    "Phone",
                    "Phone",
                    "must be text of digits, spaces, parentheses, dash and plus",
                    "The record.Phone format is invalid.",
                )
            ],
        ),
        (
            "contact",
            {"Phone": 1.5},
            [
                (
                    "Phone",
                    "Phone",
                    "must be text of digits, spaces, parentheses, dash and plus",
                    "The record.Phone format is invalid.",
                )
            ],
        ),
        (
            "contact",
            {"Phone": "12a"},
            [
                (
                    "Phone",
                    "Phone",
                    "may hold only digits, spaces, parentheses, dash and plus",
                    "The record.Phone format is invalid.",
                )
            ],
        ),
        ("contact", {"Phone": "( )"}, [("Phone", "Phone", "has no digit", "The record.Phone format is invalid.")]),
        (
            "contact",
            {"Email": 5},
            [
                (
                    "Email",
                    "Email",
                    "must be text like name@example.com",
                    "The record.Email must be a valid email address.",
                )
            ],
        ),
        (
            "contact",
            {"Email": "nobody"},
            [("Email", "Email", "has no @", "The record.Email must be a valid email address.")],
        ),
        (
            "contact",
            {"Email": "a@b c"},
            [
                (
                    "Email",
                    "Email",
                    "is not an email address (one @ with text on both sides, no spaces)",
                    "The record.Email must be a valid email address.",
                )
            ],
        ),
        ("contact", {"Email": "joe@example.com", "Phone": "+1 (555) 010-99"}, []),
        ("unknown-type", {}, []),
        (None, {}, []),
    ],
)
def test_each_value_rule_gives_its_field_label_and_both_messages(
    record_type: str | None, record: dict[str, Any], expected: list[tuple[str, str, str, str]]
) -> None:
    from cg_cli.records.values import value_problems

    found = value_problems(record_type, record)
    assert [(p.field, p.label, p.problem, p.api_message) for p in found] == expected


def test_a_record_without_a_mapping_has_its_shapes_checked_and_nothing_required() -> None:
    from cg_cli.records.values import Problem, record_problems

    assert record_problems({"Phone": "( )", "Email": "nobody"}) == [
        Problem(None, "Phone", "has no digit"),
        Problem(None, "Email", "has no @"),
    ]
    assert record_problems({"First Name": "Jo"}) == []


@pytest.mark.parametrize(
    ("value", "counts"), [(None, False), ("", False), (" \t", False), (0, True), ("x", True), (False, True)]
)
def test_a_value_counts_for_a_required_field_unless_null_or_blank(value: Any, counts: bool) -> None:
    from cg_cli.records.values import filled

    assert filled(value) is counts


def test_a_problem_as_json_has_the_documented_keys() -> None:
    from cg_cli.records.values import Problem

    assert Problem(3, "Email", "has no @", "Emial", line=4).as_json() == {
        "row": 3,
        "field": "Email",
        "problem": "has no @",
        "suggestion": "Emial",
    }
