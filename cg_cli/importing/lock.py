"""One writer per journal and per state: a lock file beside it (`PATH.lock`) holding the writer's pid.

The lock is the operating system's (`flock` on POSIX, `msvcrt.locking` on Windows), so it ends with the
process that held it: a run killed with SIGKILL leaves a file, never a lock. A second process is refused
at once, naming the file and the pid that holds it.

The lock follows the file, not the name it was given: a path with a symbolic link on it is locked beside
the file the link leads to (where SQLite writes its -wal too), so every name that reaches the file reaches
one lock. A hard link cannot be followed back to the other names, so a file with more than one is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from pathlib import Path

from cg_cli.errors import UsageError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # POSIX; Windows has no symbolic-link trap to avoid here


class FileBusy(UsageError):
    """Another process holds the journal or state."""


def followed(path: Path) -> Path:
    """`path` itself when no symbolic link is on it; else the file its links lead to (absolute), existing or not."""
    real = os.path.realpath(path)
    return path if real == os.path.abspath(path) else Path(real)


def lock_path_for(path: Path) -> Path:
    """The lock file of a journal or state: beside the real file, whatever name reached it."""
    return Path(f"{followed(path)}.lock")


class WriterLock:
    def __init__(self, path: Path, what: str) -> None:
        self.path = path  # the journal or state this lock guards, as the user named it
        self.lock_path = lock_path_for(path)
        self._what = what
        self._fd: int | None = None

    def acquire(self) -> None:
        """Hold the lock, or raise FileBusy at once. Idempotent."""
        self._refuse_what_one_lock_cannot_guard()  # before any lock file is made
        while self._fd is None:
            try:  # never through a symbolic link: a planted one would have us overwrite its target with a pid
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
            except OSError as exc:
                why = f"{self.lock_path} is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
                hint = self._hint if exc.errno in (errno.ELOOP, errno.EISDIR) else None
                raise UsageError(f"cannot lock {self._what} {self.path} ({why})", hint=hint) from None
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or a device node where the lock file goes
                os.close(fd)
                raise UsageError(
                    f"cannot lock {self._what} {self.path} ({self.lock_path} is not a regular file)", hint=self._hint
                )
            if not _try_lock(fd):
                holder = _read_pid(fd)
                os.close(fd)
                who = f"process {holder}" if holder else "another process"
                raise FileBusy(
                    f"{self._what} {self.path} is in use by {who} (lock {self.lock_path})",
                    hint="wait for that run to end, or stop it; a second run on one file could send rows twice",
                )
            if not _same_file(fd, self.lock_path):  # the holder removed it as we opened it: take the new one
                os.close(fd)
                continue
            try:  # again, held: a link made since the first look (`ln -f`) would escape this lock
                self._refuse_what_one_lock_cannot_guard()
            except UsageError:
                os.close(fd)
                raise
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd

    def _refuse_what_one_lock_cannot_guard(self) -> None:
        try:
            info = self.path.stat()
        except OSError:
            return  # not there yet (or unreadable: opening it says why)
        if not stat.S_ISREG(info.st_mode):  # never a lock file beside /dev/null or a FIFO
            raise UsageError(f"{self._what} {self.path} is not a regular file", hint=f"pass another --{self._what}")
        if info.st_nlink > 1:
            raise UsageError(
                f"{self._what} {self.path} has {info.st_nlink} hard links: a lock on one name cannot hold the others",
                hint="keep one name for it (remove the others once no cg run uses them), "
                f"or pass another --{self._what}",
            )

    @property
    def _hint(self) -> str:
        return f"remove {self.lock_path} if no cg run is using it, or pass another --{self._what}"

    def release(self, *, remove: bool = False) -> None:
        """Let go; `remove` deletes the lock file first (while held, so no one locks a file that is gone)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if remove:
            with contextlib.suppress(OSError):
                self.lock_path.unlink()
        os.close(fd)  # closing the descriptor ends the lock


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows runners only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip() if hasattr(os, "pread") else ""
        return int(text) if text.isdigit() else None
    except OSError:
        return None


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
