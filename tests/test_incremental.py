"""Incremental pushes: `records import --state` sends only what changed since the last accepted push."""

from __future__ import annotations

import csv
import json
import os
import random
import re
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.conftest import SECRET, spawn
from tests.test_records_import import CG, received_names, wait_for_records


def write_export(path: Path, names: dict[str, str]) -> None:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["Account Name", "First Name"])
        writer.writerows(names.items())


def state_digests(path: Path) -> dict[str, bytes]:
    with sqlite3.connect(path) as db:
        return {key.split("\0")[1]: digest for key, digest in db.execute("SELECT key, digest FROM records")}


def import_json(cg: Any, *args: str) -> dict[str, Any]:
    result = cg("records", "import", "export.csv", "--mapping", "accounts", "--state", "s.db", *args, "-o", "json")
    assert result.exit_code in (0, 6), result.output
    return dict(json.loads(result.stdout))


def test_unchanged_rows_are_not_sent_changed_and_new_ones_once(cg, server: Any) -> None:
    sandbox = server()
    names = {f"Account {i}": "v1" for i in range(50)}
    write_export(Path("export.csv"), names)
    first = import_json(cg)
    assert (first["sent"], first["unchanged"]) == (50, 0)
    again = import_json(cg)
    assert (again["sent"], again["unchanged"]) == (0, 50)
    assert len(sandbox.records()) == 50  # the second run made no request
    names["Account 3"] = "v2"
    names["Account 50"] = "new"
    write_export(Path("export.csv"), names)
    third = import_json(cg)
    assert (third["sent"], third["unchanged"]) == (2, 49)
    assert Counter(received_names(sandbox))["Account 3"] == 2 and received_names(sandbox)["Account 50"] == 1
    full = import_json(cg, "--full")
    assert full["sent"] == 51  # a periodic full push resends everything, and still updates the state
    assert import_json(cg)["unchanged"] == 51


def test_failed_rows_are_not_remembered_and_are_retried(cg, server: Any) -> None:
    sandbox = server()
    write_export(Path("export.csv"), {"A": "1", "B": "2"})
    sandbox.fault(status=422, body='{"message": "The given data was invalid.", "errors": {}}')
    first = import_json(cg, "--workers", "1")
    assert (first["sent"], first["failed"]) == (1, 1)
    assert len(state_digests(Path("s.db"))) == 1  # only the accepted one
    second = import_json(cg, "--restart")
    assert (second["sent"], second["unchanged"]) == (1, 1)  # the failed row is sent again


def test_rows_sharing_a_key_end_right_with_a_state(cg, server: Any) -> None:
    sandbox = server(latency=0.005)
    Path("export.csv").write_text("Account Name,First Name\nACME,v1\nACME,v2\nACME,v3\n")
    import_json(cg)
    import_json(cg)  # each row differs from what the previous row left: all are sent, in order
    assert [r["record"]["First Name"] for r in sandbox.records()][-1] == "v3"
    Path("export.csv").write_text("Account Name,First Name\nACME,v3\n")
    assert import_json(cg)["unchanged"] == 1


