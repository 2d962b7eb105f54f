"""Hostile input: malformed options, files and settings across every command.

Each case must exit 2 (or 4 for a validation finding) with one line naming the
problem, no traceback, and no file of the user's changed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ACCOUNTS_REF

PUT = ["records", "put", "--config", ACCOUNTS_REF]
GOOD = ["-f", "Account Name=ACME"]
DRY = ["--dry-run"]


def write(name: str, content: str | bytes) -> Callable[[], None]:
    def setup() -> None:
        Path(name).write_bytes(content.encode() if isinstance(content, str) else content)

    return setup


def fifo(name: str) -> Callable[[], None]:
    return lambda: os.mkfifo(name)


def directory(name: str) -> Callable[[], None]:
    return lambda: Path(name).mkdir()


MAPPING = '[accounts]\nreference = "r"\ntype = "account"\nfields = ["Account Name"]\n'


@dataclass
class Case:
    args: list[str]
    expected: str
    code: int = 2
    stdin: str | None = None
    setup: list[Callable[[], None]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


CASES: dict[str, Case] = {
    # -f
    "-f without =": Case([*PUT, "-f", "Account Name", *DRY], 'has no "="'),
    "-f without a name": Case([*PUT, "-f", "=ACME", *DRY], "has no field name"),
    "-f with a blank name": Case([*PUT, "-f", "  =ACME", *DRY], "has no field name"),
    "-f twice": Case([*PUT, *GOOD, *GOOD, *DRY], "given twice"),
    "no record": Case([*PUT, *DRY], "the record is empty"),
    # --json
    "invalid JSON": Case([*PUT, "--json", "-", *DRY], "invalid JSON at line 1, column 7", stdin='{"a": }'),
    "truncated JSON": Case([*PUT, "--json", "-", *DRY], "invalid JSON", stdin='{"a": "b'),
    "empty JSON input": Case([*PUT, "--json", "-", *DRY], "invalid JSON at line 1, column 1", stdin=""),
    "JSON array": Case([*PUT, "--json", "-", *DRY], "got a list", stdin="[1, 2]"),
    "JSON number": Case([*PUT, "--json", "-", *DRY], "got a int", stdin="42"),
    "JSON string": Case([*PUT, "--json", "-", *DRY], "got a string", stdin='"x"'),
    "JSON null": Case([*PUT, "--json", "-", *DRY], "got null", stdin="null"),
    "nested object value": Case([*PUT, "--json", "-", *DRY], "is an object", stdin='{"A": {"b": 1}}'),
    "list value": Case([*PUT, "--json", "-", *DRY], "is a list", stdin='{"A": [1]}'),
    "deeply nested JSON": Case([*PUT, "--json", "-", *DRY], "nested too deeply", stdin="[" * 100_000),
    "huge JSON array": Case([*PUT, "--json", "-", *DRY], "got a list", stdin="[" + "1," * 2_000_000 + "1]"),
    "raw NUL in JSON": Case([*PUT, "--json", "-", *DRY], "Invalid control character", stdin='{"A": "x\x00"}'),
    "configuration not a string": Case(
        [*PUT, "--json", "-", *DRY], "must be a string", stdin='{"configuration": 1, "record": {"A": "b"}}'
    ),
    "--json missing": Case([*PUT, "--json", "nope.json", *DRY], "does not exist"),
    "--json directory": Case([*PUT, "--json", "d", *DRY], "is a directory", setup=[directory("d")]),
    "--json FIFO": Case([*PUT, "--json", "pipe", *DRY], "is not a regular file", setup=[fifo("pipe")]),
    "--json invalid UTF-8": Case([*PUT, "--json", "r.json", *DRY], "is not UTF-8", setup=[write("r.json", b"\xff")]),
    # settings
    "unknown region (env)": Case([*PUT, *GOOD, *DRY], "unknown region 'mars'", env={"CG_REGION": "mars"}),
    "unknown region (option)": Case(["--region", "moon", *PUT, *GOOD, *DRY], "unknown region 'moon'"),
    "profile ../x": Case(["--profile", "../x", *PUT, *GOOD, *DRY], "invalid profile name"),
    "profile a/b": Case(["--profile", "a/b", "auth", "status"], "invalid profile name"),
    "malformed .env": Case([*PUT, *GOOD, *DRY], ".env, line 1", setup=[write(".env", "=oops\n")]),
    ".env not UTF-8": Case([*PUT, *GOOD, *DRY], "is not UTF-8", setup=[write(".env", b"A=\xff\n")]),
    "--env-file directory": Case(["--env-file", "d", *PUT, *GOOD, *DRY], "is a directory", setup=[directory("d")]),
    "--env-file FIFO": Case(["--env-file", "p", *PUT, *GOOD, *DRY], "not a regular file", setup=[fifo("p")]),
    "http:// to a remote host": Case([*PUT, *GOOD, *DRY], "refused", env={"CG_API_URL": "http://example.com"}),
    "URL with credentials": Case(
        [*PUT, *GOOD, *DRY], "must not contain a user name or password", env={"CG_API_URL": "https://u:p@example.com"}
    ),
    "file:// URL": Case([*PUT, *GOOD, *DRY], "must be an https://", env={"CG_AUTH_URL": "file:///etc/passwd"}),
    "CG_OUTPUT=yaml": Case([*PUT, *GOOD, *DRY], "unknown output format", env={"CG_OUTPUT": "yaml"}),
    "--output yaml": Case([*PUT, *GOOD, "--output", "yaml", *DRY], "unknown output format"),
    "--timeout 0": Case([*PUT, *GOOD, "--timeout", "0"], "Invalid value for '--timeout'"),
    "--retries -1": Case([*PUT, *GOOD, "--retries", "-1"], "Invalid value for '--retries'"),
    "unknown option": Case([*PUT, *GOOD, "--colour"], "No such option: --colour"),
    # mapping files
    "TOML syntax": Case(["mappings", "list"], "line 1", setup=[write("cg-mappings.toml", "[accounts\n")]),
    "no reference": Case(
        ["mappings", "list"], "missing reference", setup=[write("cg-mappings.toml", '[a]\ntype = "account"\n')]
    ),
    "unknown type": Case(
        ["mappings", "list"],
        "use one of account",
        setup=[write("cg-mappings.toml", '[a]\nreference = "r"\ntype = "x"\n')],
    ),
    "fields not a list": Case(
        ["mappings", "list"],
        "fields must be a list of strings",
        setup=[write("cg-mappings.toml", '[a]\nreference = "r"\ntype = "account"\nfields = 3\n')],
    ),
    "duplicate headings": Case(
        ["mappings", "list"],
        "duplicate heading",
        setup=[write("cg-mappings.toml", '[a]\nreference = "r"\ntype = "account"\nfields = ["A", "A"]\n')],
    ),
    "escape codes in a mapping file": Case(
        ["mappings", "list"],
        "\\x1b[2J",
        setup=[write("cg-mappings.toml", '[a]\nreference = "r"\ntype = "\\u001b[2J"\n')],
    ),
    "mapping file is a directory": Case(
        ["mappings", "list", "--mappings-file", "d"], "is a directory", setup=[directory("d")]
    ),
    "unknown mapping": Case(
        ["mappings", "show", "nope"], "no mapping named 'nope'", setup=[write("cg-mappings.toml", MAPPING)]
    ),
    "put --mapping unknown": Case(
        ["records", "put", "--mapping", "nope", *GOOD, *DRY],
        "no mapping named",
        setup=[write("cg-mappings.toml", MAPPING)],
    ),
    "put --mapping with a typo": Case(
        ["records", "put", "--mapping", "accounts", "-f", "Acount Name=x", *DRY],
        "nothing was sent",
        code=4,
        setup=[write("cg-mappings.toml", MAPPING)],
    ),
    # record files
    "empty CSV": Case(["records", "import", "a.csv", "-c", "r", *DRY], "is empty", setup=[write("a.csv", "")]),
    "CSV duplicate headers": Case(
        ["records", "import", "a.csv", "-c", "r", *DRY], "appears twice", setup=[write("a.csv", "A,B,A\n1,2,3\n")]
    ),
    "CSV empty header": Case(
        ["records", "import", "a.csv", "-c", "r", *DRY], "has no heading", setup=[write("a.csv", "A,,B\n")]
    ),
    "CSV NUL byte": Case(
        ["records", "import", "a.csv", "-c", "r", *DRY], "NUL byte", setup=[write("a.csv", b"A\n\x00\n")]
    ),
    "CSV invalid UTF-8": Case(
        ["records", "import", "a.csv", "-c", "r", *DRY],
        "row at line 2 cannot be read as UTF-8 (byte 2)",
        setup=[write("a.csv", b"A\n\xff\xfe\xfd\n")],
    ),
    "CSV UTF-16 without a BOM": Case(
        ["records", "import", "a.csv", "-c", "r", *DRY],
        "no byte order mark",  # and the hint names --encoding utf-16-le
        setup=[write("a.csv", "A,B\n1,2\n".encode("utf-16-le"))],
    ),
    "import a FIFO": Case(["records", "import", "p.csv", "-c", "r", *DRY], "not a regular file", setup=[fifo("p.csv")]),
    "import a directory": Case(
        ["records", "import", "d.csv", "-c", "r", *DRY], "is a directory", setup=[directory("d.csv")]
    ),
    "import missing file": Case(["records", "import", "nope.csv", "-c", "r", *DRY], "does not exist"),
    "stdin without --format": Case(["records", "import", "-", "-c", "r", *DRY], "needs --format", stdin="A\n1\n"),
    "--format xml": Case(
        ["records", "import", "a.csv", "-c", "r", "--format", "xml", *DRY],
        "unknown format",
        setup=[write("a.csv", "A\n1\n")],
    ),
    "unknown extension": Case(
        ["records", "import", "a.xlsx", "-c", "r", *DRY], "cannot tell the format", setup=[write("a.xlsx", "A\n")]
    ),
    "ragged CSV rows": Case(
        ["records", "import", "a.csv", "-c", "r", *DRY], "would fail", code=4, setup=[write("a.csv", "A,B\n1\n1,2,3\n")]
    ),
    "bad JSONL lines": Case(
        ["records", "import", "a.jsonl", "-c", "r", *DRY],
        "would fail",
        code=4,
        setup=[write("a.jsonl", 'nope\n[1]\n{"A": {"b": 1}}\n')],
    ),
    "--workers 0": Case(
        ["records", "import", "a.csv", "-c", "r", "--workers", "0"],
        "Invalid value for '--workers'",
        setup=[write("a.csv", "A\n1\n")],
    ),
    "--rate 0": Case(
        ["records", "import", "a.csv", "-c", "r", "--rate", "0"],
        "Invalid value for '--rate'",
        setup=[write("a.csv", "A\n1\n")],
    ),
    "header check": Case(
        ["records", "import", "a.csv", "--mapping", "accounts", *DRY],
        "does not know",
        code=4,
        setup=[write("cg-mappings.toml", MAPPING), write("a.csv", "Acount Name\nx\n")],
    ),
    # auth and sandbox
    "login: empty secret on stdin": Case(
        ["auth", "login", "--client-id", "x", "--client-secret-stdin"],
        "stdin held no secret",
        stdin="\n",
        env={"CG_REGION": "eu"},
    ),
    "login: no region": Case(
        ["auth", "login", "--client-id", "x", "--client-secret-stdin"],
        "no region set",
        stdin="s\n",
        env={"CG_REGION": ""},
    ),
    "sandbox --client without colon": Case(["sandbox", "--port", "0", "--client", "nocolon"], "ID:SECRET"),
    "sandbox on a public address": Case(["sandbox", "--host", "0.0.0.0", "--port", "0"], "loopback only"),
}


def snapshot(root: Path) -> dict[str, str]:
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.exists():
            files[str(path)] = "not a file"
    return files


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input(cg, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    monkeypatch.setenv("CG_REGION", "eu")
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    for setup in case.setup:
        setup()
    before = snapshot(Path.cwd())
    result = cg(*case.args, input=case.stdin)
    assert result.exit_code == case.code, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.lower().startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert case.expected in result.stderr, result.stderr
    assert "\x1b" not in result.output
    assert snapshot(Path.cwd()) == before
