"""JUnit reports read by consumers cg did not write: lxml with a schema written from the rules of the
Jenkins/Surefire `junit-10.xsd` (the one pytest checks its own reports against), and junitparser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cg_cli.output import ci

etree = pytest.importorskip("lxml.etree")
junitparser = pytest.importorskip("junitparser")

# The rules of junit-10.xsd, written down as our own schema: `testsuites` holds suites; a `testsuite` must
# have name, tests, failures and errors and holds test cases; a `testcase` must have a name and may hold
# failure / errors / skipped / system-out / system-err; `time` is digits with an optional fraction.
JUNIT_SCHEMA = b"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:simpleType name="seconds">
    <xs:restriction base="xs:string"><xs:pattern value="[0-9]*(\\.[0-9]{0,3})?"/></xs:restriction>
  </xs:simpleType>
  <xs:complexType name="outcome" mixed="true">
    <xs:attribute name="type" type="xs:string"/>
    <xs:attribute name="message" type="xs:string"/>
  </xs:complexType>
  <xs:element name="failure" type="outcome"/>
  <xs:element name="errors" type="outcome"/>
  <xs:element name="skipped" type="outcome"/>
  <xs:element name="system-out" type="xs:string"/>
  <xs:element name="system-err" type="xs:string"/>
  <xs:element name="testcase">
    <xs:complexType>
      <xs:choice minOccurs="0" maxOccurs="unbounded">
        <xs:element ref="failure"/>
        <xs:element ref="errors"/>
        <xs:element ref="skipped"/>
        <xs:element ref="system-out"/>
        <xs:element ref="system-err"/>
      </xs:choice>
      <xs:attribute name="name" type="xs:string" use="required"/>
      <xs:attribute name="classname" type="xs:string"/>
      <xs:attribute name="time" type="xs:string"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="testsuite">
    <xs:complexType>
      <xs:choice minOccurs="0" maxOccurs="unbounded">
        <xs:element ref="testcase"/>
        <xs:element ref="system-out"/>
        <xs:element ref="system-err"/>
      </xs:choice>
      <xs:attribute name="name" type="xs:string" use="required"/>
      <xs:attribute name="tests" type="xs:string" use="required"/>
      <xs:attribute name="failures" type="xs:string" use="required"/>
      <xs:attribute name="errors" type="xs:string" use="required"/>
      <xs:attribute name="skipped" type="xs:string"/>
      <xs:attribute name="time" type="seconds"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="testsuites">
    <xs:complexType>
      <xs:sequence><xs:element ref="testsuite" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
      <xs:attribute name="name" type="xs:string"/>
      <xs:attribute name="tests" type="xs:string"/>
      <xs:attribute name="failures" type="xs:string"/>
      <xs:attribute name="errors" type="xs:string"/>
      <xs:attribute name="time" type="seconds"/>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""


def checked(path: str | Path) -> dict[str, Any]:
    """The report validated (lxml + schema) and counted as junitparser counts it; its attributes must agree."""
    data = Path(path).read_bytes()
    document = etree.fromstring(data)  # raises on anything that is not well-formed XML 1.0
    schema = etree.XMLSchema(etree.fromstring(JUNIT_SCHEMA))
    assert schema.validate(document), schema.error_log
    report = junitparser.JUnitXml.fromfile(str(path))
    suites = list(report)
    assert len(suites) == 1
    suite = suites[0]
    cases = list(suite)
    failing = [case for case in cases if any(isinstance(r, junitparser.Failure) for r in case.result)]
    skipped = [case for case in cases if any(isinstance(r, junitparser.Skipped) for r in case.result)]
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (
        len(cases),
        len(failing),
        0,
        len(skipped),
    )
    return {"suite": suite, "cases": cases, "failing": failing, "skipped": skipped}


def test_an_import_with_more_failures_than_the_cap(cg, server: Any) -> None:
    """1,100 rows fail (locally: no Account Name), 100 pass: 1,000 failing cases, one counting the other 100."""
    sandbox = server()
    rows = "".join(f"A{n},a{n}@y.io\n" if n % 12 == 0 else f",x{n}@y.io\n" for n in range(1200))
    Path("a.csv").write_text("Account Name,Email\n" + rows)
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--junit", "r.xml", "-o", "json")
    assert result.exit_code == 6, result.output
    assert len(sandbox.records()) == 100
    report = checked("r.xml")
    names = [case.name for case in report["cases"]]
    assert len(report["failing"]) == ci.MAX_JUNIT_CASES + 1 == 1001
    assert names[0] == "row 2 (line 3)" and names[ci.MAX_JUNIT_CASES] == "100 more failed row(s)"
    assert names[-1] == "100 row(s) accepted"
    assert len(json.loads(result.stdout)["first_failures"]) == 20  # the JSON document keeps its size


def test_a_clean_import(cg, server: Any) -> None:
    server()
    Path("a.csv").write_text("Account Name\nA\nB\nC\n")
    assert cg("records", "import", "a.csv", "--mapping", "accounts", "--junit", "r.xml").exit_code == 0
    report = checked("r.xml")
    assert [case.name for case in report["cases"]] == ["3 row(s) accepted"] and not report["failing"]


def test_a_three_row_file_with_one_failure_counts_two_cases(cg, server: Any) -> None:
    server()
    Path("a.csv").write_text("Account Name,Email\nA,a@y.io\n,b@y.io\nC,c@y.io\n")
    assert cg("records", "import", "a.csv", "--mapping", "accounts", "--junit", "r.xml").exit_code == 6
    report = checked("r.xml")
    assert [case.name for case in report["cases"]] == ["row 2 (line 3)", "2 row(s) accepted"]


def test_resume_reports_earlier_runs_as_their_own_cases(cg, server: Any) -> None:
    server()
    Path("a.csv").write_text("Account Name,Email\nA,a@y.io\n,b@y.io\nC,c@y.io\n")
    assert cg("records", "import", "a.csv", "--mapping", "accounts").exit_code == 6
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--resume", "--junit", "r.xml")
    assert result.exit_code == 6, result.output
    report = checked("r.xml")
    assert [(case.name, case.is_skipped) for case in report["cases"]] == [
        ("1 row(s) failed in an earlier run", False),
        ("2 row(s) sent in an earlier run", True),
    ]
    assert len(report["failing"]) == 1


HOSTILE_HEADING = "Account Name,Em\ufffeail\x0b,Fi\uffffrst\n"


def test_check_with_a_noncharacter_heading_and_a_control_character_in_the_file_name(cg, server: Any) -> None:
    server()
    name = "ex\x01port\x1b.csv"
    Path(name).write_text(HOSTILE_HEADING + "A,b,c\n", encoding="utf-8")
    result = cg("mappings", "check", "accounts", "--file", name, "--junit", "c.xml")
    assert result.exit_code == 4, result.output
    report = checked("c.xml")
    assert report["suite"].name == "cg mappings check accounts ex\\x01port\\x1b.csv"
    assert any("Em\\ufffeail" in case.name for case in report["failing"])
    assert len(report["failing"]) == 2 and [c.name for c in report["cases"]][-1] == "1 row(s) without problems"


def test_a_lone_surrogate_key_in_jsonl(cg, server: Any) -> None:
    server()
    Path("a.jsonl").write_text('{"Account Name": "A", "\\udfff": "x"}\n{"Account Name": "B"}\n')
    for command in (("mappings", "check", "accounts", "--file"), ("records", "import")):
        result = cg(*command, "a.jsonl", "--mapping" if command[0] == "records" else "--format", *(
            ("accounts",) if command[0] == "records" else ("jsonl",)), "--junit", "s.xml")  # fmt: skip
        assert result.exit_code in (4, 6), result.output
        report = checked("s.xml")
        assert any("\\udfff" in (case.name + "".join(r.message or "" for r in case.result)) for case in report["cases"])


def test_every_character_xml_forbids_is_replaced() -> None:
    forbidden = "".join(map(chr, [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xD800, 0xDFFF, 0xFFFE, 0xFFFF]))
    finding = ci.Finding(1, 2, forbidden, forbidden)
    data = ci.junit_xml(forbidden, ci.check_cases([finding], total=1, rows=3, problem_rows=1))
    document = etree.fromstring(data)
    assert etree.XMLSchema(etree.fromstring(JUNIT_SCHEMA)).validate(document)
    assert "\\x00" in document.find("testsuite").get("name") and "\\ufffe" in document.find("testsuite").get("name")


def test_a_server_answering_huge_errors_keeps_the_report_small(cg, server: Any, monkeypatch, tmp_path: Path) -> None:
    """A 422 of 500 KB per row: each failing case and annotation carries at most ci.MAX_JUNIT_TEXT characters."""
    sandbox = server()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    huge = "x" * 500_000
    Path("a.csv").write_text("Account Name\n" + "".join(f"A{n}\n" for n in range(30)))
    sandbox.fault(status=422, body=json.dumps({"message": "bad", "errors": {"Account Name": [huge]}}), count=30)
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--junit", "r.xml", "--workers", "1")
    assert result.exit_code == 6, result.output[-500:]
    report = checked("r.xml")
    assert len(report["failing"]) == 30
    assert Path("r.xml").stat().st_size < 30 * (ci.MAX_JUNIT_TEXT + 1000)
    annotations = [line for line in result.stderr.splitlines() if line.startswith("::error")]
    assert len(annotations) == ci.MAX_ANNOTATIONS and max(map(len, annotations)) < ci.MAX_JUNIT_TEXT + 1000


def test_state_with_a_survey_mapping_counts_unchanged_rows_as_accepted(cg, server: Any) -> None:
    sandbox = server()
    Path("r.csv").write_text("Email,Score\na@y.io,9\nb@y.io,7\nbad,8\n")
    args = ("records", "import", "r.csv", "--mapping", "responses", "--state", "s.sqlite", "--junit", "r.xml")
    assert cg(*args).exit_code == 6
    first = checked("r.xml")
    assert [c.name for c in first["cases"]] == ["row 3 (line 4)", "2 row(s) accepted"]
    second = cg(*args, "--restart")
    assert second.exit_code == 6, second.output
    report = checked("r.xml")
    assert [c.name for c in report["cases"]] == ["row 3 (line 4)", "2 row(s) accepted"]
    assert len(sandbox.records()) == 2  # the unchanged survey rows were not sent again


def test_a_lone_surrogate_key_reaches_the_failed_and_results_files_intact(cg, server: Any) -> None:
    server()
    Path("a.jsonl").write_text('{"Account Name": "A", "\\udfff": "x"}\n{"Account Name": "B"}\n')
    result = cg("records", "import", "a.jsonl", "--mapping", "accounts", "--results", "r.csv", "--junit", "j.xml")
    assert result.exit_code == 6, result.output
    (failed,) = Path().glob("a*.failed.jsonl")
    (row,) = [json.loads(line) for line in failed.read_text(encoding="utf-8").splitlines()]
    assert row["\udfff"] == "x" and row["Account Name"] == "A"  # the same values, ready to fix and re-import
    # A lone surrogate is never sent, mapping or not: the row fails for it (tests/test_edge_values.py).
    assert "field '\\udfff' holds a lone surrogate" in Path("r.csv").read_text(encoding="utf-8")
    checked("j.xml")


def test_a_stopped_import_is_no_green_report(cg, server: Any) -> None:
    """Exit 5 with every row read but not sent: the report fails, naming the stop and the rows not sent."""
    sandbox = server()
    Path("a.csv").write_text("Account Name\nA\nB\nC\n")
    sandbox.fault(status=500, count=100)
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--retries", "0", "--junit", "r.xml")
    assert result.exit_code == 5, result.output
    report = checked("r.xml")
    [stop] = report["failing"]
    assert stop.name == "stopped (the service is unreachable or failing): 3 row(s) not sent"
    assert "the service fails persistently" in stop.result[0].text  # the stop, as the error line said it
