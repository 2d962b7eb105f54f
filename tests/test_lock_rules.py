"""The writer lock's rules, in-process: one writer per journal or state, refused at once, naming the holder.

`flock` locks belong to an open file description, so two `WriterLock`s in one process contend exactly as
two processes do; `test_delivery.py` proves the same across processes.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from cg_cli.errors import ExitCode, UsageError
from cg_cli.importing import lock as lock_module
from cg_cli.importing.lock import FileBusy, WriterLock


@pytest.fixture
def held(tmp_path: Path) -> Iterator[WriterLock]:
    first = WriterLock(tmp_path / "s.db", "state")
    first.acquire()
    yield first
    first.release()


def test_the_lock_file_holds_the_writers_pid_alone_and_is_not_world_writable(tmp_path: Path) -> None:
    path = tmp_path / "j.cg-journal"
    lock_path = tmp_path / "j.cg-journal.lock"
    lock_path.write_text("9" * 30 + "\n")  # left by a killed run with a longer pid: overwritten, not appended to
    writer = WriterLock(path, "journal")
    writer.acquire()
    try:
        assert writer.lock_path == lock_path and writer.path == path
        assert lock_path.read_text() == f"{os.getpid()}\n"
        assert not path.exists()  # the lock never creates the file it guards
    finally:
        writer.release()


def test_a_new_lock_file_is_made_readable_by_others_so_they_can_name_the_holder(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        writer = WriterLock(tmp_path / "s.db", "state")
        writer.acquire()
    finally:
        os.umask(old)
    try:
        assert (tmp_path / "s.db.lock").stat().st_mode & 0o777 == 0o644
    finally:
        writer.release()


def test_a_second_writer_is_refused_at_once_naming_the_pid_and_the_lock(held: WriterLock, tmp_path: Path) -> None:
    second = WriterLock(tmp_path / "s.db", "state")
    with pytest.raises(FileBusy) as refused:
        second.acquire()
    message = str(refused.value)
    assert message == f"state {tmp_path / 's.db'} is in use by process {os.getpid()} (lock {held.lock_path})"
    assert refused.value.exit_code == ExitCode.USAGE
    assert refused.value.hint == (
        "wait for that run to end, or stop it; a second run on one file could send rows twice"
    )
    assert (tmp_path / "s.db.lock").read_text() == f"{os.getpid()}\n"  # the holder's pid is left as it was


@pytest.mark.parametrize("content", [b"", b"not a pid\n", b"\xff\xfe\n", b"-12\n"])
def test_a_holder_whose_pid_cannot_be_read_is_another_process(held: WriterLock, content: bytes) -> None:
    held.lock_path.write_bytes(content)
    with pytest.raises(FileBusy, match=r"is in use by another process \(lock "):
        WriterLock(held.path, "state").acquire()


def test_only_the_first_32_bytes_name_the_holder(held: WriterLock) -> None:
    held.lock_path.write_bytes(b"4" * 31 + b"5")
    with pytest.raises(FileBusy) as refused:
        WriterLock(held.path, "state").acquire()
    assert f"by process {'4' * 31}5 " in str(refused.value)


def test_release_lets_the_next_writer_in_and_keeps_or_removes_the_lock_file(tmp_path: Path) -> None:
    first = WriterLock(tmp_path / "s.db", "state")
    first.acquire()
    first.acquire()  # idempotent: the same holder asking again is not refused
    first.release()
    first.release()  # idempotent too
    assert (tmp_path / "s.db.lock").exists()  # a plain release leaves the file (a kill leaves it as well)
    second = WriterLock(tmp_path / "s.db", "state")
    second.acquire()
    second.release(remove=True)
    assert not (tmp_path / "s.db.lock").exists()
    third = WriterLock(tmp_path / "s.db", "state")
    third.acquire()
    try:
        with pytest.raises(FileBusy):
            WriterLock(tmp_path / "s.db", "state").acquire()
    finally:
        third.release(remove=True)


def test_a_path_that_is_not_a_regular_file_is_refused_before_any_lock_file(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(UsageError) as refused:
        WriterLock(tmp_path / "dir", "journal").acquire()
    assert str(refused.value) == f"journal {tmp_path / 'dir'} is not a regular file"
    assert refused.value.hint == "pass another --journal"
    assert refused.value.exit_code == ExitCode.USAGE
    assert not (tmp_path / "dir.lock").exists()


def test_a_lock_that_cannot_be_made_is_a_usage_error_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "s.db"
    with pytest.raises(UsageError) as refused:
        WriterLock(path, "state").acquire()
    assert str(refused.value) == f"cannot lock state {path} (No such file or directory)"
    assert refused.value.hint is None
    assert not isinstance(refused.value, FileBusy)


def test_a_lock_file_removed_by_its_holder_as_we_opened_it_is_made_again_and_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = WriterLock(tmp_path / "s.db", "state")
    real, calls = lock_module._try_lock, list[int]()

    def holder_leaves_first(fd: int) -> bool:
        if not calls:  # the holder unlinks the file and lets go just as we opened it
            writer.lock_path.unlink()
        calls.append(fd)
        return real(fd)

    monkeypatch.setattr(lock_module, "_try_lock", holder_leaves_first)
    writer.acquire()
    monkeypatch.undo()
    try:
        assert len(calls) == 2  # the orphaned descriptor was dropped, the new file locked
        assert writer.lock_path.read_text() == f"{os.getpid()}\n"
        with pytest.raises(FileBusy):  # the file on disk is the one held
            WriterLock(tmp_path / "s.db", "state").acquire()
    finally:
        writer.release()


def test_same_file_compares_the_descriptor_with_the_path(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("")
    b.write_text("")
    fd = os.open(a, os.O_RDONLY)
    try:
        assert lock_module._same_file(fd, a)
        assert not lock_module._same_file(fd, b)
        assert not lock_module._same_file(fd, tmp_path / "gone")
    finally:
        os.close(fd)


def test_release_with_remove_lets_go_even_when_the_lock_file_is_already_gone(tmp_path: Path) -> None:
    writer = WriterLock(tmp_path / "s.db", "state")
    writer.acquire()
    writer.lock_path.unlink()  # someone tidied up behind our back
    writer.release(remove=True)
    assert not writer.lock_path.exists()
    again = WriterLock(tmp_path / "s.db", "state")
    again.acquire()
    again.release(remove=True)


def test_without_pread_the_holder_is_another_process(held: WriterLock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "pread")  # Windows has no pread: the holder is not named, and nothing crashes
    with pytest.raises(FileBusy, match=r"is in use by another process \(lock "):
        WriterLock(held.path, "state").acquire()


def test_on_windows_one_byte_is_locked_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int, int]] = []
    busy = [False]

    def locking(fd: int, mode: int, nbytes: int) -> None:
        calls.append((fd, mode, nbytes))
        if busy[0]:
            raise OSError(36, "Resource deadlock avoided")

    msvcrt = types.ModuleType("msvcrt")
    msvcrt.LK_NBLCK = 2  # type: ignore[attr-defined]
    msvcrt.LK_LOCK = 1  # type: ignore[attr-defined]
    msvcrt.locking = locking  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "msvcrt", msvcrt)
    monkeypatch.setattr(sys, "platform", "win32")
    assert lock_module._try_lock(5) is True
    busy[0] = True
    assert lock_module._try_lock(6) is False
    assert calls == [(5, 2, 1), (6, 2, 1)]  # non-blocking (LK_NBLCK), one byte, on the descriptor given


def test_a_symbolic_link_where_the_lock_file_goes_is_refused_and_its_target_left_alone(tmp_path: Path) -> None:
    """As root, following a planted link would overwrite any file on the machine with a pid."""
    precious = tmp_path / "precious"
    precious.write_text("keep me\n")
    (tmp_path / "s.db.lock").symlink_to(precious)
    with pytest.raises(UsageError) as refused:
        WriterLock(tmp_path / "s.db", "state").acquire()
    assert str(refused.value) == f"cannot lock state {tmp_path / 's.db'} ({tmp_path / 's.db.lock'} is a symbolic link)"
    assert refused.value.hint == f"remove {tmp_path / 's.db.lock'} if no cg run is using it, or pass another --state"
    assert refused.value.exit_code == ExitCode.USAGE
    assert precious.read_text() == "keep me\n"


def test_a_fifo_or_a_directory_where_the_lock_file_goes_is_a_usage_error(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "f.db.lock")
    with pytest.raises(UsageError) as fifo:
        WriterLock(tmp_path / "f.db", "journal").acquire()
    assert (
        str(fifo.value) == f"cannot lock journal {tmp_path / 'f.db'} ({tmp_path / 'f.db.lock'} is not a regular file)"
    )
    assert fifo.value.hint == f"remove {tmp_path / 'f.db.lock'} if no cg run is using it, or pass another --journal"
    (tmp_path / "d.db.lock").mkdir()
    with pytest.raises(UsageError) as directory:
        WriterLock(tmp_path / "d.db", "journal").acquire()
    assert str(directory.value) == f"cannot lock journal {tmp_path / 'd.db'} (Is a directory)"
    assert directory.value.hint is not None and directory.value.hint.startswith(f"remove {tmp_path / 'd.db.lock'} ")


# --- the lock follows the file, not the name it was given -------------------------------------


def held_at(path: Path, what: str = "state") -> WriterLock:
    writer = WriterLock(path, what)
    writer.acquire()
    return writer


def test_a_symbolic_link_to_a_held_state_is_refused_and_makes_no_lock_file_of_its_own(held: WriterLock) -> None:
    link = held.path.parent / "link.db"
    link.symlink_to("s.db")
    held.path.write_text("")
    second = WriterLock(link, "state")
    assert second.lock_path == held.path.parent.resolve() / "s.db.lock"  # beside the real file
    with pytest.raises(FileBusy) as refused:
        second.acquire()
    assert str(refused.value) == f"state {link} is in use by process {os.getpid()} (lock {second.lock_path})"
    assert not (held.path.parent / "link.db.lock").exists()


def test_a_chain_of_links_and_a_relative_link_in_another_directory_reach_the_same_lock(tmp_path: Path) -> None:
    (tmp_path / "s.db").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "one").symlink_to("../s.db")  # relative to the link's own directory
    (tmp_path / "two").symlink_to(tmp_path / "sub" / "one")
    writer = held_at(tmp_path / "two")
    try:
        for other in (tmp_path / "s.db", tmp_path / "sub" / "one"):
            with pytest.raises(FileBusy):
                WriterLock(other, "state").acquire()
    finally:
        writer.release()


def test_a_link_to_a_state_not_yet_created_locks_beside_the_file_it_will_create(tmp_path: Path) -> None:
    """SQLite creates the link's target (and its -wal beside it): the lock goes there too."""
    (tmp_path / "real").mkdir()
    (tmp_path / "new.db").symlink_to(tmp_path / "real" / "s.db")
    writer = held_at(tmp_path / "new.db")
    try:
        assert writer.lock_path == tmp_path.resolve() / "real" / "s.db.lock"
        assert not (tmp_path / "real" / "s.db").exists()  # the lock never creates the file it guards
        with pytest.raises(FileBusy):
            WriterLock(tmp_path / "real" / "s.db", "state").acquire()
    finally:
        writer.release()


