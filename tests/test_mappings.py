"""Mapping file loading, cg mappings list/show/check, and the pre-flight in records put."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cg_cli.records.mappings import Mapping, suggest
from tests.conftest import SandboxHandle, spawn, write_mappings

ACCOUNTS = Mapping(
    "accounts", "53505294-0b20-2509-b15d-c8e377701d66", "account", ("Account Name", "First Name", "Last Name", "Email")
)
CONTACTS = Mapping("contacts", "contact", "contact", ("Email", "Phone", "First Name"))
SURVEYS = Mapping("responses", "resp-ref", "survey-response", ("Email", "Phone", "Score"))


@pytest.fixture(autouse=True)
def mapping_file(clean_env: Path) -> Path:
    return write_mappings(Path("cg-mappings.toml"), ACCOUNTS, CONTACTS, SURVEYS)


def check(cg, *args: str, input: str | None = None):  # noqa: A002
    return cg("mappings", "check", *args, input=input)


def problems_of(result) -> list[dict]:
    return list(json.loads(result.stdout)["problems"])


def test_list_and_show(cg) -> None:
    listed = cg("mappings", "list")
    assert listed.exit_code == 0
    assert "│ accounts  │ account         │ 53505294-0b20-2509-b15d-c8e377701d66 │ 4      │" in listed.stdout
    as_json = json.loads(cg("mappings", "list", "-o", "json").stdout)
    assert as_json["ok"] is True
    assert [m["name"] for m in as_json["mappings"]] == ["accounts", "contacts", "responses"]
    shown = cg("mappings", "show", "accounts")
    assert "│ Account Name  │ required │" in shown.stdout
    assert "│ First Name    │          │" in shown.stdout
    contact = json.loads(cg("mappings", "show", "contacts", "-o", "json").stdout)
    assert contact["required"] == ["Email or Phone"]


def test_unknown_name_lists_known(cg) -> None:
    for args in (("show", "nope"), ("check", "nope")):
        result = cg("mappings", *args)
        assert result.exit_code == 2
        assert "no mapping named 'nope'" in result.stderr and "accounts, contacts, responses" in result.stderr


def test_typo_suggests_the_heading(cg) -> None:
    result = check(cg, "accounts", "-f", "Acount Name=ACME")
    assert result.exit_code == 4
    assert "Acount Name" in result.stdout and "Account Name" in result.stdout
    assert "the API would drop it" in result.stdout
    as_json = problems_of(check(cg, "accounts", "-f", "Acount Name=ACME", "-o", "json"))
    assert as_json[0] == {
        "row": None,
        "field": "Acount Name",
        "problem": "not in mapping — the API would drop it silently",
        "suggestion": "Account Name",
    }


@pytest.mark.parametrize("name", ["account name", "ACCOUNT NAME", "AccountName", " Account  Name"])
def test_case_and_spacing_mismatch_suggests_the_heading(cg, name: str) -> None:
    result = check(cg, "accounts", "-f", f"{name}=ACME", "-o", "json")
    assert result.exit_code == 4
    assert problems_of(result)[0]["suggestion"] == "Account Name"


def test_clean_record_exits_0(cg) -> None:
    result = check(cg, "accounts", "-f", "Account Name=ACME", "-f", "Email=joe@example.com")
    assert result.exit_code == 0, result.output
    assert json.loads(check(cg, "accounts", "-f", "Account Name=ACME", "-o", "json").stdout) == {
        "ok": True,
        "problems": [],
    }


@pytest.mark.parametrize(
    ("mapping", "fields", "field", "problem"),
    [
        ("contacts", ["First Name=Jo"], "Email or Phone", "required for a contact mapping but missing"),
        ("contacts", ["Email="], "Email or Phone", "required for a contact mapping but empty"),
        ("accounts", ["Account Name= "], "Account Name", "required for an account mapping but empty"),
        ("contacts", ["Phone=call me"], "Phone", "may hold only digits, spaces, parentheses, dash and plus"),
        ("contacts", ["Email=joe.example.com"], "Email", "has no @"),
    ],
)
def test_value_problems(cg, mapping: str, fields: list[str], field: str, problem: str) -> None:
    args = [a for f in fields for a in ("-f", f)]
    result = check(cg, mapping, *args, "-o", "json")
    assert result.exit_code == 4
    assert {"row": None, "field": field, "problem": problem, "suggestion": None} in problems_of(result)
    text = check(cg, mapping, *args)
    assert problem.split(" but")[0] in text.stdout.replace("\n", " ") or field in text.stdout


def test_valid_phone_passes(cg) -> None:
    assert check(cg, "contacts", "-f", "Phone=+31 (20) 555-1234").exit_code == 0


def test_non_scalar_value_from_json(cg) -> None:
    result = check(cg, "contacts", "--json", "-", "-o", "json", input='{"Email": "a@b.c", "First Name": [1]}')
    assert result.exit_code == 4
    assert problems_of(result) == [
        {
            "row": None,
            "field": "First Name",
            "problem": "value is a list; only strings, numbers and booleans are sent",
            "suggestion": None,
        }
    ]


def test_mapping_self_check(cg, tmp_path: Path) -> None:
    path = write_mappings(tmp_path / "m.toml", Mapping("bad", "r", "contact", ("First Name", "Email ")))
    result = cg("mappings", "check", "bad", "--mappings-file", str(path), "-o", "json")
    assert result.exit_code == 4
    found = problems_of(result)
    assert {
        "row": None,
        "field": "Email or Phone",
        "problem": "required for a contact mapping but not among its fields",
        "suggestion": None,
    } in found
    assert {
        "row": None,
        "field": "Email ",
        "problem": "heading has leading or trailing spaces",
        "suggestion": "Email",
    } in found
    assert check(cg, "accounts").exit_code == 0


def test_csv_file_with_bom_quotes_and_empty_cells(cg, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(
        '\ufeff"Account Name","Email","Acount Nmae"\n'
        '"ACME, Inc.",joe@example.com,x\n'
        ",nobody@example.com,\n"
        '"Multi\nline",bad-email,\n'.encode()
    )
    result = check(cg, "accounts", "--file", str(path), "-o", "json")
    assert result.exit_code == 4
    assert problems_of(result) == [
        {
            "row": None,
            "field": "Acount Nmae",
            "problem": "not in mapping — the API would drop it silently",
            "suggestion": "Account Name",
        },
        {
            "row": 2,
            "field": "Account Name",
            "problem": "required for an account mapping but missing",
            "suggestion": None,
        },
        {"row": 3, "field": "Email", "problem": "has no @", "suggestion": None},
    ]
    text = check(cg, "accounts", "--file", str(path))
    assert "│ 2   │ Account Name" in text.stdout


def test_jsonl_file(cg, tmp_path: Path) -> None:
    path = tmp_path / "contacts.jsonl"
    path.write_text('{"Email": "a@b.c"}\n\n{"email": "x@y.z"}\nnot json\n[1]\n{"Email": "a@b.c", "Phone": {}}\n')
    result = check(cg, "contacts", "--file", str(path), "-o", "json")
    assert result.exit_code == 4
    found = problems_of(result)
    assert {
        "row": 2,
        "field": "email",
        "problem": "not in mapping — the API would drop it silently",
        "suggestion": "Email",
    } in found
    assert {
        "row": 3,
        "field": None,
        "problem": "line 4: invalid JSON at column 1: Expecting value",
        "suggestion": None,
    } in found
    assert {"row": 4, "field": None, "problem": "line 5: expected a JSON object", "suggestion": None} in found
    assert {
        "row": 5,
        "field": "Phone",
        "problem": "value is an object; only strings, numbers and booleans are sent",
        "suggestion": None,
    } in found


def test_clean_csv_exits_0(cg, tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("Account Name,Email\nACME,a@b.c\n")
    assert check(cg, "accounts", "--file", str(path)).exit_code == 0


def test_file_and_record_together_is_usage_error(cg, tmp_path: Path) -> None:
    result = check(cg, "accounts", "--file", "x.csv", "-f", "A=1")
    assert result.exit_code == 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[a]\nreference = \n", "line 2"),
        ('[a]\ntype = "account"\nfields = []\n', "line 1: mapping 'a': missing reference"),
        (
            '\n[a]\nreference = "r"\ntype = "acount"\n',
            "line 4: mapping 'a': type is 'acount'; use one of account, contact, multi-object, survey-response",
        ),
        ('[a]\nreference = "r"\ntype = "account"\nfields = "Account Name"\n', "line 4: mapping 'a': fields must"),
        ('[a]\nreference = "r"\ntype = "account"\nfields = [1, 2]\n', "line 4: mapping 'a': fields must"),
        ('[a]\nreference = "r"\ntype = "account"\nfields = ["X", "X"]\n', "line 4: mapping 'a': duplicate heading 'X'"),
        ('[a]\nreference = "r"\ntype = "account"\nfeilds = []\n', "line 4: mapping 'a': unknown key 'feilds'"),
        ("a = 1\n", "line 1: mapping 'a': expected a table"),
        ("[a]\n[a]\n", "Cannot declare"),
    ],
)
def test_malformed_mapping_file_exits_2_with_file_and_line(cg, tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    result = cg("mappings", "list", "--mappings-file", str(path))
    assert result.exit_code == 2
    assert str(path) in result.stderr
    assert expected in result.stderr


def test_missing_mapping_file_exits_2(cg) -> None:
    result = cg("mappings", "list", "--mappings-file", "nope.toml")
    assert result.exit_code == 2
    assert "nope.toml does not exist" in result.stderr


def test_suggest_prefers_case_and_spacing_matches() -> None:
    assert suggest("email", ["Email", "E-mail"]) == "Email"
    assert suggest("Frist Name", ["First Name", "Last Name"]) == "First Name"
    assert suggest("Zebra", ["Account Name"]) is None


# --- the pre-flight in records put ---------------------------------------------


@pytest.fixture
def mapped_sandbox(make_sandbox) -> SandboxHandle:
    return make_sandbox(mappings=[ACCOUNTS, CONTACTS, SURVEYS])


def test_put_with_mapping_refuses_to_send(cg, mapped_sandbox: SandboxHandle) -> None:
    result = cg("records", "put", "--mapping", "accounts", "-f", "Acount Name=ACME")
    assert result.exit_code == 4
    assert "Account Name" in result.stderr and "nothing was sent" in result.stderr
    assert mapped_sandbox.stats()["record_requests"] == 0
    assert mapped_sandbox.stats()["token_requests"] == 0


def test_put_with_config_of_a_known_mapping_is_checked(cg, mapped_sandbox: SandboxHandle) -> None:
    result = cg("records", "put", "--config", ACCOUNTS.reference, "-f", "account name=ACME", "-o", "json")
    assert result.exit_code == 4
    assert json.loads(result.stdout)["problems"][0]["suggestion"] == "Account Name"
    assert mapped_sandbox.stats()["record_requests"] == 0


def test_no_check_sends_anyway(cg, mapped_sandbox: SandboxHandle) -> None:
    result = cg("records", "put", "--mapping", "accounts", "-f", "Account Name=ACME", "-f", "Colour=red", "--no-check")
    assert result.exit_code == 0, result.output
    [received] = mapped_sandbox.records()
    assert received["dropped"] == ["Colour"]


def test_put_with_mapping_sends_to_its_reference(cg, mapped_sandbox: SandboxHandle) -> None:
    result = cg("records", "put", "--mapping", "contacts", "-f", "Email=joe@example.com")
    assert result.exit_code == 0, result.output
    assert mapped_sandbox.records()[0]["configuration"] == "contact"


def test_mapping_and_config_together_is_usage_error(cg) -> None:
    result = cg("records", "put", "--mapping", "accounts", "--config", "x", "-f", "A=1", "--dry-run")
    assert result.exit_code == 2
    assert "not both" in result.stderr


def test_survey_mapping_is_never_resent_after_it_may_have_arrived(cg, mapped_sandbox: SandboxHandle) -> None:
    cg("auth", "token", prints_token=True)
    mapped_sandbox.fault(drop_after=True)
    result = cg("records", "put", "--mapping", "responses", "-f", "Email=a@b.c", "-f", "Score=9")
    assert result.exit_code == 5
    assert "not resent" in result.stderr
    assert len(mapped_sandbox.records()) == 1  # it did arrive, once


def test_account_mapping_is_resent_after_a_drop(cg, mapped_sandbox: SandboxHandle) -> None:
    cg("auth", "token", prints_token=True)
    mapped_sandbox.fault(drop_after=True)
    result = cg("records", "put", "--mapping", "accounts", "-f", "Account Name=ACME")
    assert result.exit_code == 0, result.output
    assert len(mapped_sandbox.records()) == 2  # idempotent: the repeat is harmless


def test_sandbox_serves_the_mapping_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write_mappings(tmp_path / "m.toml", CONTACTS)
    cg_path = Path(sys.executable).parent / "cg"
    proc = spawn(
        [str(cg_path), "sandbox", "--port", "0", "--mappings-file", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        banner = [proc.stderr.readline() for _ in range(2)]
        assert f"from {path}" in banner[0]
        assert "contacts: reference contact (contact; Email, Phone, First Name)" in banner[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
