"""Private files under the config dir: 0600 files in 0700 dirs, written atomically."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from cg_cli.constants import ENV_CONFIG_DIR
from cg_cli.errors import UsageError

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def ensure_private_dir(path: Path) -> None:
    """Create `path` and any missing parents as 0700; the leaf is made 0700 if it existed."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        os.chmod(directory, PRIVATE_DIR_MODE)
    os.chmod(path, PRIVATE_DIR_MODE)


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` with `data` so that a crash leaves the old file or the new one."""
    import tempfile

    ensure_private_dir(path.parent)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            json.dump(data, tmp, indent=2)
            tmp.write("\n")
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


class CorruptFileError(UsageError):
    def __init__(self, path: Path, why: str) -> None:
        super().__init__(
            f"{path} is not a valid cg file ({why})",
            hint="delete it, or fix it by hand, and run the command again",
        )
        self.path = path


class UnsafeFileError(UsageError):
    """A credentials file or directory that someone else could have written (as ssh refuses)."""


def check_private(path: Path, trusted_root: Path) -> None:
    """Refuse `path`, and each directory up to `trusted_root`, if another user owns it or may write it."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # Windows: ACLs, not modes
        return
    uid = getuid()
    for item in [path, *path.parents]:
        try:
            info = item.lstat()
        except FileNotFoundError:
            pass
        else:
            if info.st_uid != uid:
                raise UnsafeFileError(
                    f"{item} belongs to another user (uid {info.st_uid}): refusing to use credentials from it",
                    hint=f"remove it, or point {ENV_CONFIG_DIR} at a directory of your own",
                )
            if info.st_mode & 0o022:
                fix = f"chmod go-w {item}" if item.is_dir() else f"chmod 600 {item}"
                raise UnsafeFileError(
                    f"{item} can be written by other users (mode {info.st_mode & 0o777:04o}): "
                    "refusing to use credentials from it",
                    hint=f"{fix}, and check that nobody replaced what is in it",
                )
        if item == trusted_root:
            return


def read_private_json(path: Path, trusted_root: Path | None = None) -> dict[str, Any] | None:
    """The JSON object stored at `path`, None when there is no file; with `trusted_root`,
    only from a file and directories no one else could have written."""
    if trusted_root is not None and path.exists():
        check_private(path, trusted_root)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(path, exc.__class__.__name__) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptFileError(path, f"invalid JSON at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise CorruptFileError(path, "not a JSON object")
    return data


def remove_file(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
