"""Values at the edges (issue 20, item 7): encodings round-trip through the failed file, a legacy
`--encoding` never sends mojibake, and values that cannot be sent (lone surrogates, a BOM inside a value,
numbers past Python's digit limit) fail their row while the rest of the file goes on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ACCOUNTS_REF

# --- item 7: values round-trip --------------------------------------------------------------

EU_ROWS = [("Café Noir", "c@x.io"), ("Zoë", "bad"), ("Ærø", "a@x.io")]


def write_rows(path: str, rows: list[tuple[str, str]], encoding: str, header: str = "Account Name,Email") -> None:
    Path(path).write_bytes("\n".join([header, *(",".join(r) for r in rows), ""]).encode(encoding))


def arrived(sandbox: Any) -> list[str]:
    return sorted(r["record"]["Account Name"] for r in sandbox.records())


def test_a_cp1252_failed_file_reimports_with_the_same_options_to_the_same_values(cg, server: Any) -> None:
    sandbox = server()
    write_rows("eu.csv", EU_ROWS, "cp1252")
    first = cg("records", "import", "eu.csv", "--mapping", "accounts", "--encoding", "cp1252")
    assert first.exit_code == 6, first.output
    failed = Path("eu.failed.csv").read_bytes()
    assert failed.decode("cp1252").splitlines()[1].startswith("Zoë,bad,2,")  # the input's encoding
    Path("eu.failed.csv").write_bytes(failed.replace(b",bad,", b",z@x.io,"))
    again = cg("records", "import", "eu.failed.csv", "--mapping", "accounts", "--encoding", "cp1252")
    assert again.exit_code == 0, again.output
    assert arrived(sandbox) == sorted(["Café Noir", "Zoë", "Ærø"])


def test_a_utf16_failed_file_keeps_its_byte_order_mark_and_reimports(cg, server: Any) -> None:
    sandbox = server()
    write_rows("u16.csv", EU_ROWS, "utf-16")
    assert cg("records", "import", "u16.csv", "--mapping", "accounts").exit_code == 6
    failed = Path("u16.failed.csv").read_bytes()
    assert failed[:2] in (b"\xff\xfe", b"\xfe\xff")
    Path("u16.failed.csv").write_bytes(failed.decode("utf-16").replace(",bad,", ",z@x.io,").encode("utf-16"))
    for options in ([], ["--encoding", "utf-16"]):
        Path("u16.failed.csv.cg-journal").unlink(missing_ok=True)
        again = cg("records", "import", "u16.failed.csv", "--mapping", "accounts", *options)
        assert again.exit_code == 0, again.output
    assert arrived(sandbox) == sorted(["Café Noir", "Zoë", "Zoë", "Ærø"])


def test_a_utf8_input_with_a_bom_keeps_it_in_the_failed_file(cg, server: Any) -> None:
    server()
    Path("b.csv").write_bytes("\ufeffAccount Name,Email\nZoë,bad\n".encode())
    assert cg("records", "import", "b.csv", "--mapping", "accounts").exit_code == 6
    assert Path("b.failed.csv").read_bytes().startswith("\ufeffAccount Name,Email,_row,_error\r\nZoë,bad".encode())


def test_a_failed_file_switches_to_utf8_with_a_bom_when_a_character_does_not_fit(tmp_path: Path) -> None:
    """Rows already written are carried over: the whole file re-imports to the same values."""
    from cg_cli.importing.failed_file import FailedFile
    from cg_cli.records.readers import Row

    path = tmp_path / "f.csv"
    failed = FailedFile(path, "csv", ["Account Name"], append=False, encoding="latin-1")
    failed.write(Row(1, {}, ["Zoë"]), "no")
    assert path.read_bytes() == "Account Name,_row,_error\r\nZoë,1,no\r\n".encode("latin-1")
    path.chmod(0o640)
    failed.write(Row(2, {}, ["Ærø"]), '422 {"Account Name": ["not allowed: ✓ €"]}')
    failed.write(Row(3, {}, ["Café"]), "no")
    failed.close()
    text = path.read_bytes().decode("utf-8")
    assert text.startswith("\ufeffAccount Name,_row,_error\r\nZoë,1,no\r\nÆrø,2,") and "✓ €" in text
    assert text.endswith("Café,3,no\r\n")
    assert path.stat().st_mode & 0o777 == 0o640 and not list(tmp_path.glob(".f.csv.*"))
    resumed = FailedFile(path, "csv", ["Account Name"], append=True, encoding="latin-1")
    resumed.write(Row(4, {}, ["Œuvre"]), "no")  # not latin-1: fine, the file is UTF-8 already
    resumed.close()
    assert path.read_bytes().decode("utf-8").count("\ufeff") == 1 and "Œuvre,4,no" in path.read_text("utf-8")


def test_a_bom_wins_over_encoding_with_a_notice(cg, server: Any) -> None:
    sandbox = server()
    Path("b.csv").write_bytes("\ufeffAccount Name,Email\nZoë,z@x.io\n".encode())
    result = cg("records", "import", "b.csv", "--mapping", "accounts", "--encoding", "cp1252")
    assert result.exit_code == 0, result.output
    assert "byte order mark" in result.stderr and "--encoding cp1252 ignored" in result.stderr
    assert arrived(sandbox) == ["Zoë"]


@pytest.mark.parametrize(
    ("encoding", "sample"), [("cp1252", "'Ã«' would be sent for 'ë'"), ("latin-1", "'Ã«' would be sent for 'ë'")]
)
def test_a_legacy_encoding_on_utf8_bytes_is_refused_before_sending(cg, server: Any, encoding, sample) -> None:
    sandbox = server()
    write_rows("u8.csv", [("ACME", "a@x.io"), ("Zoë", "z@x.io")], "utf-8")
    result = cg("records", "import", "u8.csv", "--mapping", "accounts", "--encoding", encoding)
    assert result.exit_code == 2, result.output
    assert sample in result.stderr and "line 3" in result.stderr
    assert sandbox.records() == [] and not Path("u8.csv.cg-journal").exists()


def test_a_legacy_encoding_on_utf8_from_stdin_fails_those_rows(cg, server: Any) -> None:
    """stdin cannot be read twice: each row that would be sent garbled fails, the others go."""
    sandbox = server()
    data = "Account Name,Email\nACME,a@x.io\nZoë,z@x.io\n"
    result = cg("records", "import", "-", "--format", "csv", "--mapping", "accounts", "--encoding", "cp1252",
                "-o", "json", input=data)  # fmt: skip
    assert result.exit_code == 6, result.output
    document = json.loads(result.stdout)
    assert document["sent"] == 1 and document["failed"] == 1
    assert "'Ã«' would be sent for 'ë'" in document["first_failures"][0]["error"]
    assert arrived(sandbox) == ["ACME"]


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "utf-8-sig", "utf_8"])
def test_every_name_of_utf8_reads_utf8(cg, server: Any, encoding: str) -> None:
    sandbox = server()
    write_rows("u8.csv", [("Zoë", "z@x.io")], "utf-8")
    assert cg("records", "import", "u8.csv", "--mapping", "accounts", "--encoding", encoding).exit_code == 0
    assert arrived(sandbox) == ["Zoë"]


def test_a_legacy_file_that_is_not_utf8_is_read_as_asked(cg, server: Any) -> None:
    sandbox = server()
    write_rows("l.csv", [("Zoë", "z@x.io")], "latin-1")
    assert cg("records", "import", "l.csv", "--mapping", "accounts", "--encoding", "latin-1").exit_code == 0
    assert arrived(sandbox) == ["Zoë"]


def test_utf16_without_a_bom_is_exit_2_with_a_hint(cg, server: Any) -> None:
    sandbox = server()
    write_rows("u16.csv", [("Zoë", "z@x.io")], "utf-16-le")
    for options in ([], ["--encoding", "utf-16"]):
        result = cg("records", "import", "u16.csv", "--mapping", "accounts", *options)
        assert result.exit_code == 2, result.output
        assert "--encoding utf-16-le" in result.stderr
    assert sandbox.records() == []
    piped = cg("records", "import", "-", "--format", "csv", "--mapping", "accounts", input=Path("u16.csv").read_bytes())
    assert piped.exit_code == 2 and "stdin has no byte order mark" in piped.stderr, piped.output
    done = cg("records", "import", "u16.csv", "--mapping", "accounts", "--encoding", "utf-16-le")
    assert done.exit_code == 0, done.output
    assert arrived(sandbox) == ["Zoë"]


ODD_JSONL = [
    ('{"Account Name": "\\ud800"}', "lone surrogate"),
    ('{"Account Name": "A", "First Name": ' + "9" * 5000 + "}", "digits"),
    ('{"Account Name": "\\ufeffB"}', "byte order mark"),
    ('{"Account Name": "B\ufeff"}', "byte order mark"),
]


@pytest.mark.parametrize(("line", "error"), ODD_JSONL)
@pytest.mark.parametrize("source", ["file", "stdin"])
@pytest.mark.parametrize("target", [["--config", "acc-ref"], ["--mapping", "accounts"]])
def test_an_odd_jsonl_value_fails_its_row_and_the_rest_goes_on(cg, server: Any, line, error, source, target) -> None:
    """With a mapping the value is an identity key: the duplicate index met it first (exit 1 before)."""
    sandbox = server()
    data = "\n".join(['{"Account Name": "First"}', line, '{"Account Name": "Last"}', ""])
    Path("o.jsonl").write_text(data)
    where = ["o.jsonl"] if source == "file" else ["-", "--format", "jsonl"]
    result = cg("records", "import", *where, *target, "-o", "json", input=data)
    assert result.exit_code == 6, result.output
    document = json.loads(result.stdout)  # exactly one JSON document
    assert document["sent"] == 2 and document["failed"] == 1
    assert error in document["first_failures"][0]["error"]
    assert arrived(sandbox) == ["First", "Last"]
    failed = Path("o.failed.jsonl" if source == "file" else "stdin.failed.jsonl").read_text("utf-8-sig")
    assert json.loads(failed)["_row"] == 2


def test_a_lone_surrogate_row_reimports_from_the_failed_file_as_it_was(cg, server: Any) -> None:
    server()
    Path("o.jsonl").write_text('{"Account Name": "\\ud800", "Email": "x@y.z"}\n')
    assert cg("records", "import", "o.jsonl", "--config", "acc-ref").exit_code == 6
    failed = Path("o.failed.jsonl").read_bytes()
    assert json.loads(failed)["Account Name"] == "\ud800"  # written as an escape, the same value again
    assert cg("records", "import", "o.failed.jsonl", "--config", "acc-ref").exit_code == 6


@pytest.mark.parametrize(("body", "error"), [
    ('{"Account Name": "A", "Score": ' + "9" * 5000 + "}", "more than 4300 digits"),
    ('{"Account Name": "\\udc80"}', "lone surrogate"),
])  # fmt: skip
def test_records_put_refuses_an_odd_json_value(cg, sandbox_env: Any, body: str, error: str) -> None:
    Path("r.json").write_text(body)
    for source, piped in (("r.json", None), ("-", body)):
        result = cg("records", "put", "--config", "acc-ref", "--json", source, "-o", "json", input=piped)
        assert result.exit_code == 2, result.output
        assert error in json.loads(result.stdout)["error"]
    assert sandbox_env.records() == []


def test_a_jsonl_rename_onto_a_present_key_is_refused_like_a_csv_header(cg, server: Any) -> None:
    """Refused in the pre-flight read of a file: exit 2, nothing sent, no value dropped silently."""
    sandbox = server()
    Path("r.jsonl").write_text('{"Company": "C"}\n{"Company": "A", "Account Name": "B"}\n')
    result = cg("records", "import", "r.jsonl", "--config", "acc-ref", "--rename", "Company=Account Name")
    assert result.exit_code == 2, result.output
    assert "r.jsonl, line 2: keys 'Company' and 'Account Name' both become 'Account Name'" in result.stderr
    assert sandbox.records() == [] and not Path("r.jsonl.cg-journal").exists()
    Path("m.csv").write_text("Company,Account Name\nA,B\n")  # the CSV refusal it matches
    csv_result = cg("records", "import", "m.csv", "--config", "acc-ref", "--rename", "Company=Account Name")
    assert csv_result.exit_code == 2
    assert "columns 'Company' and 'Account Name' both become 'Account Name'" in csv_result.stderr


def test_a_jsonl_rename_onto_a_present_key_on_stdin_stops_there(cg, server: Any) -> None:
    """stdin is read once: the run stops at that line (exit 2, resumable), as at a broken CSV line."""
    sandbox = server()
    data = '{"Company": "C"}\n{"Company": "A", "Account Name": "B"}\n{"Company": "D"}\n'
    result = cg("records", "import", "-", "--format", "jsonl", "--config", "acc-ref", "--rename",
                "Company=Account Name", "--workers", "1", input=data)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "-, line 2: keys 'Company' and 'Account Name' both become" in result.stderr
    assert "D" not in arrived(sandbox) and "A" not in arrived(sandbox) and "B" not in arrived(sandbox)


@pytest.mark.parametrize("cell", ["\ufeffB", "B\ufeff", "\ufeffAccount Name"])
def test_a_bom_inside_a_csv_is_never_sent(cg, server: Any, cell: str) -> None:
    """The header of a second file joined with `cat` is a row starting with a BOM: it fails, never sent."""
    sandbox = server()
    Path("a.csv").write_bytes(f"Account Name\nA\n{cell}\nC\n".encode())
    result = cg("records", "import", "a.csv", "--mapping", "accounts")
    assert result.exit_code == 6, result.output
    assert arrived(sandbox) == ["A", "C"]
    assert "byte order mark" in Path("a.failed.csv").read_text("utf-8")


def test_a_bom_inside_a_csv_header_is_refused(cg, server: Any) -> None:
    sandbox = server()
    Path("a.csv").write_bytes("Account Name,\ufeffEmail\nA,a@x.io\n".encode())
    result = cg("records", "import", "a.csv", "--config", "acc-ref")
    assert result.exit_code == 2 and "byte order mark" in result.stderr, result.output
    assert sandbox.records() == []


def test_a_server_message_cp1252_cannot_hold_turns_the_failed_file_utf8_and_it_reimports(
    cg, sandbox_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 422's message (✓, not in cp1252) goes in `_error`; the values still read back the same."""
    from tests.hostile import HostileServer, respond

    body = json.dumps({"message": "Refusé ✓", "errors": {"record.Account Name": ["nicht erlaubt ✓"]}}).encode()
    rows = [("Café Noir", "c@x.io"), ("Zoë", "z@x.io")]
    write_rows("eu.csv", rows, "cp1252")
    with HostileServer(respond("422 Unprocessable Entity", body)) as hostile:
        monkeypatch.setenv("CG_API_URL", hostile.url)
        first = cg("records", "import", "eu.csv", "--config", "acc-ref", "--encoding", "cp1252", "--workers", "1")
    assert first.exit_code == 6, first.output
    failed = Path("eu.failed.csv").read_bytes()
    assert failed.startswith(b"\xef\xbb\xbf") and "✓" in failed.decode("utf-8")
    monkeypatch.setenv("CG_API_URL", sandbox_env.url)
    again = cg("records", "import", "eu.failed.csv", "--config", ACCOUNTS_REF, "--encoding", "cp1252")
    assert again.exit_code == 0, again.output
    assert "--encoding cp1252 ignored" in again.stderr
    assert arrived(sandbox_env) == sorted(name for name, _ in rows)


