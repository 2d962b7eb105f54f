"""Rules of the suite itself: it cannot harm the machine, and `make mutation` runs what it says."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL_DEV = re.compile(r"""["']/dev/""")  # a path under /dev as a string: an output cg could replace or delete


def test_no_test_names_a_real_device() -> None:
    """Device tests make their own nodes (os.mknod in a temporary directory); as root a broken guard, or a mutant
    under `make mutation`, would otherwise replace the machine's /dev/full with a file."""
    naming = [
        f"{path.name}:{number}"
        for path in sorted((ROOT / "tests").glob("*.py"))
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1)
        if REAL_DEV.search(line)
    ]
    assert naming == []


def test_make_mutation_lists_existing_tests_and_unique_names() -> None:
    config = tomllib.loads((ROOT / "tools" / "mutation.toml").read_text("utf-8"))
    names = [m["name"] for m in config["module"]]
    assert len(names) == len(set(names))
    for module in config["module"]:
        if (ROOT / module["path"]).is_file():
            assert any((ROOT / t).is_file() for t in module["tests"]), module["name"]
        assert 0 < module["target"] <= 100
    for entry in config.get("equivalent", []):
        assert entry["module"] in names and entry["reason"].strip() and entry["line"].strip()
