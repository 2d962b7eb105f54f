"""With -o json every run of every command prints exactly one JSON document on stdout:
`ok` always; on failure also `exit_code`, `error` and `hint`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cg_cli.importing.state import StateStore
from tests.conftest import ACCOUNTS_REF, CLIENT_ID, SECRET, SandboxHandle, free_port

ACME = ("-f", "Account Name=ACME")


def one_document(stdout: str) -> dict[str, Any]:
    document = json.loads(stdout)  # raises on a second document ("Extra data") or none
    assert isinstance(document, dict), stdout
    return document


def check(result: Any, expected_code: int) -> dict[str, Any]:
    assert result.exit_code == expected_code, result.output
    document = one_document(result.stdout)
    assert document["ok"] is (expected_code == 0)
    if expected_code:
        assert document["exit_code"] == expected_code
        assert isinstance(document["error"], str) and document["error"]
        assert "hint" in document
    return document


def setup_files() -> None:
    Path("cg-mappings.toml").write_text(
        f'[accounts]\nreference = "{ACCOUNTS_REF}"\ntype = "account"\nfields = ["Account Name", "Email"]\n'
    )
    Path("good.csv").write_text("Account Name,Email\nA,a@x.com\n")
    Path("bad_row.csv").write_text("Account Name,Email\n,a@x.com\n")
    Path("bad_header.csv").write_text("Acount Name\nA\n")
    StateStore(Path("s.db"), ACCOUNTS_REF).close()  # a state that knows one configuration


CASES: dict[str, tuple[tuple[str, ...], int]] = {
    "auth status": (("auth", "status"), 0),
    "auth token": (("auth", "token"), 0),
    "records put": (("records", "put", "--config", ACCOUNTS_REF, *ACME), 0),
    "records put --dry-run": (("records", "put", "--config", ACCOUNTS_REF, *ACME, "--dry-run"), 0),
    "records put 422": (("records", "put", "--config", "nope", *ACME), 4),
    "records put check failed": (("records", "put", "--mapping", "accounts", "-f", "Acount Name=A"), 4),
    "records put unknown option": (("records", "put", "--bogus"), 2),
    "records put bad -f": (("records", "put", "--config", ACCOUNTS_REF, "-f", "novalue"), 2),
    "records import": (("records", "import", "good.csv", "--mapping", "accounts"), 0),
    "records import failed rows": (("records", "import", "bad_row.csv", "--mapping", "accounts"), 6),
    "records import header": (("records", "import", "bad_header.csv", "--mapping", "accounts"), 4),
    "records import --workers 0": (("records", "import", "good.csv", "--config", "X", "--workers", "0"), 2),
    "records import --dry-run": (("records", "import", "good.csv", "--mapping", "accounts", "--dry-run"), 0),
    "records import --dry-run bad": (("records", "import", "bad_row.csv", "--mapping", "accounts", "--dry-run"), 4),
    "mappings list": (("mappings", "list"), 0),
    "mappings show": (("mappings", "show", "accounts"), 0),
    "mappings show unknown": (("mappings", "show", "nope"), 2),
    "mappings check": (("mappings", "check", "accounts"), 0),
    "mappings check problems": (("mappings", "check", "accounts", "--file", "bad_header.csv"), 4),
    "unknown command": (("recrods",), 2),
    "auth list": (("auth", "list"), 0),
    "completion": (("completion", "bash"), 0),
    "completion unknown shell": (("completion", "tcsh"), 2),
    "help": (("help", "records", "put"), 0),
    "records state missing": (("records", "state", "nope.db"), 2),
    "records state --forget unknown": (("records", "state", "s.db", "--forget", "nope"), 2),
}


FAILURE = {"exit_code", "error", "hint"}
IMPORT = {
    "sent", "failed", "skipped", "sent_earlier", "failed_earlier", "changed_since_journal", "maybe_arrived",
    "unchanged", "superseded", "not_sent", "elapsed_seconds", "rows_per_second", "throttled", "settled_in_flight",
    "interrupted", "failed_file", "journal", "results_file", "stopped_by", "first_failures", "duplicate_keys",
    "first_failures_truncated",
}  # fmt: skip
DRY_RUN = {"dry_run", "would_send", "would_fail", "problems", "problems_truncated"}
# The keys each document carries besides `ok` (and, on failure, `exit_code`, `error`, `hint`): what scripts read.
KEYS: dict[str, set[str]] = {
    "auth status": {"profile", "region", "client_id", "auth_url", "api_url", "source", "authenticated"}
    | {"token_expires_at"},
    "auth token": {"access_token", "expires_at"},
    "records put": {"status", "configuration", "record"},
    "records put --dry-run": {"dry_run", "method", "url", "headers", "body", "curl"},
    "records put 422": {"status", "message", "errors"},
    "records put check failed": {"problems"},
    "records put unknown option": set(),
    "records put bad -f": set(),
    "records import": IMPORT,
    "records import failed rows": IMPORT,
    "records import header": {"problems"},
    "records import --workers 0": set(),
    "records import --dry-run": DRY_RUN,
    "records import --dry-run bad": DRY_RUN,
    "mappings list": {"file", "mappings"},
    "mappings show": {"name", "type", "reference", "fields", "required", "ignore"},
    "mappings show unknown": set(),
    "mappings check": {"problems"},
    "mappings check problems": {"problems", "problems_total", "problems_truncated", "problem_counts", "duplicate_keys"},
    "unknown command": set(),
    "auth list": {"profiles"},
    "completion": {"shell", "script"},
    "completion unknown shell": set(),
    "help": {"command", "help"},
    "records state missing": set(),
    "records state --forget unknown": set(),
}
PROBLEM = {"row", "field", "problem", "suggestion"}


def documented_keys() -> dict[str, set[str]]:
    """docs/output.md's table: each command row → every key name it gives (success and failure cells)."""
    table: dict[str, set[str]] = {}
    for line in (Path(__file__).parent.parent / "docs" / "output.md").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"\| `([a-z -]+)` \|(.*)\|", line)
        if match:
            assert match[1] not in table, f"docs/output.md has two rows for {match[1]!r}"
            table[match[1]] = set(re.findall(r"`([a-z_]+)`", match[2]))
    return table


