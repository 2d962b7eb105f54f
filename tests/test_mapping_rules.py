"""The mapping rules, in-process: identity keys, unknown and look-alike headings, value shapes, where a problem is."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from cg_cli.errors import UsageError
from cg_cli.records.checks import ColumnCheck, check_file, check_header
from cg_cli.records.mappings import (
    NOT_IN_MAPPING,
    Mapping,
    Problem,
    _heading_index,
    check_fields,
    check_mapping,
    check_record,
    check_values,
    identity_keys,
    invisible_difference,
    load_mappings,
    parse_mappings,
    suggest,
)
from cg_cli.records.readers import ERROR_COLUMN, Row

ACCOUNTS = Mapping("accounts", "acc-ref", "account", ("Account Name", "Email", "Phone", "Café"))
CONTACTS = Mapping("contacts", "contact", "contact", ("Email", "Phone", "First Name"))
NFD_CAFE = unicodedata.normalize("NFD", "Café")


@pytest.mark.parametrize(
    ("mapping_type", "record", "keys"),
    [
        ("account", {"Account Name": " ACME ", "Email": "a@x.com"}, ("Account Name\x00acme",)),
        ("account", {"Email": "a@x.com"}, ()),
        ("contact", {"Account Name": "ACME", "Email": "Joe@X.com", "Phone": "1"}, ("Email\x00joe@x.com",)),
        ("contact", {"Account Name": "ACME", "Email": " ", "Phone": "+1 555"}, ("Phone\x00+1 555",)),
        ("multi-object", {"Phone": 555}, ("Phone\x00555",)),
        ("survey-response", {"Email": ["a@x.com"], "Phone": "1"}, ("Phone\x001",)),
        ("contact", {"Email": None}, ()),
        (None, {"Account Name": "A", "Email": "E", "Phone": "P"}, ("Account Name\x00a", "Email\x00e", "Phone\x00p")),
        (None, {"Email": "E", "Other": "x"}, ("Email\x00e",)),
        ("unknown-type", {"Phone": "P", "Account Name": "A"}, ("Account Name\x00a", "Phone\x00p")),
    ],
)
def test_identity_keys_follow_the_mapping_type(mapping_type: str | None, record: dict, keys: tuple[str, ...]) -> None:
    assert identity_keys(mapping_type, record) == keys


def test_a_renamed_column_is_shown_by_both_names() -> None:
    problems = check_header(ACCOUNTS, ["Acount Name", "Email", "Nickname"], ["Company", "Email", "Nickname"])
    assert problems == [
        Problem(None, "Acount Name (column Company)", NOT_IN_MAPPING, "Account Name"),
        Problem(None, "Nickname", NOT_IN_MAPPING, None),
    ]


def test_a_header_without_renames_and_the_columns_cg_adds_pass() -> None:
    assert check_header(ACCOUNTS, ["Account Name", ERROR_COLUMN]) == []
    assert check_header(ACCOUNTS, ["Acount Name"]) == [Problem(None, "Acount Name", NOT_IN_MAPPING, "Account Name")]


@pytest.mark.parametrize(
    ("name", "heading", "hint"),
    [
        (NFD_CAFE, "Café", "differs only in how its accents are encoded (Unicode NFD vs NFC)"),
        ("Email ", "Email", "differs only in leading or trailing spaces"),
        ("Account  Name", "Account Name", "differs only in spacing"),
        ("account name", "Account Name", None),
        ("Email", "Email", None),
    ],
)
def test_a_look_alike_heading_says_how_it_differs(name: str, heading: str, hint: str | None) -> None:
    assert invisible_difference(name, heading) == hint
    if name != heading:
        [problem] = check_fields(ACCOUNTS, [name], row=4)
        assert problem == Problem(4, name, f"{NOT_IN_MAPPING}; {hint}" if hint else NOT_IN_MAPPING, heading)


def test_known_fields_pass_and_a_typo_far_from_any_heading_has_no_suggestion() -> None:
    assert check_fields(ACCOUNTS, ["Account Name", "Email"]) == []
    assert check_fields(ACCOUNTS, ["Zzzz"], row=2) == [Problem(2, "Zzzz", NOT_IN_MAPPING, None)]
    assert suggest("emial", ACCOUNTS.fields) == "Email"


@pytest.mark.parametrize(
    ("record", "problems"),
    [
        ({"Account Name": "A", "Phone": "+1 (555) 123-45"}, []),
        ({"Account Name": "A", "Phone": "555 x12"}, [(7, "Phone", "may hold only digits")]),
        ({"Account Name": "A", "Email": "nobody"}, [(7, "Email", "has no @")]),
        ({"Account Name": "A", "Email": "", "Phone": ""}, []),
        ({"Email": "a@x.com"}, [(7, "Account Name", "required for an account mapping but missing")]),
        ({"Account Name": " "}, [(7, "Account Name", "required for an account mapping but empty")]),
        ({"Account Name": "A", "Tags": ["x"]}, [(7, "Tags", "value is a list")]),
        ({"Account Name": "A", "Meta": {"k": 1}}, [(7, "Meta", "value is an object")]),
        ({"Account Name": "A", "Gone": None}, [(7, "Gone", "value is null")]),
        ({"Account Name": 0, "Phone": 123}, []),
    ],
)
def test_value_problems_carry_their_row(record: dict, problems: list[tuple[int, str, str]]) -> None:
    found = check_values(ACCOUNTS, record, row=7)
    assert [(p.row, p.field) for p in found] == [(row, field) for row, field, _ in problems]
    for problem, (_, _, text) in zip(found, problems, strict=True):
        assert problem.problem.startswith(text)


def test_values_are_checked_without_a_mapping_too() -> None:
    """A bare --config: shapes are checked, nothing is required."""
    found = check_values(None, {"Phone": "call me", "Email": "nobody", "List": []}, row=3)
    assert [(p.row, p.field) for p in found] == [(3, "List"), (3, "Phone"), (3, "Email")]
    assert check_values(None, {}) == []


def test_contacts_need_email_or_phone() -> None:
    assert check_values(CONTACTS, {"Phone": "1"}) == []
    assert check_values(CONTACTS, {"First Name": "Joe"}) == [
        Problem(None, "Email or Phone", "required for a contact mapping but missing")
    ]


def test_a_record_gets_both_field_and_value_problems() -> None:
    assert [p.field for p in check_record(CONTACTS, {"Emial": "x", "Phone": "?"}, row=1)] == ["Emial", "Phone"]
    assert [p.field for p in check_record(CONTACTS, {"Emial": "x"}, row=1)] == ["Emial", "Email or Phone"]


def test_check_mapping_finds_a_missing_required_field_and_spaced_headings() -> None:
    broken = Mapping("m", "r", "contact", ("First Name ", " "))
    assert check_mapping(broken) == [
        Problem(None, "Email or Phone", "required for a contact mapping but not among its fields"),
        Problem(None, "First Name ", "heading has leading or trailing spaces", "First Name"),
        Problem(None, " ", "heading has leading or trailing spaces", None),
    ]
    assert check_mapping(ACCOUNTS) == []


def test_a_file_check_gives_each_problem_its_row_and_line() -> None:
    rows = [
        Row(1, {"Account Name": "A"}, ["A"], line=2),
        Row(2, {"Account Name": "B", "Phone": "abc"}, ["B", "abc"], line=3),
        Row(3, {}, "x,y,z", error="3 cells, the header has 2", line=5),
    ]
    problems = check_file(ACCOUNTS, rows, ColumnCheck(check_header(ACCOUNTS, ["Acount Name", "Phone"]), "")).shown
    assert [(p.row, p.line, p.field) for p in problems] == [(None, 1, "Acount Name"), (2, 3, "Phone"), (3, 5, None)]
    assert problems[-1].problem == "3 cells, the header has 2"


def test_a_jsonl_file_check_looks_at_each_records_fields() -> None:
    rows = [Row(1, {"Account Name": "A", "Emial": "x@y.z"}, {}, line=1), Row(2, {"Email": "a@b.c"}, {}, line=2)]
    problems = check_file(ACCOUNTS, rows, None).shown
    assert [(p.row, p.line, p.field) for p in problems] == [(1, 1, "Emial"), (2, 2, "Account Name")]


def test_described_uses_the_right_article() -> None:
    assert ACCOUNTS.described == "an account mapping" and CONTACTS.described == "a contact mapping"
    assert Mapping("s", "r", "survey-response", ()).sends_surveys and not CONTACTS.sends_surveys
    assert Mapping("m", "r", "multi-object", ()).sends_surveys
    assert CONTACTS.required_fields == frozenset({"Email", "Phone"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[a]\nreference = "r"\ntype = "account"\nfields = ["A", "A"]\n', "line 4: mapping 'a': duplicate heading 'A'"),
        ('[a]\nreference = " r"\ntype = "account"\n', "line 2: mapping 'a': reference ' r' has leading or trailing"),
        ('[a]\nreference = "r"\ntype = "acount"\n', "line 3: mapping 'a': type is 'acount'; use one of account"),
        ('[a]\nreference = "r"\n', "line 1: mapping 'a': type is missing"),
        ('[a]\ntype = "account"\n', "line 1: mapping 'a': missing reference"),
        ('[a]\nreference = "r"\ntype = "account"\nfields = [" "]\n', "line 4: mapping 'a': a Field Heading is empty"),
        ('[a]\nreference = "r"\ntype = "account"\nfields = "A"\n', "line 4: mapping 'a': fields must be a list"),
        ('[a]\nreference = "r"\ntype = "account"\nkind = 1\n', "line 4: mapping 'a': unknown key 'kind'"),
        ("a = 1\n", "line 1: mapping 'a': expected a table"),
        ('[a]\nreference = "r"\ntype = "account"\n[a.columns]\n"C" = 1\n', "line 4: mapping 'a': columns maps"),
        (
            '[a]\nreference = "r"\ntype = "account"\n\n[b]\nreference = "r"\ntype = "contact"\n',
            "lines 3 and 7: reference 'r' is declared as account ('a') and as contact ('b')",
        ),
    ],
)
def test_a_broken_mapping_file_names_the_line(text: str, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_mappings(text, Path("m.toml"))
    assert raised.value.message.startswith("m.toml, ") and message in raised.value.message


def test_a_mapping_file_with_columns_is_read_whole() -> None:
    text = (
        '[a]\nreference = "r"\ntype = "account"\nfields = ["Account Name"]\n[a.columns]\n"Company" = "Account Name"\n'
    )
    mapping = parse_mappings(text, Path("m.toml")).get("a")
    assert mapping == Mapping("a", "r", "account", ("Account Name",), (("Company", "Account Name"),))


@pytest.fixture(autouse=True)
def fresh_heading_indexes() -> None:
    """Heading indexes are cached per mapping: each test builds its own (and so runs the code that builds them)."""
    _heading_index.cache_clear()


def test_unknown_mapping_names_the_known_ones_and_guesses() -> None:
    known = parse_mappings('[accounts]\nreference = "r"\ntype = "account"\n', Path("m.toml"))
    assert known.path == Path("m.toml")
    with pytest.raises(UsageError) as typo:
        known.get("acounts")
    assert typo.value.message == "no mapping named 'acounts' in m.toml (known: accounts)"
    assert typo.value.hint == "did you mean 'accounts'?"
    with pytest.raises(UsageError) as far:
        known.get("zzz")
    assert far.value.hint is None
    with pytest.raises(UsageError) as empty:
        parse_mappings("", Path("m.toml")).get("accounts")
    assert empty.value.message == "no mapping named 'accounts' in m.toml (known: none)"
    assert known.by_reference("r") == known.get("accounts") and known.by_reference("other") is None


def test_a_missing_or_unreadable_mapping_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as missing:
        load_mappings(tmp_path / "cg-mappings.toml")
    assert missing.value.hint == (
        "create cg-mappings.toml (see the README), or point CG_MAPPINGS_FILE / --mappings-file at it"
    )
    broken = tmp_path / "broken.toml"
    broken.write_bytes(b'[a]\nreference = "\xff"\n')
    with pytest.raises(UsageError) as unreadable:
        load_mappings(broken)
    assert unreadable.value.message.startswith(f"mapping file {broken}")


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        (
            '[a]\nreference = "r"\ntype = "account"\nkind = 1\n',
            "m.toml, line 4: mapping 'a': unknown key 'kind' (expected reference, type, fields, ignore, columns)",
            None,
        ),
        (
            '[a]\ntype = "account"\n',
            "m.toml, line 1: mapping 'a': missing reference (the Inbound Mapping's reference)",
            None,
        ),
        (
            '[a]\nreference = "r"\ntype = "account"\nfields = "A"\n',
            "m.toml, line 4: mapping 'a': fields must be a list of strings (the Field Headings)",
            None,
        ),
        (
            '[a]\nreference = "r"\ntype = "account"\n[a.columns]\n"C" = 1\n',
            'm.toml, line 4: mapping \'a\': columns maps input columns to Field Headings: "Company" = "Account Name"',
            None,
        ),
        (
            '[a]\nreference = "r"\ntype = "account"\n\n[b]\nreference = "r"\ntype = "contact"\n',
            "m.toml, lines 3 and 7: reference 'r' is declared as account ('a') and as contact ('b')",
            "one reference is one Inbound Mapping with one data type: fix the type of one of them",
        ),
        # The line of a key missing from its table is the table's, never a later table's same key.
        ('[a]\nreference = "r"\n  [b]\nreference = "s"\ntype = "account"\n', "m.toml, line 1: mapping 'a': type", None),
        ('[a]\nreference = "r"\n[b]\nreference = "s"\ntype = "account"\n', "m.toml, line 1: mapping 'a': type", None),
        # Dotted keys: no table header to point at, the first line stands for the file.
        ('# m\na.reference = "r"\na.type = "nope"\n', "m.toml, line 1: mapping 'a': type is 'nope'", None),
        ("x = 1\n", "m.toml, line 1: mapping 'x': expected a table", None),
        ("\nx = 1\n", "m.toml, line 2: mapping 'x': expected a table", None),
    ],
)
def test_a_broken_mapping_file_says_exactly_what_and_where(text: str, message: str, hint: str | None) -> None:
    with pytest.raises(UsageError) as raised:
        parse_mappings(text, Path("m.toml"))
    assert raised.value.message.startswith(message)
    assert raised.value.hint == hint


def test_a_renamed_column_keeps_both_names_in_a_file_check() -> None:
    problems = check_file(ACCOUNTS, [], ColumnCheck(check_header(ACCOUNTS, ["Acount Name"], ["Company"]), "")).shown
    assert [(p.field, p.line) for p in problems] == [("Acount Name (column Company)", 1)]


def test_suggestions_among_hundreds_of_headings_use_the_index() -> None:
    headings = (*(f"Custom Field {i:03d}" for i in range(300)), "Account Name", "Email")
    assert suggest("Custm Field 123", headings) == "Custom Field 123"
    assert suggest("custom field 042", headings) == "Custom Field 042"
    assert suggest("accountname", headings) == "Account Name"
    assert suggest("Emial", headings) == "Email"
    assert suggest("zzzzzzzz", headings) is None
    many = Mapping("m", "r", "account", headings)
    [problem] = check_fields(many, ["Custom  Field 007"])
    assert problem.suggestion == "Custom Field 007" and problem.problem.endswith("differs only in spacing")


def test_a_value_of_only_spaces_or_an_empty_string_is_missing() -> None:
    assert [p.problem for p in check_values(ACCOUNTS, {"Account Name": ""})] == [
        "required for an account mapping but empty"
    ]
    assert check_values(ACCOUNTS, {"Account Name": "XXXX"}) == []


@pytest.mark.parametrize(
    "headings", [("Account Name", "Email"), (*tuple(f"Field {i}" for i in range(300)), "Account Name")]
)
def test_a_heading_typed_with_spaces_everywhere_is_found_by_its_squashed_form(headings: tuple[str, ...]) -> None:
    """Too far apart for a fuzzy match, the same once spaces, case and accents' encoding are set aside."""
    assert suggest("A  c  c  o  u  n  t  N  a  m  e", headings) == "Account Name"
