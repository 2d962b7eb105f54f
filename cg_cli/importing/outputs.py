"""The files an import writes, checked before anything is created or sent.

Each must be openable as an output: its directory exists, it is not a directory, and it
is not a FIFO or socket (opening a FIFO with no reader blocks for ever, out of SIGTERM's
reach). A character device such as /dev/null takes what it is given; the journal and
the state are SQLite files and must be regular files.

No output may be the input, or another output. Files are compared by device and inode,
so a hard link, a symlink or a bind mount of the input is caught; a path that does not
exist yet is compared by its directory's inode and its name ignoring case (two names
that differ only in case are one file on macOS and Windows, so they are refused
everywhere). SQLite also writes `-wal` and `-shm` beside a journal or state, and cg its
`.lock` (lock.py): those are outputs too, beside the real file when a link leads to it. A
failed file written over a lock file would replace its inode, and a second run would lock
the new one beside a live run.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from cg_cli.errors import UsageError
from cg_cli.importing.lock import followed, lock_path_for

# The roles a path plays, as the messages name them.
JOURNAL = "journal"
FAILED_FILE = "failed file"
RESULTS_FILE = "results file"
STATE = "state"
JUNIT = "JUnit report"
_SQLITE_ROLES = (JOURNAL, STATE)  # SQLite files: regular files only, with side files
_SIDE_FILES = {"-wal": "WAL file", "-shm": "SHM file"}


class Output(NamedTuple):
    role: str
    path: Path


# (device, inode) of an existing file; (device, inode of its directory, name folded) of a new one.
Identity = tuple[int, int] | tuple[int, int, str]


def check_outputs(input_path: str, outputs: Sequence[Output]) -> None:
    """Refuse (exit 2) an output that cannot be opened, or that is the input or another output."""
    seen: dict[Identity, str] = {}
    source = _input_identity(input_path)
    if source is not None:
        seen[source] = "the input file" + (" (stdin)" if input_path == "-" else "")
    for role, path in outputs:
        _check_openable(role, path)
        for name, each in _with_side_files(role, path):
            identity = _identity(each)
            if identity is None:
                continue  # a character device (/dev/null) takes any number of outputs
            if identity in seen:
                raise UsageError(
                    f"{each} is {seen[identity]} and would be the {name} too: cg would overwrite it",
                    hint="name another path",
                )
            seen[identity] = f"the {name}"


def _with_side_files(role: str, path: Path) -> list[tuple[str, Path]]:
    """The output, and for a journal or state the files written beside it (beside the real one, for a link)."""
    if role not in _SQLITE_ROLES:
        return [(role, path)]
    real = followed(path)
    sides = [(f"{role}'s {name}", Path(f"{real}{suffix}")) for suffix, name in _SIDE_FILES.items()]
    return [(role, path), *sides, (f"{role}'s lock file", lock_path_for(path))]


def _check_openable(role: str, path: Path) -> None:
    """Open-ability without opening: nothing is created, and a FIFO is never waited on."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # a new file (or a.csv/r.csv): its directory decides
        _check_directory(role, path)
        return
    except OSError as exc:
        raise UsageError(f"{role} {path}: cannot be used ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{role} {path} is a directory, not a file", hint="name a file in it")
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket"
        raise UsageError(
            f"{role} {path} is {kind}: cg writes its outputs to regular files",
            hint="name a regular file (or /dev/null to discard it)",
        )
    if not stat.S_ISREG(mode) and (role in _SQLITE_ROLES or not stat.S_ISCHR(mode)):
        raise UsageError(f"{role} {path} is not a regular file", hint=f"pass another --{role.split()[0].lower()}")
    if not os.access(path, os.W_OK):
        raise UsageError(f"{role} {path}: permission denied", hint="make it writable, or name another path")


def _check_directory(role: str, path: Path) -> None:
    """A new file: the directory it goes in must exist."""
    directory = Path(os.path.realpath(path)).parent  # a dangling symlink creates its target
    shown = path.parent if path.parent != Path() else directory
    try:
        mode = directory.stat().st_mode
    except FileNotFoundError:
        raise UsageError(f"{role} {path}: directory {shown} does not exist", hint="create it first") from None
    except NotADirectoryError:
        raise UsageError(f"{role} {path}: {_first_file(path)} is not a directory") from None
    except OSError as exc:
        raise UsageError(f"{role} {path}: cannot be created ({exc.strerror})") from None
    if not stat.S_ISDIR(mode):
        raise UsageError(f"{role} {path}: {shown} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"{role} {path}: cannot create a file in {shown} (permission denied)")


def _first_file(path: Path) -> Path:
    """The part of `path` that exists and is not a directory (a.csv in a.csv/r.csv)."""
    for parent in reversed(path.parents):
        if parent != Path() and parent.exists() and not parent.is_dir():
            return parent
    return path.parent


def _identity(path: Path) -> Identity | None:
    try:
        info = path.stat()
    except OSError:
        directory = Path(os.path.realpath(path))
        try:
            parent = directory.parent.stat()
        except OSError:  # a side file whose directory is the output's own, checked already
            return None
        return (parent.st_dev, parent.st_ino, directory.name.casefold())
    if stat.S_ISCHR(info.st_mode):
        return None
    return (info.st_dev, info.st_ino)


def _input_identity(input_path: str) -> Identity | None:
    """The input's file; for `-`, the file stdin is redirected from, if it is one."""
    if input_path != "-":
        with contextlib.suppress(OSError):
            info = os.stat(input_path)
            return (info.st_dev, info.st_ino)
        return None
    with contextlib.suppress(AttributeError, OSError, ValueError):  # a test runner's stdin has no descriptor
        info = os.fstat(sys.stdin.fileno())
        if stat.S_ISREG(info.st_mode):
            return (info.st_dev, info.st_ino)
    return None
