"""The state's rules, in-process: what is remembered, for which configuration, and what --forget drops."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from cg_cli.errors import ExitCode, UsageError
from cg_cli.importing.lock import FileBusy, WriterLock
from cg_cli.importing.state import StateError, StateStore, describe_state, forget_configuration
from tests.test_journal_rules import FailingCommit


def stored(path: Path) -> set[tuple[str, str, bytes]]:
    """What another process opening the file sees: committed rows only."""
    db = sqlite3.connect(path)
    try:
        return set(
            db.execute(
                "SELECT t.configuration, r.key, r.digest FROM records r JOIN targets t USING (target)"
            ).fetchall()
        )
    finally:
        db.close()


def test_a_record_is_unchanged_only_with_the_same_digest_for_the_same_configuration(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    state = StateStore(path, "acc")
    state.remember("Account Name\0acme", b"v1")
    state.close()
    again = StateStore(path, "acc")
    try:
        assert again.unchanged("Account Name\0acme", b"v1")
        assert not again.unchanged("Account Name\0acme", b"v2")
        assert not again.unchanged("Account Name\0other", b"v1")
    finally:
        again.close()
    other = StateStore(path, "contact")  # one writer at a time: opened after the first is closed
    try:
        assert not other.unchanged("Account Name\0acme", b"v1")  # a state never skips a row for another target
    finally:
        other.close()


def test_full_sends_everything_but_still_remembers(tmp_path: Path) -> None:
    from cg_cli.importing.delivery import Delivery, Kind, Verdict
    from cg_cli.importing.jobs import Job
    from cg_cli.records.readers import Row

    path = tmp_path / "s.db"
    state = StateStore(path, "acc")
    state.remember("k", b"v1")
    job = Job(Row(1, {"Account Name": "k"}, [], None, 2), b"v1", ("k",))
    assert Delivery(Kind.ENTITY, state=state, full=True).now(job) == Verdict.SEND  # --full lives in the model
    assert Delivery(Kind.ENTITY, state=state).now(job) == Verdict.UNCHANGED
    state.close()
    assert stored(path) == {("acc", "k", b"v1")}


def test_remembered_records_reach_the_file_at_each_commit(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    state = StateStore(path, "acc")
    try:
        state.remember("k1", b"v1")
        state.commit()
        assert stored(path) == {("acc", "k1", b"v1")}
        state.remember("k1", b"v2")
        state.remember("k2", b"v1")
        state.commit()
        state.commit()  # nothing pending: no error
        assert stored(path) == {("acc", "k1", b"v2"), ("acc", "k2", b"v1")}
    finally:
        state.close()


def test_forget_deletes_one_configuration_for_good(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    for configuration, keys in (("acc", ["a", "b"]), ("contact", ["c"])):
        state = StateStore(path, configuration)
        for key in keys:
            state.remember(key, b"d")
        state.close()
    assert forget_configuration(path, "acc") == 2
    assert stored(path) == {("contact", "c", b"d")}  # the DELETE is committed, not rolled back at close
    again = StateStore(path, "acc")
    try:
        assert not again.unchanged("a", b"d")  # the next push sends it again
    finally:
        again.close()
    assert forget_configuration(path, "acc") == 0
    assert [(c.configuration, c.records) for c in describe_state(path)] == [("contact", 1)]


def test_describe_counts_per_configuration_in_order_with_first_and_last_push(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    for configuration in ("zeta", "alpha", "zeta"):
        state = StateStore(path, configuration)
        state.remember(f"k-{configuration}-{len(describe_state(path)) if path.exists() else 0}", b"d")
        state.close()
    described = describe_state(path)
    assert [(c.configuration, c.records) for c in described] == [("alpha", 1), ("zeta", 2)]
    zeta = described[1]
    assert 0 < zeta.first_pushed <= zeta.last_pushed


@pytest.mark.parametrize("call", [describe_state, lambda p: forget_configuration(p, "acc")])
def test_a_missing_state_is_a_usage_error(tmp_path: Path, call: object) -> None:
    with pytest.raises(StateError, match="does not exist") as raised:
        call(tmp_path / "nope.db")  # type: ignore[operator]
    assert raised.value.exit_code == ExitCode.USAGE


def test_a_directory_a_foreign_file_and_another_version_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a regular file") as directory:  # refused before any lock file
        StateStore(tmp_path, "acc")
    assert directory.value.message == f"state {tmp_path} is not a regular file"
    assert directory.value.hint == "pass another --state"
    junk = tmp_path / "junk.db"
    junk.write_text("not a database at all, and long enough to be read as a header" * 20)
    with pytest.raises(StateError, match="not a cg state file") as raised:
        StateStore(junk, "acc")
    assert raised.value.hint == "pass another --state, or delete it (the next push is then a full one)"
    old = tmp_path / "old.db"
    StateStore(old, "acc").close()
    db = sqlite3.connect(old)
    db.execute("UPDATE meta SET value = '0' WHERE key = 'version'")
    db.commit()
    db.close()
    with pytest.raises(StateError, match="another version of cg") as version:
        StateStore(old, "acc")
    assert version.value.hint is not None and version.value.hint.startswith(
        "delete it (the next push is then a full one"
    )
    with pytest.raises(StateError, match="another version of cg"):
        describe_state(old)


def test_a_write_that_fails_is_a_state_error_naming_the_file(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "s.db", "acc")
    state._db.close()  # as a full disk or a vanished file would leave it
    with pytest.raises(StateError, match=f"cannot write the state {tmp_path / 's.db'} ") as raised:
        state.remember("k", b"d")
    assert raised.value.exit_code == ExitCode.USAGE


def test_a_commit_that_fails_is_a_state_error_and_close_still_closes(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "s.db", "acc")
    real = state._db
    state._db = FailingCommit(real)  # type: ignore[assignment]
    state.remember("k", b"d")
    with pytest.raises(StateError, match=r"cannot write the state .*s\.db \(database or disk is full\)"):
        state.commit()
    with pytest.raises(StateError):
        state.close()
    with pytest.raises(sqlite3.ProgrammingError):
        real.execute("SELECT 1")  # closed all the same
    assert stored(tmp_path / "s.db") == set()  # nothing half-written


def test_remembered_records_stay_invisible_until_the_commit(tmp_path: Path) -> None:
    """A batch is one transaction: a kill before its commit leaves none of it, never a part."""
    path = tmp_path / "s.db"
    state = StateStore(path, "acc")
    try:
        state.remember("k1", b"d")
        state.remember("k2", b"d")
        assert stored(path) == set()
        state.commit()
        assert len(stored(path)) == 2
    finally:
        state.close()


def test_workers_on_other_threads_share_one_state(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    state = StateStore(path, "acc")
    worker = threading.Thread(target=lambda: [state.remember(f"k{i}", b"d") for i in range(50)])
    worker.start()
    worker.join()
    assert not state.unchanged("k1", b"other") and state.unchanged("k49", b"d")
    state.close()
    assert len(stored(path)) == 50


def test_a_state_another_run_holds_in_wal_is_waited_for_ten_seconds(tmp_path: Path) -> None:
    """A reader (records state) or a writer that meets a busy file waits 10 s before it gives up."""
    state = StateStore(tmp_path / "s.db", "acc")
    try:
        assert state._db.execute("PRAGMA busy_timeout").fetchone() == (10000,)
        assert state._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert state._db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL: WAL keeps commits whole
    finally:
        state.close()


def rows_of(path: Path) -> set[tuple[str, str, bytes, str]]:
    """Committed rows with their status, as another process sees them."""
    db = sqlite3.connect(path)
    try:
        found = db.execute(
            "SELECT t.configuration, r.key, r.digest, r.status FROM records r JOIN targets t USING (target)"
        )
        return {(c, k, bytes(d), s) for c, k, d, s in found}
    finally:
        db.close()


def test_one_writer_at_a_time_and_a_dry_run_reads_without_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    writer = StateStore(path, "acc")
    try:
        writer.remember("k", b"d")
        writer.commit()
        with pytest.raises(FileBusy, match=f"^state {path} is in use by process {os.getpid()} "):
            StateStore(path, "acc")
        with pytest.raises(FileBusy, match=f"^state {path} is in use by process {os.getpid()} "):
            forget_configuration(path, "acc")  # --forget is a writer too
        reader = StateStore(path, "other", write=False)  # a dry run, while a push holds the state
        try:
            assert reader.lookup("k") is None  # bound to its own target all the same
        finally:
            reader.close()
        same = StateStore(path, "acc", write=False)
        try:
            assert same.unchanged("k", b"d")
        finally:
            same.close()
    finally:
        writer.close()
    reader = StateStore(path, "new", write=False)
    try:
        StateStore(path, "acc").close()  # a reader holds no lock: a writer gets in beside it
    finally:
        reader.close()
    assert [c.configuration for c in describe_state(path)] == ["acc"]  # a dry run registers no target


def test_a_dry_run_on_a_directory_is_refused_like_a_push(tmp_path: Path) -> None:
    with pytest.raises(StateError) as refused:
        StateStore(tmp_path, "acc", write=False)
    assert refused.value.message == f"state {tmp_path} is not a regular file"
    assert refused.value.hint == "pass another --state"


def test_a_state_that_cannot_be_opened_lets_go_of_its_lock(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("not a database at all, and long enough to be read as a header" * 20)
    with pytest.raises(StateError, match="not a cg state file"):
        StateStore(junk, "acc")
    lock = WriterLock(junk, "state")
    lock.acquire()  # not refused: the failed open released it
    lock.release()


def test_another_versions_state_is_refused_with_the_reason_and_the_way_out(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    StateStore(old, "acc").close()
    db = sqlite3.connect(old)
    db.execute("UPDATE meta SET value = '1' WHERE key = 'version'")
    db.commit()
    db.close()
    with pytest.raises(StateError) as refused:
        StateStore(old, "acc")
    assert refused.value.message == (
        f"state {old} was written by another version of cg (state format 1, this cg reads 2); "
        "format 1 did not record which host and client each record went to"
    )
    assert refused.value.hint == (
        "delete it (the next push is then a full one: accounts are sent again; check survey mappings first), "
        "or pass another --state"
    )


def test_a_survey_row_that_may_have_arrived_is_kept_apart_and_forgotten_only_when_it_surely_did_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    state = StateStore(path, "resp")
    try:
        state.mark_uncertain("event\0aa", b"\xaa")
        state.remember("event\0bb", b"\xbb")
        state.mark_uncertain("event\0cc", b"\xcc")
        state.commit()
        assert rows_of(path) == {("resp", "event\0aa", b"\xaa", "U"), ("resp", "event\0bb", b"\xbb", "A"),
                                 ("resp", "event\0cc", b"\xcc", "U")}  # fmt: skip
        assert state.lookup("event\0aa") == (b"\xaa", False) and state.lookup("event\0bb") == (b"\xbb", True)
        state.forget_uncertain("event\0aa")  # a 422: it certainly did not arrive
        state.forget_uncertain("event\0bb")  # accepted: not forgotten
        state.commit()
        assert rows_of(path) == {("resp", "event\0bb", b"\xbb", "A"), ("resp", "event\0cc", b"\xcc", "U")}
    finally:
        state.close()


def test_before_a_body_leaves_its_key_is_forgotten_or_its_event_marked_and_both_are_on_disk_at_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    state = StateStore(path, "acc")
    try:
        state.remember("acme", b"old")
        state.remember("other", b"d")
        state.commit()
        state.before_send("acme", None)  # an entity about to change: the old value is no longer vouched for
        state.before_send("event\0ee", b"\xee")  # an event: may have arrived from now on
        assert rows_of(path) == {("acc", "other", b"d", "A"), ("acc", "event\0ee", b"\xee", "U")}  # no commit()
        assert state.lookup("acme") is None and state.lookup("event\0ee") == (b"\xee", False)
    finally:
        state.close()


def test_forget_uncertain_only_drops_that_configurations_rows_that_may_have_arrived(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    for configuration in ("resp", "other"):
        state = StateStore(path, configuration)
        state.mark_uncertain("event\0aa", b"\xaa")
        state.remember("event\0bb", b"\xbb")
        state.close()
    assert [(c.configuration, c.records, c.uncertain) for c in describe_state(path)] == [
        ("other", 2, 1),
        ("resp", 2, 1),
    ]
    assert forget_configuration(path, "resp", only_uncertain=True) == 1
    assert rows_of(path) == {("resp", "event\0bb", b"\xbb", "A"), ("other", "event\0aa", b"\xaa", "U"),
                             ("other", "event\0bb", b"\xbb", "A")}  # fmt: skip
    assert forget_configuration(path, "resp", only_uncertain=True) == 0
