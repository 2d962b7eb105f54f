"""Every YAML block in the README and docs/ parses, and the CI snippets work as written: `cg` is installed
before a step runs it, outputs of a step that can fail are read in a step that runs anyway."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")
ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def yaml_blocks(page: Path) -> list[str]:
    return re.findall(r"^```ya?ml\n(.*?)^```", page.read_text(), flags=re.DOTALL | re.MULTILINE)


def github_steps(document: Any) -> list[list[dict[str, Any]]]:
    """The step lists of a snippet: a bare list of steps, or a workflow's jobs."""
    if isinstance(document, list) and all(isinstance(s, dict) and ("uses" in s or "run" in s) for s in document):
        return [document]
    if isinstance(document, dict) and isinstance(document.get("jobs"), dict):
        return [job.get("steps", []) for job in document["jobs"].values()]
    return []


def installs_cg(step: dict[str, Any]) -> bool:
    return str(step.get("uses", "")).startswith("OWNER/cg@") or bool(
        re.search(r"\bpipx? install\b", str(step.get("run", "")))
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_yaml_block_parses(page: Path) -> None:
    for block in yaml_blocks(page):
        assert yaml.safe_load(block) is not None, block


def all_step_lists() -> list[list[dict[str, Any]]]:
    return [steps for page in PAGES for block in yaml_blocks(page) for steps in github_steps(yaml.safe_load(block))]


def test_the_snippets_install_cg_before_running_it() -> None:
    lists = all_step_lists()
    assert len(lists) >= 4
    for steps in lists:
        installed = False
        for step in steps:
            runs_cg = re.search(r"(^|\n|;|&&)\s*cg ", str(step.get("run", "")))
            assert installed or installs_cg(step) or not runs_cg, steps
            installed = installed or installs_cg(step)


def test_outputs_and_files_are_read_in_steps_that_run_anyway() -> None:
    uploads = 0
    for steps in all_step_lists():
        for step in steps:
            if re.search(r"steps\.[\w-]+\.outputs\.", str(step)) or "upload-artifact" in str(step.get("uses", "")):
                assert step.get("if") == "always()", step
            uploads += "upload-artifact" in str(step.get("uses", ""))
    assert uploads >= 3


def test_gitlab_gets_a_junit_report() -> None:
    jobs = [yaml.safe_load(block) for block in yaml_blocks(ROOT / "docs" / "ci.md")]
    gitlab = [job for document in jobs if isinstance(document, dict) for job in document.values() if "script" in job]
    assert gitlab and gitlab[0]["artifacts"]["reports"]["junit"] == "report.xml"
    assert gitlab[0]["artifacts"]["when"] == "always"


def test_the_annotation_titles_docs_ci_shows_are_the_ones_cg_prints(cg, server: Any, monkeypatch) -> None:
    """A misspelled heading in a check, and the service's 422 for a row, as the annotations title them."""
    sandbox = server()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    Path("a.csv").write_text("Acount Name,Email\nA,a@y.io\n")
    Path("b.csv").write_text("Account Name,Email\nA,a@y.io\n")
    sandbox.fault(status=422, body='{"message": "The given data was invalid.", "errors": {"record.Email": '
                  '["The record.Email must be a valid email address."]}}', count=1)  # fmt: skip
    titles = []
    check, push = ("mappings", "check", "accounts", "--file", "a.csv"), ("records", "import", "b.csv", "-m", "accounts")
    for args in (check, push):
        annotation = next(line for line in cg(*args).stderr.splitlines() if line.startswith("::error"))
        titles.append(re.search(r",title=(.*?)::", annotation)[1].replace("%3A", ":"))  # type: ignore[index]
    page = (ROOT / "docs" / "ci.md").read_text()
    assert all(f"`{title}`" in " ".join(page.split()) for title in titles), titles