def test_a_failed_file_behind_a_symlink_stays_a_symlink_when_it_turns_utf8(tmp_path: Path) -> None:
    from cg_cli.importing.failed_file import FailedFile
    from cg_cli.records.readers import Row

    real, link = tmp_path / "real.csv", tmp_path / "link.csv"
    link.symlink_to(real)
    failed = FailedFile(link, "csv", ["Account Name"], append=False, encoding="cp1252")
    failed.write(Row(1, {}, ["Zoë"]), "no")
    failed.write(Row(2, {}, ["B"]), "✓")
    failed.close()
    assert link.is_symlink()
    assert real.read_bytes().decode("utf-8") == "\ufeffAccount Name,_row,_error\r\nZoë,1,no\r\nB,2,✓\r\n"


# --- the round trip, as a property ------------------------------------------------------------

CODECS = ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]
CELL = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufeff\r"), max_size=12)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    codec=st.sampled_from(CODECS),
    rows=st.lists(st.tuples(CELL, CELL), min_size=1, max_size=6),
    error=st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
)
def test_a_failed_file_reads_back_to_the_values_it_was_given(tmp_path: Path, codec: str, rows, error: str) -> None:
    """Whatever the values and the error text, the failed file read with the input's options gives the same
    cells: in the input's encoding when they fit, else UTF-8 with a BOM that wins over --encoding."""
    import csv

    from cg_cli.importing.failed_file import FailedFile
    from cg_cli.records.readers import ReadOptions, RecordFile, Row

    fitting = [r for r in rows if all(_fits(cell, codec) for cell in r)]  # values come from a file in `codec`
    if not fitting:
        return
    path = tmp_path / f"f-{codec}.csv"
    path.unlink(missing_ok=True)
    failed = FailedFile(path, "csv", ["A", "B"], append=False, encoding=codec)
    for number, cells in enumerate(fitting, start=1):
        failed.write(Row(number, {}, list(cells)), error)
    failed.close()
    encoding = None if codec.startswith("utf-8") else codec
    with RecordFile(str(path), options=ReadOptions(encoding=encoding, delimiter=",")) as records:
        back = [(row.original[0], row.original[1], row.original[3]) for row in records if row.error is None]
    # A value the reader fails as mojibake (its legacy bytes are all UTF-8) comes back as those bytes meant it.
    meant = [(_as_meant(a, codec), _as_meant(b, codec)) for a, b in fitting]
    assert back == [(a, b, error.replace("\x00", "\\x00")) for a, b in meant]  # a NUL would refuse the file
    with path.open(encoding="utf-8-sig" if path.read_bytes()[:3] == b"\xef\xbb\xbf" else codec, newline="") as f:
        assert [tuple(r[:2]) for r in list(csv.reader(f))[1:]] == [tuple(c) for c in meant]  # a csv peer agrees


