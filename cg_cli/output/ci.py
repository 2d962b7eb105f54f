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

from cg_cli.output.render import visible

MAX_ANNOTATIONS = 10  # GitHub shows only a few per kind and step
MAX_SUMMARY_ROWS = 20
MAX_CELL = 300  # characters of one Markdown table cell: the summary stays far below GitHub's 1 MiB per step
MAX_JUNIT_CASES = 1000
MAX_JUNIT_TEXT = 4000  # characters of a failure's text in JUnit and in an annotation: a hostile 1 MiB stays out
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
        f"::error file={name},line={f.line},title={escape_property(f.title)}::{escape_data(f.message[:MAX_JUNIT_TEXT])}"
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
    """Server and user text made inert in Markdown (a table cell or a heading): no markup, HTML, entity or link."""
    value = visible(" ".join(str(text).split())[:MAX_CELL])
    value = value.replace("&", "&amp;").replace("\\", "\\\\").replace("|", "\\|")
    value = re.sub(r"([`*_\[\]<>#!~:])", r"\\\1", value)  # `:` too: GFM links a bare scheme://
    # GFM links www. and addresses (a@b.c, mailto:) found in text; an escape does not stop it, a break does.
    return re.sub(r"(?i)(www)\.", r"\1\\.", value).replace("@", "<span>@</span>")


def code_span(text: object) -> str:
    """A path as it is, in a code span: backslashes and entities are literal there; the fence outruns any backtick."""
    value = visible(str(text))
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value[:1] in ("`", " ") or value[-1:] in ("`", " ") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def import_summary(file: str, summary: dict[str, Any], findings: Sequence[Finding], outcome: str) -> str:
    """The Markdown section `records import` adds to the job summary: this run's counts, then earlier runs'."""
    lines = [
        f"### cg records import {code_span(file)}: {markdown_cell(outcome)}",
        "",
        "| | sent | failed | unchanged | superseded | not sent | elapsed | rows/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| this run | {summary.get('sent', 0)} | {summary.get('failed', 0)} | {summary.get('unchanged', 0)} "
        f"| {summary.get('superseded', 0)} | {summary.get('not_sent', 0)} | {summary.get('elapsed_seconds', 0):.1f} s "
        f"| {summary.get('rows_per_second', 0):.0f} |",
    ]
    if summary.get("skipped"):  # --resume: rows done before, skipped now (the text summary's "done before")
        lines.append(
            f"| earlier runs (skipped now) | {summary.get('sent_earlier', 0)} | {summary.get('failed_earlier', 0)} "
            "| | | | | |"
        )
    lines += _findings_table(findings, "Failed rows")
    files = [(name, summary.get(key)) for name, key in (("failed", "failed_file"), ("results", "results_file"),
                                                         ("journal", "journal"))]  # fmt: skip
    shown = [f"{name}: {code_span(path)}" for name, path in files if path]
    if shown:
        lines += ["", "Files: " + ", ".join(shown)]
    return "\n".join(lines) + "\n\n"


def check_summary(file: str, mapping: str, findings: Sequence[Finding], total: int) -> str:
    """The Markdown section `mappings check --file` adds to the job summary."""
    verdict = "no problems" if not total else f"{total} problem(s)"
    lines = [f"### cg mappings check {markdown_cell(mapping)} --file {code_span(file)}: {verdict}"]
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
        with open(path, "a", encoding="utf-8", errors="backslashreplace") as stream:  # a lone surrogate as \udfff
            stream.write(text)
    except OSError as exc:
        return f"cannot write the job summary {path} ({exc.strerror or exc.__class__.__name__})"
    return None


class Case(NamedTuple):
    """One JUnit test case: a failed row or problem, or a count of rows that passed, failed or were skipped."""

    name: str
    outcome: str | None = None  # "failure", "skipped", or None when it passed
    message: str = ""
    text: str = ""


