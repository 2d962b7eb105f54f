"""Files at the edges (issue 20, item 6): an output that is the input in disguise (a hard link, a symlink,
stdin's file, SQLite's side files), or that cannot be opened (a missing directory, a FIFO), is refused
before anything is created or sent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SECRET, spawn

CG = str(Path(sys.executable).parent / "cg")
INPUT = "Account Name,Email\nACME,a@x.io\nGlobex,g@x.io\n"
OUTPUT_OPTIONS = ["--results", "--failed", "--journal", "--state", "--junit"]


def import_a(cg: Any, *options: str) -> Any:
    return cg("records", "import", "a.csv", "--mapping", "accounts", *options)


def nothing_happened(sandbox: Any) -> None:
    """Refused before anything was created or sent."""
    assert sandbox.records() == []
    assert not Path("a.csv.cg-journal").exists()
    assert not Path("a.failed.csv").exists()


# --- item 6: outputs are never the input ------------------------------------------------------


@pytest.mark.parametrize("option", OUTPUT_OPTIONS)
def test_an_output_hard_linked_to_the_input_is_refused_and_the_input_kept(cg, server: Any, option: str) -> None:
    sandbox = server()
    Path("a.csv").write_text(INPUT)
    os.link("a.csv", "hl.csv")
    result = import_a(cg, option, "hl.csv")
    assert result.exit_code == 2, result.output
    assert "hl.csv is the input file" in result.stderr
    assert Path("a.csv").read_text() == INPUT
    nothing_happened(sandbox)


@pytest.mark.parametrize("option", OUTPUT_OPTIONS)
def test_an_output_symlinked_to_the_input_is_refused(cg, server: Any, option: str) -> None:
    sandbox = server()
    Path("a.csv").write_text(INPUT)
    Path("sub").mkdir()
    Path("sub/link.csv").symlink_to(Path("a.csv").resolve())
    result = import_a(cg, option, "sub/link.csv")
    assert result.exit_code == 2 and "is the input file" in result.stderr, result.output
    assert Path("a.csv").read_text() == INPUT
    nothing_happened(sandbox)


def test_two_outputs_that_are_one_file_by_a_hard_link_are_refused(cg, server: Any) -> None:
    sandbox = server()
    Path("a.csv").write_text(INPUT)
    Path("r.csv").write_text("keep\n")
    os.link("r.csv", "f.csv")
    result = import_a(cg, "--results", "r.csv", "--failed", "f.csv")
    assert result.exit_code == 2, result.output
    assert "r.csv is the failed file and would be the results file too" in result.stderr
    assert Path("f.csv").read_text() == "keep\n"
    nothing_happened(sandbox)


def test_two_new_outputs_whose_names_differ_only_in_case_are_refused(cg, server: Any) -> None:
    """One file on macOS and Windows: refused everywhere, so a command behaves the same on every machine."""
    sandbox = server()
    Path("a.csv").write_text(INPUT)
    result = import_a(cg, "--results", "out.csv", "--junit", "OUT.csv")
    assert result.exit_code == 2, result.output
    assert "OUT.csv is the results file and would be the JUnit report too" in result.stderr
    assert not Path("out.csv").exists()
    nothing_happened(sandbox)


def test_the_journals_own_side_files_are_outputs_too(cg, server: Any) -> None:
    """SQLite writes JOURNAL-wal beside the journal: an input of that name would be overwritten."""
    sandbox = server()
    Path("j-wal").write_text(INPUT)
    result = cg("records", "import", "j-wal", "--format", "csv", "--mapping", "accounts", "--journal", "j")
    assert result.exit_code == 2, result.output
    assert "is the input file and would be the journal's WAL file too" in result.stderr
    assert Path("j-wal").read_text() == INPUT and not Path("j").exists()
    assert sandbox.records() == []


def test_dev_null_may_take_several_outputs(cg, server: Any, devices: tuple[Path, Path]) -> None:
    sandbox = server()
    _, null = devices  # a null device of the test's own: never the machine's /dev/null
    Path("a.csv").write_text(INPUT)
    result = import_a(cg, "--results", str(null), "--failed", str(null), "--junit", str(null))
    assert result.exit_code == 0, result.output
    assert len(sandbox.records()) == 2
    assert null.is_char_device()


@pytest.mark.parametrize("option", OUTPUT_OPTIONS)
def test_an_output_in_a_missing_directory_is_refused_and_leaves_no_journal(cg, server: Any, option: str) -> None:
    sandbox = server()
    Path("a.csv").write_text(INPUT)
    result = import_a(cg, option, "nodir/out.csv")
    assert result.exit_code == 2, result.output
    assert "nodir/out.csv" in result.stderr and "directory nodir does not exist" in result.stderr
    nothing_happened(sandbox)
    again = import_a(cg)  # the next run is not told "an earlier import did not finish"
    assert again.exit_code == 0, again.output
    assert len(sandbox.records()) == 2


@pytest.mark.parametrize("option", OUTPUT_OPTIONS)
def test_a_directory_named_as_an_output_is_refused(cg, server: Any, option: str) -> None:
    sandbox = server()
    Path("a.csv").write_text(INPUT)
    Path("d").mkdir()
    result = import_a(cg, option, "d")
    assert result.exit_code == 2 and "d is a directory" in result.stderr, result.output
    nothing_happened(sandbox)


def test_an_output_under_a_file_is_refused(cg, server: Any) -> None:
    sandbox = server()
    Path("a.csv").write_text(INPUT)
    result = import_a(cg, "--results", "a.csv/r.csv")
    assert result.exit_code == 2 and "a.csv is not a directory" in result.stderr, result.output
    nothing_happened(sandbox)


@pytest.mark.parametrize("option", OUTPUT_OPTIONS)
def test_a_fifo_output_is_refused_at_once_never_waited_on(server: Any, option: str) -> None:
    """A FIFO with no reader blocks open() for ever, out of SIGTERM's reach: refused before it is opened."""
    sandbox = server()
    Path("a.csv").write_text(INPUT)
    os.mkfifo("pipe")
    env = {**os.environ, "CG_CLIENT_SECRET": SECRET}
    proc = spawn(
        [CG, "records", "import", "a.csv", "--mapping", "accounts", option, "pipe"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, stderr = proc.communicate(timeout=60)  # a guard against hanging the suite, not a measure
    assert proc.returncode == 2, stderr
    assert "pipe is a FIFO" in stderr
    nothing_happened(sandbox)


def test_stdin_redirected_from_a_file_is_never_an_output(server: Any) -> None:
    """`cg records import - < a.csv --results a.csv` would truncate the very file being read."""
    sandbox = server()
    Path("a.csv").write_text(INPUT)
    env = {**os.environ, "CG_CLIENT_SECRET": SECRET}
    with Path("a.csv").open("rb") as stdin:
        done = subprocess.run(
            [CG, "records", "import", "-", "--format", "csv", "--mapping", "accounts", "--results", "a.csv"],
            stdin=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    assert done.returncode == 2, done.stderr
    assert "a.csv is the input file (stdin)" in done.stderr
    assert Path("a.csv").read_text() == INPUT
    assert sandbox.records() == [] and not Path("stdin.cg-journal").exists()


def test_a_dry_run_checks_its_junit_path_too(cg, server: Any) -> None:
    server()
    Path("a.csv").write_text(INPUT)
    result = import_a(cg, "--dry-run", "--junit", "a.csv")
    assert result.exit_code == 2 and "is the input file" in result.stderr, result.output
    assert Path("a.csv").read_text() == INPUT


@pytest.mark.parametrize("junit", ["a.csv", "pipe", "nodir/r.xml"])
def test_mappings_check_refuses_a_junit_path_it_could_not_write(cg, server: Any, junit: str) -> None:
    server()
    Path("a.csv").write_text(INPUT)
    os.mkfifo("pipe")
    result = cg("mappings", "check", "accounts", "--file", "a.csv", "--junit", junit)
    assert result.exit_code == 2, result.output
    assert Path("a.csv").read_text() == INPUT


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
@pytest.mark.parametrize("where", ["ro/out.csv", "ro/existing.csv"])
def test_an_output_that_may_not_be_written_is_refused_before_anything(cg, server: Any, where: str) -> None:
    sandbox = server()
    Path("a.csv").write_text(INPUT)
    Path("ro").mkdir()
    Path("ro/existing.csv").write_text("x\n")
    Path("ro/existing.csv").chmod(0o444)
    Path("ro").chmod(0o555)
    try:
        result = import_a(cg, "--results", where)
    finally:
        Path("ro").chmod(0o755)
    assert result.exit_code == 2 and "permission denied" in result.stderr, result.output
    nothing_happened(sandbox)


# --- the lock files beside the journal and the state are outputs too -------------------------


@pytest.mark.parametrize(
    ("options", "shown"),
    [
        (["--failed", "a.csv.cg-journal.lock"], "is the journal's lock file and would be the failed file too"),
        (["--results", "a.csv.cg-journal.lock"], "is the journal's lock file and would be the results file too"),
        (["--junit", "a.csv.cg-journal.lock"], "is the journal's lock file and would be the JUnit report too"),
        (["--state", "st.db", "--results", "st.db.lock"], "st.db.lock is the results file and would be the state's"),
        (["--state", "st.db", "--failed", "st.db.lock"], "st.db.lock is the failed file and would be the state's"),
        (["--state", "st.db", "--journal", "st.db.lock"], "st.db.lock is the journal and would be the state's lock"),
        (["--journal", "j", "--state", "j.lock"], "j.lock is the journal's lock file and would be the state too"),
    ],
)
def test_an_output_named_as_a_lock_file_is_refused_before_anything(
    cg, server: Any, options: list[str], shown: str
) -> None:
    """A failed file written over the journal's lock replaces its inode: a second run would then lock a new file."""
    sandbox = server()
    Path("a.csv").write_text(INPUT)
    result = import_a(cg, *options)
    assert result.exit_code == 2, result.output
    assert shown in result.stderr
    nothing_happened(sandbox)
    assert not [p.name for p in Path().iterdir() if p.name.endswith(".lock")]
    assert not Path("st.db").exists() and not Path("j").exists()


def test_a_lock_file_left_by_a_killed_run_is_refused_as_an_output_and_kept(cg, server: Any) -> None:
    sandbox = server()
    Path("a.csv").write_text(INPUT)
    Path("a.csv.cg-journal.lock").write_text("12345\n")
    result = import_a(cg, "--failed", "a.csv.cg-journal.lock")
    assert result.exit_code == 2 and "is the journal's lock file" in result.stderr, result.output
    assert Path("a.csv.cg-journal.lock").read_text() == "12345\n"
    nothing_happened(sandbox)


@pytest.mark.parametrize("side", ["real/st.db.lock", "real/st.db-wal", "real/st.db-shm"])
@pytest.mark.parametrize("exists", [True, False])
def test_the_side_files_of_a_linked_state_are_those_beside_the_real_file(
    cg, server: Any, side: str, exists: bool
) -> None:
    """SQLite follows the link and writes its -wal beside the real file; the lock goes there too."""
    sandbox = server()
    Path("a.csv").write_text(INPUT)
    Path("real").mkdir()
    if exists:
        Path("real/st.db").write_bytes(b"")
    Path("link.db").symlink_to("real/st.db")
    result = import_a(cg, "--state", "link.db", "--results", side)
    assert result.exit_code == 2, result.output
    assert f"{Path(side).resolve()} is the results file and would be the state's " in result.stderr
    nothing_happened(sandbox)
    assert not Path(side).exists()


@pytest.mark.parametrize("option", ["--state", "--journal"])
def test_a_journal_or_state_that_is_a_loop_of_links_is_refused_before_any_lock_file(
    cg, server: Any, option: str
) -> None:
    sandbox = server()
    Path("a.csv").write_text(INPUT)
    Path("loop.db").symlink_to("loop.db")
    result = import_a(cg, option, "loop.db")
    assert result.exit_code == 2, result.output
    assert f"{option[2:]} loop.db: cannot be used (Too many levels of symbolic links)" in result.stderr
    nothing_happened(sandbox)
    assert not [p.name for p in Path().iterdir() if p.name.endswith(".lock")]
