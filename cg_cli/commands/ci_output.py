"""What `records import` and `mappings check --file` add for CI: annotations, a job summary, JUnit XML."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cg_cli.commands.completers import complete_ci
from cg_cli.output import ci, render

if TYPE_CHECKING:
    from cg_cli.records.mappings import Problem

CiOption = Annotated[
    str | None,
    typer.Option(
        "--ci",
        help="github: annotations and a job summary (default when GITHUB_ACTIONS=true); none: off.",
        metavar="github|none",
        autocompletion=complete_ci,
    ),
]
JunitOption = Annotated[
    Path | None, typer.Option("--junit", help="Write a JUnit XML report here (GitLab, Jenkins, …).", metavar="PATH")
]


def check_mode(mode: str | None) -> None:
    from cg_cli.errors import UsageError

    if mode is not None and mode not in ci.CI_MODES:
        raise UsageError(f"--ci {mode!r}: use github or none")


def report_import(
    mode: str | None,
    junit: Path | None,
    file: str,
    summary: dict[str, Any],
    outcome: str,
    failures: Sequence[tuple[int, int, str]],
) -> None:
    """Annotate the failed rows, add the job summary and write the JUnit report of an import, however it ended.

    `failures` are the failed rows the run kept (row, line, error): the first ci.MAX_JUNIT_CASES.
    """
    findings = [ci.Finding(row, line, ci.title_of(error), error) for row, line, error in failures]
    failed = int(summary.get("failed", 0))
    if ci.github_enabled(mode):
        for line in ci.workflow_errors(
            file, findings, failed, summary.get("failed_file") or summary.get("results_file")
        ):
            render.command(line)
        _warn(ci.append_job_summary(ci.import_summary(file, summary, findings, outcome)))
    if junit is not None:
        cases = ci.import_cases(summary, findings, summary.get("failed_file"))
        _write(junit, ci.junit_xml(f"cg records import {file}", cases, summary.get("elapsed_seconds")))


def report_check(
    mode: str | None, junit: Path | None, file: str, mapping: str, problems: list[Problem], rows: int
) -> None:
    """Annotate the problems of `mappings check --file`, add the job summary and write the JUnit report."""
    findings = [
        ci.Finding(p.row, p.line or 1, f"{p.field}: {p.problem}" if p.field else p.problem, _described(p))
        for p in problems
    ]
    if ci.github_enabled(mode):
        for line in ci.workflow_errors(file, findings, len(findings), None):
            render.command(line)
        _warn(ci.append_job_summary(ci.check_summary(file, mapping, findings, len(findings))))
    if junit is not None:
        _write(junit, ci.junit_xml(f"cg mappings check {mapping} {file}", ci.check_cases(rows, findings)))


def _described(problem: Problem) -> str:
    field = f"{problem.field}: " if problem.field else ""
    suggestion = f" (did you mean {problem.suggestion!r}?)" if problem.suggestion else ""
    return f"{field}{problem.problem}{suggestion}"


def _write(path: Path, data: bytes) -> None:
    """A report that cannot be written is a warning: the import or check it reports on stands."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        _warn(f"cannot write the JUnit report {path} ({exc.strerror or exc.__class__.__name__})")


def _warn(problem: str | None) -> None:
    if problem:
        render.err(render.safe(f"warning: {problem}"))
