"""The everyday experience: messages that read well, help, did-you-mean."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ACCOUNTS_REF, CLIENT_ID, SandboxHandle

MAPPINGS = """[accounts]
reference = "53505294-0b20-2509-b15d-c8e377701d66"
type = "account"
fields = ["Account Name", "Email"]

[contacts]
reference = "contact"
type = "contact"
fields = ["Email", "Phone", "First Name"]
"""


def test_a_clean_mapping_says_so_once(cg) -> None:
    Path("cg-mappings.toml").write_text(MAPPINGS)
    result = cg("mappings", "check", "accounts")
    assert result.exit_code == 0 and result.stderr == "No problems in mapping 'accounts'.\n"
    Path("a.csv").write_text("Account Name\nA\n")
    on_file = cg("mappings", "check", "accounts", "--file", "a.csv")
    assert "No problems in a.csv for mapping 'accounts'." in on_file.stderr


def test_contact_requirements_read_email_or_phone(cg) -> None:
    Path("cg-mappings.toml").write_text(MAPPINGS)
    shown = cg("mappings", "show", "contacts")
    assert "│ Email         │ Email or Phone │" in shown.stdout and "required │" not in shown.stdout
    assert json.loads(cg("mappings", "show", "contacts", "-o", "json").stdout)["required"] == ["Email or Phone"]


def test_a_wrong_secret_at_login_hints_what_to_check(cg, sandbox: SandboxHandle, monkeypatch) -> None:
    monkeypatch.setenv("CG_AUTH_URL", sandbox.url)
    monkeypatch.setenv("CG_API_URL", sandbox.url)
    result = cg("auth", "login", "--client-id", CLIENT_ID, "--client-secret-stdin", input="wrong\n")
    assert result.exit_code == 3
    assert "check the client id, the secret and the region" in result.stderr
    assert "run `cg auth login` again" not in result.stderr


def test_a_whole_body_with_an_extra_key_names_it(cg, sandbox_env: SandboxHandle) -> None:
    Path("b.json").write_text(json.dumps({"configuration": ACCOUNTS_REF, "record": {"Account Name": "A"}, "x": 1}))
    result = cg("records", "put", "--json", "b.json")
    assert result.exit_code == 2
    assert 'holds only "configuration" and "record", not \'x\'' in result.stderr


def test_regions_in_any_case(cg) -> None:
    result = cg("records", "put", "--config", "R", "-f", "A=b", "--region", "EU", "--dry-run")
    assert result.exit_code == 0 and "imports.api.eu.customergauge.com" in result.stdout


def test_mistyped_commands_get_a_suggestion(cg) -> None:
    result = cg("recrods")
    assert result.exit_code == 2 and "Did you mean 'records'?" in result.output
    sub = cg("records", "imprt")
    assert sub.exit_code == 2 and sub.output.count("Did you mean 'import'?") == 1


def test_cg_help_is_the_help_of_a_command(cg) -> None:
    assert "records import [OPTIONS] FILE" in cg("help", "records", "import").stdout
    assert "Common tasks:" in cg("help").stdout
    assert cg("help", "nope").exit_code == 2
