"""The job summary as GitHub shows it: rendered by cmark-gfm (the renderer GitHub's Markdown is built on, with
its table and autolink extensions), raw HTML let through, so that only cg's own escaping keeps text inert."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cg_cli.output import ci

cmarkgfm = pytest.importorskip("cmarkgfm")
html = pytest.importorskip("lxml.html")


def rendered(markdown: str) -> Any:
    from cmarkgfm.cmark import Options

    return html.fragment_fromstring(
        cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE), create_parent="div"
    )


SERVER_TEXT = (
    "see https://evil.example/a_b or www.evil.example/x_y, write to joe.doe@example.com or mailto:a@b.co "
    "&lt;b&gt; <b>bold</b> <img src=x onerror=alert(1)> `code` *em* [link](http://x) | pipe \\ back #1 ~~s~~"
)


def test_server_text_shows_as_it_is_and_links_nothing() -> None:
    page = rendered("| a |\n| --- |\n| " + ci.markdown_cell(SERVER_TEXT) + " |\n")
    (cell,) = page.iter("td")
    assert cell.text_content() == SERVER_TEXT
    assert not [e.tag for e in cell.iter() if e.tag not in ("td", "span")]  # no link, no bold, no image, no code


@pytest.mark.parametrize("path", ["my_export.failed.csv", "we`ird``name.csv", "`start.csv", "a&amp;b\\c *x*.csv"])
def test_paths_in_code_spans_are_shown_as_they_are(path: str) -> None:
    page = rendered("Files: " + ci.code_span(path))
    (code,) = page.iter("code")
    assert code.text_content() == path


def test_the_summary_of_an_import_with_hostile_names(cg, server: Any, monkeypatch, tmp_path: Path) -> None:
    sandbox = server()
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    name = "my_export `x`.csv"
    Path(name).write_text("Account Name,Email\nA,a@y.io\nB,b@y.io\n")
    sandbox.fault(status=422, body=json.dumps({"message": "bad", "errors": {"Email": [SERVER_TEXT]}}), count=1)
    assert cg("records", "import", name, "--mapping", "accounts", "--workers", "1").exit_code == 6
    page = rendered(summary.read_text())
    codes = [code.text_content() for code in page.iter("code")]
    assert codes[0] == name and "my_export `x`.failed.csv" in codes
    cells = [cell.text_content() for cell in page.iter("td")]
    assert SERVER_TEXT in cells
    assert not list(page.iter("a")) and not list(page.iter("img")) and not list(page.iter("b"))


def test_after_resume_one_set_of_counts(cg, server: Any, monkeypatch, tmp_path: Path) -> None:
    """This run's sent and failed, then the earlier runs' (skipped now), as the text summary says them."""
    server()
    Path("a.csv").write_text("Account Name,Email\nA,a@y.io\n,b@y.io\nC,c@y.io\n")
    assert cg("records", "import", "a.csv", "--mapping", "accounts").exit_code == 6
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = cg("records", "import", "a.csv", "--mapping", "accounts", "--resume")
    assert result.exit_code == 6
    assert "0 sent, 0 failed, 3 skipped (done before: 2 sent, 1 failed)" in result.stderr
    rows = [[cell.text_content() for cell in row.iter("td")] for row in rendered(summary.read_text()).iter("tr")]
    assert rows[1][:3] == ["this run", "0", "0"]
    assert rows[2][:3] == ["earlier runs (skipped now)", "2", "1"]
