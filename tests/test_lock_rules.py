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
