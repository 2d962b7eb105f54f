"""CI-native output: GitHub Actions annotations and job summary, and JUnit XML for the others.

Everything here builds text; the commands decide where it goes. Workflow
commands go to stderr, which the Actions runner reads for commands as it reads
stdout, so stdout keeps only results (a token, the JSON document).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

MAX_ANNOTATIONS = 10  # GitHub shows only a few per kind and step
MAX_SUMMARY_ROWS = 20
MAX_CELL = 300  # characters of one Markdown table cell: the summary stays far below GitHub's 1 MiB per step
MAX_JUNIT_CASES = 1000
CI_MODES = ("github", "none")


class Finding(NamedTuple):
    """One problem or failed row, wherever it is shown."""

    row: int | None  # data row; None for the header or the file
    line: int  # physical line of the file (1 for the header)
    title: str  # short: "unknown field 'Acount Name'", "422 Email: must be a valid email address"
    message: str


def github_enabled(mode: str | None) -> bool:
    """--ci github, or running in GitHub Actions unless --ci none."""
    if mode is not None:
        return mode == "github"
    return os.environ.get("GITHUB_ACTIONS") == "true"


def workspace_path(path: str) -> str:
    """The input file as GitHub wants it in an annotation: relative to the workspace when inside it."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if workspace and path != "-":
        try:
            return str(Path(path).resolve().relative_to(Path(workspace).resolve()))
        except ValueError:
            pass
    return path


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_errors(file: str, findings: Sequence[Finding], total: int, where: str | None) -> list[str]:
    """`::error` workflow commands for the first few findings, then one line for the rest."""
    name = escape_property(workspace_path(file))
    lines = [
        f"::error file={name},line={f.line},title={escape_property(f.title)}::{escape_data(f.message)}"
        for f in findings[:MAX_ANNOTATIONS]
    ]
    if total > MAX_ANNOTATIONS:
        more = f"{total - MAX_ANNOTATIONS} more problem(s) not annotated"
        lines.append(f"::notice file={name}::{escape_data(more + (f': see {where}' if where else ''))}")
    return lines


def mask(value: str) -> str:
    """The workflow command that hides `value` in the rest of the job's log."""
    return f"::add-mask::{escape_data(value)}"


def title_of(error: str) -> str:
    """A short title for an import row's error: the first field error of a 422, or the first local problem."""
    match = re.match(r"422 (.*?) (\{.*\})$", error, re.DOTALL)
    if match:
        try:
            errors = json.loads(match.group(2))
            field, messages = next(iter(errors.items()))
            return f"422 {field}: {messages[0]}"[:MAX_CELL]
        except (ValueError, StopIteration, IndexError, TypeError, AttributeError):
            return f"422 {match.group(1)}"[:MAX_CELL]
    return error.split("; ")[0][:MAX_CELL]


def markdown_cell(text: object) -> str:
    """Server and user text made inert in a Markdown table cell."""
    value = " ".join(str(text).split())[:MAX_CELL]
    value = value.replace("\\", "\\\\").replace("|", "\\|")
    return re.sub(r"([`*_\[\]<>#!~])", r"\\\1", value)


def import_summary(file: str, summary: dict[str, Any], findings: Sequence[Finding], outcome: str) -> str:
    """The Markdown section `records import` adds to the job summary."""
    counts = [
        ("sent", summary.get("sent", 0)),
        ("failed", summary.get("failed", 0) + summary.get("failed_earlier", 0)),
        ("skipped (done before)", summary.get("skipped", 0)),
        ("unchanged", summary.get("unchanged", 0)),
    ]
    lines = [
        f"### cg records import {markdown_cell(file)}: {markdown_cell(outcome)}",
        "",
        "| " + " | ".join(name for name, _ in counts) + " | elapsed | rows/s |",
        "| " + " | ".join("---:" for _ in counts) + " | ---: | ---: |",
        "| " + " | ".join(str(value) for _, value in counts)
        + f" | {summary.get('elapsed_seconds', 0):.1f} s | {summary.get('rows_per_second', 0):.0f} |",
    ]  # fmt: skip
    lines += _findings_table(findings, "Failed rows")
    files = [(name, summary.get(key)) for name, key in (("failed", "failed_file"), ("results", "results_file"),
                                                         ("journal", "journal"))]  # fmt: skip
    shown = [f"{name}: `{markdown_cell(path)}`" for name, path in files if path]
    if shown:
        lines += ["", "Files: " + ", ".join(shown)]
    return "\n".join(lines) + "\n\n"


def check_summary(file: str, mapping: str, findings: Sequence[Finding], total: int) -> str:
    """The Markdown section `mappings check --file` adds to the job summary."""
    verdict = "no problems" if not total else f"{total} problem(s)"
    lines = [f"### cg mappings check {markdown_cell(mapping)} --file {markdown_cell(file)}: {verdict}"]
    lines += _findings_table(findings, "Problems")
    return "\n".join(lines) + "\n\n"


def _findings_table(findings: Sequence[Finding], heading: str) -> list[str]:
    if not findings:
        return []
    lines = ["", f"{heading} (first {min(len(findings), MAX_SUMMARY_ROWS)}):", "", "| row | line | field | message |",
             "| ---: | ---: | --- | --- |"]  # fmt: skip
    for finding in findings[:MAX_SUMMARY_ROWS]:
        field, _, message = finding.title.partition(": ")
        row = "header" if finding.row is None else str(finding.row)
        lines.append(
            f"| {row} | {finding.line} | {markdown_cell(field)} | {markdown_cell(message or finding.message)} |"
        )
    return lines


def append_job_summary(text: str) -> str | None:
    """Add to $GITHUB_STEP_SUMMARY when the runner gave one; why it could not be written, if it could not."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    try:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as exc:
        return f"cannot write the job summary {path} ({exc.strerror or exc.__class__.__name__})"
    return None


def junit_xml(suite: str, rows: int, findings: Sequence[Finding], total: int, where: str | None) -> bytes:
    """One test case per failed or problem row (up to a thousand), and one for every row that passed."""
    from xml.etree import ElementTree as ET

    root = ET.Element("testsuites")
    cases = ET.SubElement(root, "testsuite", name=suite, tests=str(max(rows, total)), failures=str(total))
    for finding in findings[:MAX_JUNIT_CASES]:
        name = "header" if finding.row is None else f"row {finding.row} (line {finding.line})"
        case = ET.SubElement(cases, "testcase", classname=suite, name=name)
        failure = ET.SubElement(case, "failure", message=_xml_text(finding.title))
        failure.text = _xml_text(finding.message)
    if total > min(len(findings), MAX_JUNIT_CASES):
        case = ET.SubElement(cases, "testcase", classname=suite, name="more rows")
        more = f"{total - min(len(findings), MAX_JUNIT_CASES)} more failed row(s)"
        ET.SubElement(case, "failure", message=more).text = f"{more}: see {where}" if where else more
    passed = rows - total
    if passed > 0:
        ET.SubElement(cases, "testcase", classname=suite, name=f"{passed} row(s) accepted")
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _xml_text(text: str) -> str:
    """XML 1.0 cannot carry most control characters: show them instead."""
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", lambda m: f"\\x{ord(m.group()):02x}", text)
