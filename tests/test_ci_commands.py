"""Nothing the GitHub Actions runner obeys but cg's own commands, whatever the files, mappings and servers say.

The runner reads every line a step prints (stdout and stderr) with two parsers: the `::name props::data` form
after leading white space, and the legacy `##[name props]data` form anywhere in the line. Both are ported here
from the runner's ActionCommand.TryParseV2 / TryParse, with its stop-commands state, and every line cg prints
for hostile inputs is run through them. The Azure Pipelines agent's `##vso[area.event props]data`, anywhere in
a line, is ported beside them (its case ignored, the stricter reading): a CRM export read in either CI is safe.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cg_cli.output import render

REGISTERED = {
    "stop-commands", "internal-set-repo-path", "set-env", "set-output", "save-state", "add-path", "add-mask",
    "add-matcher", "remove-matcher", "warning", "error", "notice", "debug", "group", "endgroup", "echo",
}  # fmt: skip


class Command(NamedTuple):
    name: str
    properties: dict[str, str]
    data: str
    line: str


def _unescape(text: str, *, property_value: bool) -> str:
    for escaped, plain in (("%0D", "\r"), ("%0A", "\n"), *((("%3A", ":"), ("%2C", ",")) if property_value else ())):
        text = text.replace(escaped, plain)
    return text.replace("%25", "%")


def _properties(text: str, separator: str) -> dict[str, str]:
    found = {}
    for item in (part for part in text.split(separator) if part):
        pair = [piece for piece in item.split("=", 1) if piece]  # .NET's Split(count: 2, RemoveEmptyEntries)
        if len(pair) == 2:
            found[pair[0]] = _unescape(pair[1], property_value=separator == ",")
    return found


def parse_v2(line: str, registered: set[str]) -> Command | None:
    """`::name k=v,k=v::data`, after leading white space (TryParseV2)."""
    message = line.lstrip()
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    info = message[2:end]
    space = info.find(" ")
    name = info if space < 0 else info[:space]
    if name not in registered:
        return None
    properties = _properties(info[space + 1 :].strip(), ",") if space > 0 else {}
    return Command(name, properties, _unescape(message[end + 2 :], property_value=False), line)


def parse_legacy(line: str, registered: set[str]) -> Command | None:
    """`##[name k=v;k=v]data` anywhere in the line (TryParse)."""
    start = line.find("##[")
    if start < 0:
        return None
    end = line.find("]", start)
    if end < 0:
        return None
    info = line[start + 3 : end]
    space = info.find(" ")
    name = info if space < 0 else info[:space]
    if name not in registered:
        return None
    properties = _properties(info[space + 1 :], ";") if space > 0 else {}
    return Command(name, properties, _unescape(line[end + 1 :], property_value=False), line)


def parse_azure(line: str) -> Command | None:
    """`##vso[area.event k=v;k=v]data` anywhere in the line (the Azure Pipelines agent's Command.TryParse)."""
    start = line.lower().find("##vso[")
    end = line.find("]", start)
    if start < 0 or end < 0:
        return None
    info = line[start + 6 : end]
    name = info.split(" ", 1)[0]
    if len([part for part in name.split(".") if part]) != 2:
        return None
    properties = _properties(info[len(name) + 1 :], ";") if " " in info else {}
    return Command(name, properties, line[end + 1 :], line)


def obeyed(output: str) -> list[Command]:
    """The commands the runner would carry out for these lines, stop-commands and its resume token included."""
    registered = set(REGISTERED)
    stop_token: str | None = None
    done = []
    for line in re.split(r"\r\n|\r|\n", output):  # where .NET's ReadLine ends a line
        azure = parse_azure(line)
        if azure is not None:
            done.append(azure)
        command = parse_v2(line, registered) or parse_legacy(line, registered)
        if command is None:
            continue
        if stop_token is not None:
            if command.name == stop_token:
                stop_token = None
            continue
        if command.name == "stop-commands":
            stop_token = command.data
            registered.add(stop_token)
        done.append(command)
    return done


def test_the_ported_parsers_obey_what_the_runner_obeys() -> None:
    """The port itself: both forms found, legacy anywhere, `::` only at a line's start, stop and resume."""
    assert [c.name for c in obeyed("text ##[add-mask]x")] == ["add-mask"]
    assert [c.name for c in obeyed("  ::warning file=a%2Cb::x")] == ["warning"]
    assert obeyed("x ::warning::y") == [] and obeyed("##[unknown]x") == [] and obeyed("::error") == []
    assert [c.name for c in obeyed("x ##VSO[task.setvariable variable=a]b")] == ["task.setvariable"]
    assert obeyed("##vso[nodot]x") == [] and obeyed("##vso[task.setvariable") == []
    assert obeyed("::warning file=a%2Cb,line=3::m%0Ax")[0].properties == {"file": "a,b", "line": "3"}
    assert [c.name for c in obeyed("::stop-commands::t\n::error::hidden\n##[t]\n::notice::back")] == [
        "stop-commands",
        "notice",
    ]


HOSTILE = "##[stop-commands]tok ##[add-mask]secret ::add-mask::x ##vso[task.setvariable variable=a]b"
HOSTILE_NAME = "::warning::x ##[add-mask]f.csv"
HOSTILE_HEADING = ["Account Name", "##[stop-commands]tok", "::add-mask::hdr", " ::error::lead", "##[error x=1]e"]


def assert_only_own_commands(output: str, file: str | None = None) -> None:
    """Every command the runner would obey is one of cg's annotations on `file`; nothing else, no stop."""
    for command in obeyed(output):
        assert command.name in ("error", "notice"), command
        assert command.line.startswith(f"::{command.name} file="), command
        if file is not None:
            assert command.properties["file"] == file, command


@pytest.mark.parametrize("output", ["text", "json"])
def test_mappings_check_with_hostile_headings_and_file_name(cg, server: Any, github: Path, output: str) -> None:
    server()
    Path(HOSTILE_NAME).write_text(",".join(HOSTILE_HEADING) + "\nA,1,2,3,4\n")
    result = cg("mappings", "check", "accounts", "--file", HOSTILE_NAME, "-o", output)
    assert result.exit_code == 4, result.output
    assert_only_own_commands(result.output, HOSTILE_NAME)
    assert len(obeyed(result.output)) == len(HOSTILE_HEADING) - 1  # one annotation per unknown heading
    if output == "json":
        assert json.loads(result.stdout)["problems"][0]["field"] == HOSTILE_HEADING[1]  # the same text to a reader


@pytest.mark.parametrize("output", ["text", "json"])
def test_import_with_hostile_server_text(cg, server: Any, github: Path, output: str) -> None:
    sandbox = server()
    Path(HOSTILE_NAME).write_text("Account Name,Email\nA,a@y.io\nB,b@y.io\n")
    body = {"message": HOSTILE, "errors": {HOSTILE: [HOSTILE, "::set-output name=x::y\n::add-path::/tmp"]}}
    sandbox.fault(status=422, body=json.dumps(body), count=1)
    result = cg("records", "import", HOSTILE_NAME, "--mapping", "accounts", "--workers", "1", "-o", output)
    assert result.exit_code == 6, result.output
    assert_only_own_commands(result.output, HOSTILE_NAME)
    assert [c.name for c in obeyed(result.output)] == ["error"]


def test_records_put_with_hostile_server_text(cg, server: Any, github: Path) -> None:
    sandbox = server()
    sandbox.fault(status=422, body=json.dumps({"message": HOSTILE, "errors": {HOSTILE: [HOSTILE]}}), count=1)
    result = cg("records", "put", "--mapping", "accounts", "-f", "Account Name=A")
    assert result.exit_code == 4, result.output
    assert HOSTILE.split()[0][3:] in result.output  # the server's text is shown ...
    assert obeyed(result.output) == []  # ... and obeyed by nothing


def test_hostile_mapping_names_and_usage_errors(cg, server: Any, github: Path) -> None:
    server()
    Path("cg-mappings.toml").write_text(
        '["##[add-mask]m"]\nreference = "::add-mask::r"\ntype = "account"\nfields = ["Account Name"]\n'
    )
    for args in (
        ("mappings", "list"),
        ("mappings", "show", "##[add-mask]m"),
        ("mappings", "check", "::add-mask::nope"),
        ("mappings", "check", "##[add-mask]nope"),
        ("records", "import", "a.csv", "--workers", "##[add-mask]w"),
        ("records", "import", "::add-mask::missing.csv", "--mapping", "##[add-mask]m"),
        ("records", "import", "##[add-mask]\n::add-mask::x.csv", "--mapping", "##[add-mask]m"),
    ):
        for output in ("text", "json"):
            result = cg(*args, "-o", output)
            assert obeyed(result.output) == [], (args, result.output)


PIECES = [
    "#",
    "##[",
    "##vso[",
    "vso",
    "task.setvariable",
    "[",
    "]",
    ":",
    "::",
    " ",
    "\t",
    "\r",
    "\n",
    "\x0b",
    "\u2028",
    "a",
    "add-mask",
    "error",
    "stop-commands",
]


@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_no_text_survives_defusing_as_a_command(text: str) -> None:
    assert obeyed(render.defuse(text)) == []
    assert obeyed(render.safe(text, one_line=False)) == [] and obeyed(render.safe(text)) == []


def test_hostile_stdin_encodings_and_carriage_returns(cg, server: Any, github: Path) -> None:
    server()
    heading = 'Account Name,##[add-mask]\u00e9,"x\r::add-mask::y"\n'
    Path("latin.csv").write_bytes((heading + "A,1,2\n").encode("latin-1"))
    for args, stdin in (
        (("mappings", "check", "accounts", "--file", "latin.csv", "--encoding", "latin-1"), None),
        (("mappings", "check", "accounts", "--file", "-"), heading + "A,1,2\n"),
        (("records", "import", "-", "--mapping", "accounts", "--junit", "r.xml"), heading + "A,1,2\n"),
        (("records", "import", "x\r::add-mask::y.csv", "--mapping", "accounts"), None),
        (("records", "import", "a.csv", "--workers", "\r::add-mask::y"), None),
    ):
        for output in ("text", "json"):
            result = cg(*args, "-o", output, input=stdin)
            assert_only_own_commands(result.output)
            assert not [c for c in obeyed(result.output) if c.name != "error"], (args, result.output)


def test_the_junit_hostile_inputs_in_github_mode(cg, server: Any, github: Path) -> None:
    """The inputs that broke the JUnit report (U+FFFE heading, lone surrogate key, control character in the file
    name), with workflow commands mixed in: cg's annotations are all the runner obeys."""
    server()
    name = "ex\x01port ##[add-mask]x.csv"
    Path(name).write_text("Account Name,Em\ufffeail,##[stop-commands]t\nA,b,c\n", encoding="utf-8")
    Path("a.jsonl").write_text('{"Account Name": "A", "\\udfff::add-mask::x": "x", "##[add-mask]\\udfff": 1}\n')
    for args in (
        ("mappings", "check", "accounts", "--file", name, "--junit", "c.xml"),
        ("mappings", "check", "accounts", "--file", "a.jsonl", "--format", "jsonl"),
        ("records", "import", "a.jsonl", "--mapping", "accounts", "--junit", "r.xml", "--restart"),
        ("records", "import", name, "--mapping", "accounts", "--restart"),
    ):
        for output in ("text", "json"):
            result = cg(*args, "-o", output)
            assert result.exit_code in (4, 6), result.output
            assert_only_own_commands(result.output)
            assert obeyed(result.output), result.output  # the annotations themselves are there
