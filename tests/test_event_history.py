"""Survey rows are events: each distinct row reaches a target at most once while a journal or a state
remembers it, wherever the row stands in the input (found by an adversarial pass over the delivery model:
a moved row, a repeated row and a journal handed to a state each sent a survey twice)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from cg_cli.importing.journal import Journal, row_digest
from tests.conftest import destination
from tests.test_records_import import csv_rows

SURVEY = ("--mapping", "responses")


def responses(sandbox: Any) -> Counter[tuple[str, str]]:
    return Counter((r["record"]["Email"], r["record"]["Score"]) for r in sandbox.records())


def run(cg: Any, *args: str) -> dict[str, Any]:
    result = cg("records", "import", "sv.csv", *SURVEY, *args, "-o", "json")
    assert result.exit_code in (0, 6), result.output
    return dict(json.loads(result.stdout))


def test_identical_rows_in_one_run_are_one_response(cg, server: Any) -> None:
    sandbox = server()
    Path("sv.csv").write_text("Email,Score\na@x.com,9\nb@x.com,7\na@x.com,9\na@x.com,3\na@x.com,9\n")
    summary = run(cg, "--workers", "8")
    assert responses(sandbox) == {("a@x.com", "9"): 1, ("b@x.com", "7"): 1, ("a@x.com", "3"): 1}
    assert (summary["sent"], summary["unchanged"], summary["failed"]) == (3, 2, 0)


def test_a_moved_row_is_not_sent_again_on_resume(cg, server: Any) -> None:
    sandbox = server()
    Path("sv.csv").write_text("Email,Score\na@x.com,9\nnot-an-email,1\n")
    assert run(cg)["failed"] == 1  # the journal stays, with a@x.com sent at row 1
    Path("sv.csv").write_text("Email,Score\nnew@x.com,5\na@x.com,9\n")  # the export is now newest first
    summary = run(cg, "--resume")
    assert responses(sandbox) == {("a@x.com", "9"): 1, ("new@x.com", "5"): 1}
    assert (summary["sent"], summary["unchanged"]) == (1, 1)


def test_a_moved_row_that_was_in_flight_at_a_kill_may_have_arrived(cg, server: Any) -> None:
    sandbox = server()
    Path("sv.csv").write_text("Email,Score\na@x.com,9\n")
    journal = Journal(Path("sv.csv.cg-journal"), destination("resp-ref"), durable_in_flight=True)
    journal.open(create=True)
    journal.begin_run(None)
    journal.mark_in_flight(1, row_digest(csv_rows("sv.csv")[0]))
    journal.close()  # as a SIGKILL leaves it: row 1 in flight
    Path("sv.csv").write_text("Email,Score\nnew@x.com,5\na@x.com,9\n")
    summary = run(cg, "--resume")
    assert responses(sandbox) == {("new@x.com", "5"): 1}  # the survey that may have arrived is not sent again
    assert summary["maybe_arrived"] == 1


def test_a_resume_with_a_state_hands_the_journals_sends_to_the_state(cg, server: Any) -> None:
    sandbox = server()
    Path("sv.csv").write_text("Email,Score\na@x.com,9\nnot-an-email,1\n")
    run(cg)
    Path("sv.csv").write_text("Email,Score\na@x.com,9\nb@x.com,1\n")
    run(cg, "--resume", "--state", "s.db")  # a@x.com: sent earlier, by the journal; now the state knows it
    again = run(cg, "--restart", "--state", "s.db")
    assert responses(sandbox) == {("a@x.com", "9"): 1, ("b@x.com", "1"): 1}
    assert (again["sent"], again["unchanged"]) == (0, 2)


def test_accounts_sent_earlier_reach_the_state_on_a_resume_too(cg, server: Any) -> None:
    sandbox = server()
    Path("ac.csv").write_text("Account Name,First Name\nACME,v1\n,missing name\n")
    assert cg("records", "import", "ac.csv", "--mapping", "accounts").exit_code == 6
    Path("ac.csv").write_text("Account Name,First Name\nACME,v1\nGLOBEX,v1\n")
    assert cg("records", "import", "ac.csv", "--mapping", "accounts", "--resume", "--state", "s.db").exit_code == 0
    again = cg("records", "import", "ac.csv", "--mapping", "accounts", "--state", "s.db", "-o", "json")
    assert json.loads(again.stdout)["unchanged"] == 2
    assert Counter(r["record"]["Account Name"] for r in sandbox.records()) == {"ACME": 1, "GLOBEX": 1}


def test_a_journal_of_0_3_0_knows_its_events_by_content_once_opened(cg, server: Any) -> None:
    """0.3.0 kept events by row number only: its sent rows are read into the history when the journal opens."""
    sandbox = server()
    Path("sv.csv").write_text("Email,Score\na@x.com,9\n")
    journal = Journal(Path("sv.csv.cg-journal"), destination("resp-ref"))
    journal.open(create=True)
    journal.record(1, row_digest(csv_rows("sv.csv")[0]), "S")  # rows only, as 0.3.0 wrote them
    journal.close()
    Path("sv.csv").write_text("Email,Score\nnew@x.com,5\na@x.com,9\n")
    assert run(cg, "--resume")["unchanged"] == 1
    assert responses(sandbox) == {("new@x.com", "5"): 1}
