"""`make dist` ships what the include list names, never a file that happens to lie in the clone."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
VENV = Path(sys.prefix)
STRAYS = ("customer-export.csv", "cg_cli/customer-export.csv", "docs/customer-export.csv", "tests/export.jsonl",
          ".env", "accounts.csv", "accounts.csv.cg-journal")  # fmt: skip


def tracked_copy(target: Path) -> Path:
    """The repository's tracked files in `target`, committed there, plus the strays a user leaves in a clone."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=target, check=True)
    subprocess.run([*git, "add", "-A"], cwd=target, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "copy"], cwd=target, check=True)
    for name in STRAYS:
        (target / name).write_text("Account Name,Email\nACME,joe.doe@example.com\n")
    return target


@pytest.mark.skipif(
    not (shutil.which("make") and shutil.which("git") and (ROOT / ".git").exists()), reason="needs make, git, a clone"
)
def test_make_dist_leaves_untracked_files_out(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    repo = tracked_copy(tmp_path / "repo")
    done = subprocess.run(
        ["make", "-o", str(VENV / ".installed-stamp"), f"VENV={VENV}", "dist"],
        cwd=repo, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (sdist,) = (repo / "dist").glob("*.tar.gz")
    (wheel,) = (repo / "dist").glob("*.whl")
    with tarfile.open(sdist) as archive:
        shipped = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
        metadata = archive.extractfile(next(n for n in archive.getnames() if n.endswith("/PKG-INFO")))
        assert metadata is not None
        info = metadata.read().decode()
    assert not shipped & set(STRAYS), shipped & set(STRAYS)
    assert {"cg_cli/__init__.py", "tests/conftest.py", "docs/ci.md", "README.md", "LICENSE", "CHANGELOG.md",
            "action.yml", "pyproject.toml"} <= shipped  # fmt: skip
    assert not any(name.startswith(("bench/", ".ci/", ".env")) for name in shipped)
    with zipfile.ZipFile(wheel) as archive:
        assert not any(name.endswith((".csv", ".jsonl", ".env")) for name in archive.namelist())
    assert "Project-URL: Source, " in info and "Classifier: Programming Language :: Python :: 3.11" in info
    assert f"{wheel.name}: OK" in done.stdout  # check-wheel-contents ran and passed