def test_a_directory_reached_through_a_link_and_a_relative_name_reach_the_same_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "via").symlink_to("real", target_is_directory=True)
    monkeypatch.chdir(tmp_path / "real")
    writer = held_at(Path("s.db"), "journal")
    try:
        assert writer.lock_path == Path("s.db.lock")  # no link on the way: the name as given, in messages too
        for other in (tmp_path / "via" / "s.db", tmp_path / "real" / "s.db", Path("../via/s.db")):
            with pytest.raises(FileBusy):
                WriterLock(other, "journal").acquire()
    finally:
        writer.release()


@pytest.mark.parametrize("what", ["state", "journal"])
def test_a_file_with_another_hard_link_is_refused_naming_the_count_before_any_lock_file(
    tmp_path: Path, what: str
) -> None:
    """A lock named after one name cannot hold the file against a run that reaches it by another."""
    path = tmp_path / "s.db"
    path.write_text("")
    os.link(path, tmp_path / "hard.db")
    os.link(path, tmp_path / "third.db")
    for name in (path, tmp_path / "hard.db"):
        with pytest.raises(UsageError) as refused:
            WriterLock(name, what).acquire()
        assert str(refused.value) == f"{what} {name} has 3 hard links: a lock on one name cannot hold the others"
        assert refused.value.hint == (
            f"keep one name for it (remove the others once no cg run uses them), or pass another --{what}"
        )
        assert refused.value.exit_code == ExitCode.USAGE and not isinstance(refused.value, FileBusy)
    assert not list(tmp_path.glob("*.lock"))  # no lock file made


def test_a_hard_link_made_while_the_lock_was_being_taken_is_refused_and_the_lock_let_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.db"
    path.write_text("")
    real = lock_module._try_lock

    def linked_meanwhile(fd: int) -> bool:  # `ln -f s.db other.db` between the first look and the lock
        if not (tmp_path / "other.db").exists():
            os.link(path, tmp_path / "other.db")
        return real(fd)

    monkeypatch.setattr(lock_module, "_try_lock", linked_meanwhile)
    with pytest.raises(UsageError, match="has 2 hard links"):
        WriterLock(path, "state").acquire()
    monkeypatch.undo()
    (tmp_path / "other.db").unlink()
    held_at(path).release()  # the refused attempt holds nothing