DOCUMENTED = documented_keys()


def documented_row(case: str) -> set[str] | None:
    """The row a case's command is documented in: the longest command its name starts with."""
    commands = [command for command in DOCUMENTED if case == command or case.startswith(command + " ")]
    return DOCUMENTED[max(commands, key=len)] if commands else None


@pytest.mark.parametrize("name", list(CASES))
def test_every_command_prints_exactly_one_document(cg, sandbox_env: SandboxHandle, name: str) -> None:
    setup_files()
    args, code = CASES[name]
    document = check(cg(*args, "-o", "json", prints_token=name == "auth token"), code)
    assert set(document) - {"ok"} - (FAILURE if code else set()) == KEYS[name]
    documented = documented_row(name)
    assert documented is not None or name == "unknown command", f"docs/output.md has no row for {name}"
    assert KEYS[name] <= (documented or set()), f"docs/output.md's row for {name} lacks {KEYS[name] - documented}"
    for problem in document.get("problems", []):
        assert set(problem) == PROBLEM
    if name == "records import":
        assert "would_send" not in document and document["sent"] == 1
    if name == "records put 422":
        assert document["errors"] and document["status"] == 422


def test_auth_commands_without_credentials_and_login_logout(cg, sandbox: SandboxHandle, monkeypatch) -> None:
    monkeypatch.setenv("CG_AUTH_URL", sandbox.url)
    monkeypatch.setenv("CG_API_URL", sandbox.url)
    not_logged_in = check(cg("auth", "status", "-o", "json"), 3)
    assert not_logged_in["profile"] == "default"  # the status keys join the error document
    check(cg("auth", "token", "-o", "json"), 2)
    wrong: Callable[[str], Any] = lambda secret: cg(  # noqa: E731
        "auth", "login", "--client-id", CLIENT_ID, "--client-secret-stdin", "-o", "json", input=secret + "\n"
    )
    check(wrong("not-the-secret"), 3)
    logged = check(wrong(SECRET), 0)
    assert logged["stored_urls"]["CG_API_URL"].startswith(sandbox.url)
    check(cg("auth", "logout", "-o", "json"), 0)


