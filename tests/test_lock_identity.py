"""One writer per file, whatever name reaches it: a symbolic link, a chain of them, a directory link or a
relative path lead to the lock beside the real file, and a file with a second hard link is refused.

Each test holds a journal or a state in a real `cg` process (the sandbox answers slowly, so it is still
running) and tries it again by another name, as the adversarial tester did. Survey rows are events: the
proof is that no response reaches the sandbox twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.conftest import journal_rows
from tests.test_delivery import responses
from tests.test_records_import import import_process, wait_for_records

SURVEYS = "Email,Score\n" + "".join(f"u{i}@x.com,{i % 10}\n" for i in range(1000))


def running(sandbox: Any, *args: str) -> subprocess.Popen[str]:
    """A survey import that holds its files until it is killed: 1000 rows, 2 at a time, 50 ms each."""
    holder = import_process(sandbox, *args, "--mapping", "responses", "--workers", "2")
    wait_for_records(sandbox, 2)
    return holder


def kill(holder: subprocess.Popen[str], sandbox: Any) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    sandbox.sandbox.state.latency = 0


def test_a_state_reached_through_a_symbolic_link_is_refused_while_its_run_lives(cg, server: Any) -> None:
    sandbox = server(latency=0.05)
    Path("ev.csv").write_text(SURVEYS)
    Path("ev2.csv").write_text(SURVEYS)
    holder = running(sandbox, "ev.csv", "--state", "st.db")
    Path("link.db").symlink_to("st.db")
    second = cg("records", "import", "ev2.csv", "--mapping", "responses", "--state", "link.db")
    assert second.exit_code == 2, second.output
    assert f"state link.db is in use by process {holder.pid} (lock {Path('st.db.lock').resolve()})" in second.stderr
    assert not Path("link.db.lock").exists() and not Path("ev2.csv.cg-journal").exists()
    forget = cg("records", "state", "link.db", "--forget", "resp-ref")  # a writer too
    assert forget.exit_code == 2 and f"in use by process {holder.pid}" in forget.stderr
    kill(holder, sandbox)
    # A killed holder leaves a file, not a lock: the run through the link goes on at once, and sends each
    # response once (those that may have arrived at the kill are reported, never resent).
    again = cg("records", "import", "ev2.csv", "--mapping", "responses", "--state", "link.db", "-o", "json")
    assert again.exit_code in (0, 6), again.output
    assert max(responses(sandbox).values()) == 1


def test_a_journal_linked_to_a_live_runs_journal_is_refused_and_its_rows_left_alone(cg, server: Any) -> None:
    sandbox = server(latency=0.05)
    Path("sv.csv").write_text(SURVEYS)
    holder = running(sandbox, "sv.csv", "--journal", "j.db")
    Path("jl.db").symlink_to("j.db")
    for extra in ((), ("--resume",), ("--restart",)):
        second = cg("records", "import", "sv.csv", "--mapping", "responses", "--journal", "jl.db", *extra)
        assert second.exit_code == 2, second.output
        assert f"journal jl.db is in use by process {holder.pid}" in second.stderr
        assert "may have arrived" not in second.output and "killed" not in second.output
    assert Path("j.db").exists() and not Path("jl.db.lock").exists()
    assert "F" not in journal_rows(Path("j.db")).values()  # the live run's in-flight rows were not reported
    kill(holder, sandbox)
    resumed = cg("records", "import", "sv.csv", "--mapping", "responses", "--journal", "jl.db", "--resume")
    assert resumed.exit_code in (0, 6), resumed.output
    assert max(responses(sandbox).values()) == 1


def test_a_hard_link_to_a_live_runs_state_is_refused_naming_the_count(cg, server: Any) -> None:
    sandbox = server(latency=0.05)
    Path("ev.csv").write_text(SURVEYS)
    Path("ev2.csv").write_text("Email,Score\nnew@x.com,1\n")
    holder = running(sandbox, "ev.csv", "--state", "st.db")
    os.link("st.db", "hard.db")
    second = cg("records", "import", "ev2.csv", "--mapping", "responses", "--state", "hard.db")
    assert second.exit_code == 2, second.output
    assert "state hard.db has 2 hard links: a lock on one name cannot hold the others" in second.stderr
    assert "hint: keep one name for it" in second.stderr
    assert not Path("hard.db.lock").exists()
    kill(holder, sandbox)
    # Still two names with no run alive: refused by either, until one goes.
    again = cg("records", "import", "ev2.csv", "--mapping", "responses", "--state", "st.db")
    assert again.exit_code == 2 and "state st.db has 2 hard links" in again.stderr
    assert cg("records", "state", "hard.db", "--forget", "resp-ref").exit_code == 2  # --forget writes too
    Path("hard.db").unlink()
    done = cg("records", "import", "ev2.csv", "--mapping", "responses", "--state", "st.db")
    assert done.exit_code == 0, done.output
    assert max(responses(sandbox).values()) == 1 and ("new@x.com", "1") in responses(sandbox)


def test_the_default_journal_reached_by_stdin_a_link_or_a_linked_directory_is_refused(cg, server: Any) -> None:
    sandbox = server(latency=0.05)
    Path("ev.csv").write_text(SURVEYS)
    holder = running(sandbox, "ev.csv")  # its journal: ev.csv.cg-journal, named after the input
    Path("via").symlink_to(".", target_is_directory=True)
    Path("chain1").symlink_to("ev.csv.cg-journal")
    Path("chain2").symlink_to(Path("chain1").resolve().parent / "chain1")
    tries = [
        ("via/ev.csv", "--resume"),  # the same default journal, through a directory link
        (str(Path("ev.csv").resolve()), "--restart"),  # absolute, where the holder was given a relative name
        ("-", "--format", "csv", "--journal", "chain2", "--resume"),  # stdin, a chain of two links
    ]
    for args in tries:
        second = cg("records", "import", *args, "--mapping", "responses", input="Email,Score\nu1@x.com,1\n")
        assert second.exit_code == 2, second.output
        assert f"is in use by process {holder.pid}" in second.stderr
    assert not [p for p in Path().iterdir() if p.name.endswith(".lock") and p.name != "ev.csv.cg-journal.lock"]
    kill(holder, sandbox)
    assert max(responses(sandbox).values()) == 1


def test_two_processes_on_one_state_by_two_names_one_is_refused(server: Any) -> None:
    """Started together: whichever locks first runs, the other is refused, whichever name each was given."""
    sandbox = server(latency=0.05)
    Path("a.csv").write_text(SURVEYS)
    Path("b.csv").write_text(SURVEYS)
    Path("real").mkdir()
    Path("link.db").symlink_to("real/st.db")  # a state not yet created, reached through a link
    procs = [
        import_process(sandbox, "a.csv", "--mapping", "responses", "--state", "real/st.db", "--workers", "2"),
        import_process(sandbox, "b.csv", "--mapping", "responses", "--state", "link.db", "--workers", "2"),
    ]
    deadline = time.monotonic() + 60
    while all(p.poll() is None for p in procs):
        assert time.monotonic() < deadline, "neither run was refused"
        time.sleep(0.02)
    refused = next(p for p in procs if p.poll() is not None)
    winner = next(p for p in procs if p is not refused)
    _, err = refused.communicate(timeout=10)
    assert refused.returncode == 2, err
    assert f"is in use by process {winner.pid}" in err
    assert winner.poll() is None
    kill(winner, sandbox)
    retry = ["a.csv", "b.csv"][procs.index(refused)]
    options = ["--mapping", "responses", "--state", "link.db", "--workers", "4", "-o", "json"]
    again = import_process(sandbox, retry, *options)
    out, err = again.communicate(timeout=120)
    assert again.returncode in (0, 6), err
    summary = json.loads(out)
    assert summary["sent"] + summary["unchanged"] + summary["failed"] == 1000
    assert max(responses(sandbox).values()) == 1


def test_a_journal_linked_to_a_file_not_yet_made_is_kept_beside_it_and_removed_when_every_row_went(
    cg, server: Any
) -> None:
    """It used to stay after a run that sent every row (cg removed only the link's own name, never through
    it), so the next run was refused as if one had been killed."""
    sandbox = server()
    Path("a.csv").write_text("Email,Score\nann@x.com,9\n")
    Path("jdir").mkdir()
    Path("jl").symlink_to("jdir/j.db")
    for run in range(2):
        done = cg("records", "import", "a.csv", "--mapping", "responses", "--journal", "jl", "--state", "s.db")
        assert done.exit_code == 0, (run, done.output)
        assert Path("jl").is_symlink() and not Path("jl").exists()  # the link stays, the journal went
        assert sorted(p.name for p in Path("jdir").iterdir()) == []  # its -wal, -shm and lock file too
        assert not Path("jl.lock").exists()
    assert responses(sandbox) == {("ann@x.com", "9"): 1}
