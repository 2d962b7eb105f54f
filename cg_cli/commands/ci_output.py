"""What `records import` and `mappings check --file` add for CI: annotations, a job summary, JUnit XML."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cg_cli.commands.completers import complete_ci
from cg_cli.output import ci, render

if TYPE_CHECKING:
    from cg_cli.errors import ImportEnded
    from cg_cli.records.checks import FileCheck
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
    stop: ci.Stop | None = None,
) -> None:
    """Annotate the failed rows, add the job summary and write the JUnit report of an import, however it ended.

    `failures` are the failed rows the run kept (row, line, error): the first ci.MAX_JUNIT_CASES. `stop` says
    why the run ended before the end of its input, if it did.
    """
    findings = [ci.Finding(row, line, ci.title_of(error), error) for row, line, error in failures]
    failed = int(summary.get("failed", 0))
    if ci.github_enabled(mode):
        for line in ci.workflow_errors(
            file, findings, failed, summary.get("failed_file") or summary.get("results_file")
        ):
            render.command(line)
        _warn(ci.append_job_summary(ci.import_summary(file, summary, findings, outcome, stop)))
    if junit is not None:
        cases = ci.import_cases(summary, findings, summary.get("failed_file"), stop)
        _write(junit, ci.junit_xml(f"cg records import {file}", cases, summary.get("elapsed_seconds")))


def stop_of(ended: ImportEnded) -> ci.Stop | None:
    """Why an import ended before the end of its input (a signal, the service, credentials, a file), if it did.

    Rows not sent: the rows the pre-flight counted, less those this run or an earlier one settled.
    """
    from cg_cli.errors import ExitCode

    if ended.exit_code in (ExitCode.PARTIAL, ExitCode.VALIDATION):  # every row had its turn (or a dry run)
        return None
    why = _STOPPED.get(ended.exit_code) or str(ended.summary.get("stopped_by") or "stopped")[:100]
    settled = sum(int(ended.summary.get(key) or 0) for key in ("sent", "failed", "skipped", "unchanged", "superseded"))
    not_sent = None if ended.rows_in_input is None else max(ended.rows_in_input - settled, 0)
    return ci.Stop(why, not_sent, ended.message, ended.hint or "")


_STOPPED = {130: "interrupted", 143: "terminated", 5: "the service is unreachable or failing", 3: "credentials refused"}


def report_check(mode: str | None, junit: Path | None, file: str, mapping: str, found: FileCheck) -> None:
    """Annotate the problems of `mappings check --file`, add the job summary and write the JUnit report.

    `found.kept` are the first problems; the counts (`total`, `rows`, `problem_rows`) are the whole file's.
    """
    findings = [
        ci.Finding(p.row, p.line or 1, f"{p.field}: {p.problem}" if p.field else p.problem, _described(p))
        for p in found.kept
    ]
    if ci.github_enabled(mode):
        for line in ci.workflow_errors(file, findings, found.total, None):
            render.command(line)
        _warn(ci.append_job_summary(ci.check_summary(file, mapping, findings, found.total)))
    if junit is not None:
        cases = ci.check_cases(findings, total=found.total, rows=found.rows, problem_rows=found.problem_rows)
        _write(junit, ci.junit_xml(f"cg mappings check {mapping} {file}", cases))


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