def test_cg_output_env_makes_usage_errors_json_too(cg, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_OUTPUT", "json")
    document = check(cg("records", "import", "x.csv", "--config", "X", "--workers", "0"), 2)
    assert "--workers" in document["error"] and "--help" in document["hint"]


def test_sandbox_on_a_busy_port_is_one_document(cg) -> None:
    import socket

    port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        document = check(cg("sandbox", "--port", str(port), "-o", "json"), 2)
    assert "--port 0" in document["hint"]


def test_a_cut_list_says_so(cg, sandbox_env: SandboxHandle) -> None:
    setup_files()
    Path("many.csv").write_text("Account Name,Email\n" + ",x@y.z\n" * 30)
    document = check(cg("records", "import", "many.csv", "--mapping", "accounts", "--dry-run", "-o", "json"), 4)
    assert len(document["problems"]) == 20 and document["problems_truncated"] is True


def test_nested_keys_of_import_check_and_state_documents(cg, sandbox_env: SandboxHandle) -> None:
    setup_files()
    Path("dup.csv").write_text("Account Name,Email\nA,a@x.com\n,b@x.com\nA,c@x.com\n")
    imported = check(cg("records", "import", "dup.csv", "--mapping", "accounts", "--state", "s.db", "-o", "json"), 6)
    assert imported["first_failures"] == [{"row": 2, "line": 3, "error": imported["first_failures"][0]["error"]}]
    assert imported["duplicate_keys"] == 1 and imported["sent"] == 2
    checked = check(cg("mappings", "check", "accounts", "--file", "dup.csv", "-o", "json"), 4)
    assert checked["duplicate_keys"] == {
        "keys": 1,
        "rows": 2,
        "first": [{"key": "Account Name 'a'", "rows": [1, 3], "rows_truncated": False}],
        "first_truncated": False,
    }
    refused = check(cg("records", "import", "good.csv", "dup.csv", "--mapping", "accounts", "-o", "json"), 2)
    assert set(refused) == {"ok"} | FAILURE
    Path("dup2.csv").write_text("Account Name,Email\nA,a@x.com\nA,c@x.com\n")
    error = check(
        cg("records", "import", "dup2.csv", "--mapping", "accounts", "--duplicates", "error", "-o", "json"), 4
    )
    assert error["problems"] == [
        {"row": 1, "field": "Account Name 'a'", "problem": "also on row 2", "suggestion": None}
    ]
    state = check(cg("records", "state", "s.db", "-o", "json"), 0)
    assert set(state) == {"ok", "state", "targets"}
    [target] = state["targets"]
    assert set(target) == {
        "configuration",
        "records_url",
        "client_id",
        "records",
        "may_have_arrived",
        "first_pushed",
        "last_pushed",
    }
    assert target["configuration"] == ACCOUNTS_REF and target["records"] == 1
    listed = check(cg("mappings", "list", "-o", "json"), 0)
    assert [set(m) for m in listed["mappings"]] == [{"name", "type", "reference", "fields"}]


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (("--help",), ""),
        (("records",), "records"),
        (("mappings",), "mappings"),
        (("records", "import", "--help"), "records import"),
        (("auth", "-h"), "auth"),
    ],
)
def test_help_and_a_bare_group_under_json_are_one_document(cg, args: tuple[str, ...], command: str) -> None:
    """As `cg help COMMAND -o json` answers: -o json before or after, CG_OUTPUT too."""
    placements = [("-o", "json", *args), ("--output=json", *args)]
    if " " in command:
        placements.append((*args, "-o", "json"))  # a command takes -o after its name too (a group does not)
    for placed in placements:
        document = check(cg(*placed), 0)
        assert document["command"] == command and document["help"].startswith("Usage: "), placed


def test_version_with_an_unknown_output_is_a_usage_error(cg) -> None:
    result = cg("-o", "xml", "--version")
    assert result.exit_code == 2 and "xml" in result.stderr and result.stdout == ""
    assert check(cg("-o", "json", "--version"), 0)["version"]


def test_the_last_output_option_wins_for_usage_errors_too(cg) -> None:
    """As for every option: `-o json … -o text` is text, `-o text … -o json` one document."""
    text = cg("-o", "json", "records", "import", "x.csv", "--config", "X", "--workers", "0", "-o", "text")
    assert text.exit_code == 2 and text.stdout == "" and "error:" in text.stderr
    check(cg("-o", "text", "records", "import", "x.csv", "--config", "X", "--workers", "0", "-o", "json"), 2)