def _as_meant(cell: str, codec: str) -> str:
    if codec.startswith("utf") or cell.isascii():
        return cell
    try:
        return cell.encode(codec).decode("utf-8")
    except UnicodeDecodeError:
        return cell


def _fits(text: str, codec: str) -> bool:
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    codec=st.sampled_from(CODECS),
    records=st.lists(st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=8), max_size=3), min_size=1),
    error=st.text(max_size=20),
)
def test_a_jsonl_failed_file_reads_back_to_the_same_objects(tmp_path: Path, codec: str, records, error: str) -> None:
    """Lone surrogates included: what does not fit the encoding is written as a JSON escape."""
    from cg_cli.importing.failed_file import FailedFile
    from cg_cli.records.readers import ReadOptions, RecordFile, Row

    records = [r for r in records if not set(r) & {"_row", "_error", "_status"}]
    path = tmp_path / f"f-{codec}.jsonl"
    path.unlink(missing_ok=True)
    failed = FailedFile(path, "jsonl", None, append=False, encoding=codec)
    for number, record in enumerate(records, start=1):
        failed.write(Row(number, {}, dict(record)), error)
    failed.close()
    if not records:
        return
    encoding = None if codec.startswith("utf-8") else codec
    with RecordFile(str(path), options=ReadOptions(encoding=encoding)) as rows:
        back = [row.original for row in rows]
    assert [{k: v for k, v in b.items() if k not in ("_row", "_error")} for b in back] == records
    assert all(b["_error"] == error for b in back)