def import_cases(summary: dict[str, Any], findings: Sequence[Finding], where: str | None) -> list[Case]:
    """A case per failed row (the first MAX_JUNIT_CASES), then one case per count: more failures, earlier runs,
    the rows a stopped run did not send."""
    cases = [Case(_case_name(f), "failure", f.title, f.message) for f in findings[:MAX_JUNIT_CASES]]
    see = f": see {where}" if where else ""
    more = int(summary.get("failed", 0)) - len(cases)
    if more > 0:
        cases.append(Case(f"{more} more failed row(s)", "failure", f"{more} more failed row(s)", f"{more} more{see}"))
    earlier = int(summary.get("failed_earlier", 0))
    if earlier:
        what = f"{earlier} row(s) failed in an earlier run"
        cases.append(Case(what, "failure", what, what + see))
    stopped = summary.get("stopped_by") or ("interrupted (Ctrl-C or SIGTERM)" if summary.get("interrupted") else "")
    if stopped:  # exit 5, 3, 2, 130, 143: never a green report, even when no row failed
        what = f"{summary.get('not_sent', 0)} row(s) not sent: the run stopped"
        cases.append(Case(what, "failure", str(stopped), f"{what}; rerun the same command with --resume"))
    accepted = sum(int(summary.get(key, 0)) for key in ("sent", "unchanged", "superseded"))
    if accepted:
        cases.append(Case(f"{accepted} row(s) accepted"))
    if summary.get("sent_earlier"):
        what = f"{summary['sent_earlier']} row(s) sent in an earlier run"
        cases.append(Case(what, "skipped", "done before: skipped by --resume"))
    return cases


def check_cases(rows: int, findings: Sequence[Finding]) -> list[Case]:
    """A case per problem (the first MAX_JUNIT_CASES), one counting the rest, one for the rows without problems."""
    cases = [Case(f"{_case_name(f)}: {f.title}", "failure", f.title, f.message) for f in findings[:MAX_JUNIT_CASES]]
    more = len(findings) - len(cases)
    if more > 0:
        cases.append(Case(f"{more} more problem(s)", "failure", f"{more} more problem(s)"))
    clean = rows - len({f.row for f in findings if f.row is not None})
    if clean > 0:
        cases.append(Case(f"{clean} row(s) without problems"))
    return cases


def _case_name(finding: Finding) -> str:
    return "header" if finding.row is None else f"row {finding.row} (line {finding.line})"


def junit_xml(suite: str, cases: Sequence[Case], elapsed: float | None = None) -> bytes:
    """One test suite whose `tests`, `failures`, `errors` and `skipped` count exactly the cases it holds.

    Well-formed XML 1.0 whatever the input: characters XML cannot carry are shown as \\xNN / \\uNNNN.
    """
    from xml.etree import ElementTree as ET

    counts = {
        "tests": str(len(cases)),
        "failures": str(sum(case.outcome == "failure" for case in cases)),
        "errors": "0",
        "skipped": str(sum(case.outcome == "skipped" for case in cases)),
    }
    root = ET.Element("testsuites", {"name": "cg", **{k: v for k, v in counts.items() if k != "skipped"}})
    element = ET.SubElement(root, "testsuite", {"name": xml_text(suite), **counts})
    if elapsed is not None:
        element.set("time", f"{elapsed:.3f}")
    for case in cases:
        test = ET.SubElement(element, "testcase", classname=xml_text(suite), name=xml_text(case.name[:MAX_CELL]))
        if case.outcome is not None:
            outcome = ET.SubElement(test, case.outcome, message=xml_text(case.message[:MAX_CELL]))
            outcome.text = xml_text(case.text[:MAX_JUNIT_TEXT]) or None
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


# What XML 1.0 allows (its `Char` production): no C0 control but tab, LF, CR; no surrogate; no U+FFFE/U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` with every character XML 1.0 forbids shown as \\xNN or \\uNNNN, so the report stays well-formed."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                        text)  # fmt: skip