def test_one_state_serves_several_mappings_and_can_forget_one(cg, server: Any) -> None:
    server()
    write_export(Path("export.csv"), {"A": "1"})
    import_json(cg)
    Path("c.csv").write_text("Email\na@x.io\nb@x.io\n")
    assert cg("records", "import", "c.csv", "--mapping", "contacts", "--state", "s.db").exit_code == 0
    shown = json.loads(cg("records", "state", "s.db", "-o", "json").stdout)
    assert {t["configuration"]: t["records"] for t in shown["targets"]} == {"acc-ref": 1, "contact": 2}
    assert {t["records_url"] for t in shown["targets"]} == {os.environ["CG_API_URL"] + "/records/"}
    text = cg("records", "state", "s.db").stdout
    assert "acc-ref" in text and "contact" in text
    forgot = cg("records", "state", "s.db", "--forget", "contact")
    assert forgot.exit_code == 0 and "Forgot 2 record(s)" in forgot.stderr
    again = cg("records", "import", "c.csv", "--mapping", "contacts", "--state", "s.db", "-o", "json")
    assert again.exit_code == 0 and json.loads(again.stdout)["sent"] == 2  # the forgotten records go again
    shown = json.loads(cg("records", "state", "s.db", "-o", "json").stdout)
    assert {t["configuration"]: t["records"] for t in shown["targets"]} == {"acc-ref": 1, "contact": 2}
    missing = cg("records", "state", "nope.db")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_full_needs_a_state_and_a_bad_state_file_is_refused(cg, server: Any) -> None:
    server()
    write_export(Path("export.csv"), {"A": "1"})
    assert cg("records", "import", "export.csv", "--mapping", "accounts", "--full").exit_code == 2
    Path("s.db").write_text("not a database")
    result = cg("records", "import", "export.csv", "--mapping", "accounts", "--state", "s.db")
    assert result.exit_code == 2 and "not a cg state file" in result.stderr


def test_a_kill_never_leaves_a_record_remembered_that_was_not_accepted(server: Any) -> None:
    sandbox = server(latency=0.005)
    write_export(Path("export.csv"), {f"Account {i}": "v1" for i in range(300)})
    env = {**os.environ, "CG_AUTH_URL": sandbox.url, "CG_API_URL": sandbox.url, "CG_CLIENT_ID": "test-client"}
    env["CG_CLIENT_SECRET"] = SECRET
    rng = random.Random(9)
    for attempt in range(3):
        args = ["export.csv", "--mapping", "accounts", "--state", "s.db", "--workers", "4", "--restart"]
        proc = spawn([CG, "records", "import", *args], env=env, stderr=subprocess.DEVNULL)
        wait_for_records(sandbox, len(sandbox.records()) + 5)
        time.sleep(rng.uniform(0, 0.05))
        proc.kill()
        proc.wait(timeout=10)
        accepted = {name.casefold() for name in received_names(sandbox)}
        assert set(state_digests(Path("s.db"))) <= accepted, f"attempt {attempt}: remembered but never accepted"


def test_a_dry_run_reads_the_state_and_writes_nothing(cg, server: Any) -> None:
    """A dry run with a state that does not exist yet creates no file; with one, it says what is unchanged and
    leaves the file as it was (it used to create an empty state, which the next run then trusted)."""
    sandbox = server()
    write_export(Path("export.csv"), {"A": "1", "B": "2"})
    before = set(Path.cwd().iterdir())
    fresh = import_json(cg, "--dry-run")
    assert (fresh["would_send"], fresh["unchanged"]) == (2, 0)
    assert set(Path.cwd().iterdir()) == before  # no s.db, -wal, -shm or .lock
    import_json(cg)
    write_export(Path("export.csv"), {"A": "1", "B": "changed"})
    kept = Path("s.db").read_bytes()
    listing = set(Path.cwd().iterdir())
    known = import_json(cg, "--dry-run")
    assert (known["would_send"], known["unchanged"]) == (1, 1)
    assert Path("s.db").read_bytes() == kept and set(Path.cwd().iterdir()) == listing
    assert len(sandbox.records()) == 2


def test_the_state_table_keeps_counts_and_times_whole_at_80_columns(cg, server: Any, monkeypatch: Any) -> None:
    server()
    write_export(Path("export.csv"), {f"A{i}": "1" for i in range(12)})
    import_json(cg)
    monkeypatch.setenv("COLUMNS", "80")
    text = cg("records", "state", "s.db").stdout
    assert max(len(line) for line in text.splitlines()) <= 80
    row = next(line for line in text.splitlines() if "acc-ref" in line)
    cells = [cell.strip() for cell in row.strip("│").split("│")]
    assert cells[3:5] == ["12", "0"] and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", cells[5]), row
    assert "https://" not in text  # the scheme is left out to make room; -o json has the whole URL