def test_survey_rows_in_cp1252_with_state_round_trip_through_the_failed_file(cg, server: Any) -> None:
    """A combination: a survey mapping, --state, a legacy encoding, -o json, then the fixed failed file."""
    sandbox = server()
    Path("s.csv").write_bytes("Email,Score\nzoë@x.io,9\nbad,7\nrené@x.io,8\n".encode("cp1252"))
    options = ("--mapping", "responses", "--encoding", "cp1252", "--state", "s.sqlite", "-o", "json")
    first = cg("records", "import", "s.csv", *options)
    assert first.exit_code == 6, first.output
    assert json.loads(first.stdout)["failed"] == 1
    failed = Path("s.failed.csv").read_bytes()
    assert failed.decode("cp1252").splitlines()[1].startswith("bad,7,2,")
    Path("s.failed.csv").write_bytes(failed.replace(b"bad,", "chloé@x.io,".encode("cp1252")))
    again = cg("records", "import", "s.failed.csv", *options)
    assert again.exit_code == 0, again.output
    assert sorted(r["record"]["Email"] for r in sandbox.records()) == ["chloé@x.io", "rené@x.io", "zoë@x.io"]


def test_a_legacy_failed_file_never_holds_a_value_that_reads_as_utf8(tmp_path: Path) -> None:
    """A latin-1 input's row fails with a server message holding 'Ã©' (bytes C3 A9 in latin-1, valid UTF-8):
    written in latin-1 the re-import would fail that value as mojibake, so the file becomes UTF-8 with a BOM."""
    from cg_cli.importing.failed_file import FailedFile
    from cg_cli.records.readers import ReadOptions, RecordFile, Row

    path = tmp_path / "f.csv"
    failed = FailedFile(path, "csv", ["A"], append=False, encoding="latin-1")
    failed.write(Row(1, {}, ["\xe9t\xe9"]), "server says Ã©")
    failed.close()
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with RecordFile(str(path), options=ReadOptions(encoding="latin-1", delimiter=",")) as records:
        back = [(row.error, row.original[0], row.original[2]) for row in records]
    assert back == [(None, "\xe9t\xe9", "server says Ã©")]


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_a_utf8_row_in_a_legacy_input_reaches_the_failed_file_as_it_was_meant(cg, server: Any, source: str) -> None:
    """A cp1252 export with one row saved as UTF-8: that row fails (mojibake); its failed-file line, re-imported
    with the same options, must send 'Zoë', never the mis-decoded 'ZoÃ«' (it used to)."""
    sandbox = server()
    data = "Account Name,Email\nCafé,c@x.io\n".encode("cp1252") + "Zoë,z@x.io\n".encode()
    Path("mix.csv").write_bytes(data)
    name, stdin = ("mix.csv", None) if source == "file" else ("-", data)  # stdin as bytes, as a pipe gives them
    first = cg(
        "records", "import", name, "--format", "csv", "--mapping", "accounts", "--encoding", "cp1252", input=stdin
    )
    assert first.exit_code == 6, first.output
    failed = "mix.failed.csv" if source == "file" else "stdin.failed.csv"
    again = cg("records", "import", failed, "--mapping", "accounts", "--encoding", "cp1252")
    assert again.exit_code == 0, again.output
    assert sorted(r["record"]["Account Name"] for r in sandbox.records()) == ["Café", "Zoë"]


@pytest.mark.parametrize(
    ("given", "back"),
    [("Zo\u00c3\u00ab", "Zoë"), ("\u00e0\u00a0\u00a0", "\u0820"), ("é Ã«", "é Ã«"), ("Café", "Café")],
)
def test_only_a_value_the_reader_fails_as_mojibake_is_written_as_meant(tmp_path: Path, given: str, back: str) -> None:
    """Whole-value rule, as the reader's: 'é Ã«' (not UTF-8 as a whole) is sent as it is, so it is kept."""
    from cg_cli.importing.failed_file import FailedFile
    from cg_cli.records.readers import ReadOptions, RecordFile, Row

    path = tmp_path / "f.csv"
    failed = FailedFile(path, "csv", ["A"], append=False, encoding="latin-1")
    failed.write(Row(1, {}, [given]), "refused")
    failed.write(Row(2, {}, ["ok"]), "Ã© in a message: the file becomes UTF-8")
    failed.close()
    with RecordFile(str(path), options=ReadOptions(encoding="latin-1", delimiter=",")) as records:
        assert [row.original[0] for row in records] == [back, "ok"]
