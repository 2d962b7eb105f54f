"""`make mutation`: mutmut over the modules whose rules matter, each against the tests that reach it.

Each module listed in tools/mutation.toml is mutated alone, in a throwaway copy of the
repository, and only its listed tests run against each mutant (mutmut picks, per mutant, the
tests that called the mutated function). A module gets a time budget; mutants left unrun when it
runs out are counted as not run, and the score says so. The raw score is killed ÷ all mutants,
equivalent survivors included; survivors that tools/mutation.toml lists as equivalent are
counted apart, and every other survivor is printed with its diff so the next test is easy to write.

    .venv/bin/python tools/mutation.py [--only NAME]... [--budget SECONDS] [--jobs N] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tools" / "mutation.toml"
MUTMUT = Path(sys.executable).parent / "mutmut"
KILLED = {"killed", "timeout", "segfault", "caught by type check"}
NOT_RUN = {"not checked", "skipped"}


@dataclass
class Score:
    name: str
    path: str
    target: float
    statuses: dict[str, str] = field(default_factory=dict)  # mutant → status
    equivalent: dict[str, str] = field(default_factory=dict)  # mutant → reason
    unexplained: list[str] = field(default_factory=list)  # diffs of survivors nobody explained
    stopped: bool = False  # the time budget ran out

    def count(self, *statuses: str) -> int:
        return sum(1 for s in self.statuses.values() if s in statuses)

    @property
    def raw(self) -> float:
        total = len(self.statuses)
        return 100.0 * self.count(*KILLED) / total if total else 0.0

    def line(self) -> str:
        total = len(self.statuses)
        survived = self.count("survived")
        parts = [
            f"{self.count(*KILLED)} killed",
            f"{survived} survived ({len(self.equivalent)} equivalent)",
            f"{self.count('no tests')} no test reaches",
        ]
        if not_run := self.count(*NOT_RUN):
            parts.append(f"{not_run} not run (time budget)")
        verdict = "ok" if self.raw >= self.target else "BELOW TARGET"
        return (
            f"{self.name:<15} {self.path:<32} {total:>4} mutants: {', '.join(parts)}; "
            f"raw {self.raw:.1f} % (target {self.target:g} %) {verdict}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="a module name from tools/mutation.toml")
    parser.add_argument("--budget", type=float, default=float(os.environ.get("MUTATION_BUDGET", 1200)))
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATION_JOBS", 2)))
    parser.add_argument("--keep", action="store_true", help="keep each module's work directory")
    parser.add_argument("--quiet", action="store_true", help="no diffs of unexplained survivors")
    args = parser.parse_args()
    config = tomllib.loads(CONFIG.read_text("utf-8"))
    modules = [m for m in config["module"] if not args.only or m["name"] in args.only]
    if args.only and not modules:
        parser.error(f"no module named {args.only}; see {CONFIG.relative_to(ROOT)}")
    scores: list[Score] = []
    for module in modules:
        if not (ROOT / module["path"]).is_file():
            print(f"{module['name']:<15} {module['path']:<32} not in this tree (listed for when it lands)", flush=True)
            continue
        score = run_module(module, config, args.budget, args.jobs, args.keep)
        scores.append(score)
        if not args.quiet:
            for diff in score.unexplained:
                print(diff, flush=True)
        print(score.line(), flush=True)
    print("\nscores (raw: killed ÷ all mutants, equivalents included)")
    for score in scores:
        print(score.line())
    return 0 if all(s.raw >= s.target and not s.stopped for s in scores) else 1


def run_module(module: dict[str, Any], config: dict[str, Any], budget: float, jobs: int, keep: bool) -> Score:
    work = Path(tempfile.mkdtemp(prefix="cg-mutation-"))
    score = Score(module["name"], module["path"], float(module["target"]))
    try:
        prepare(work, module)
        log = work / "mutmut.log"
        print(f"{module['name']}: mutating {module['path']} (log: {log})", flush=True)
        with log.open("wb") as out:
            child = subprocess.Popen(
                [str(MUTMUT), "run", "--max-children", str(jobs)],
                cwd=work,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the budget ends mutmut and every test process it started
            )
            try:
                child.wait(timeout=budget)
            except subprocess.TimeoutExpired:
                score.stopped = True
                stop(child)
        score.statuses = results(work)
        alive = [m for m, status in score.statuses.items() if status in ("survived", "no tests")]
        diffs = show(work, alive)
        for mutant in alive:
            status, diff = score.statuses[mutant], diffs.get(mutant, f"# {mutant}: (no diff)")
            reason = equivalent_reason(module["name"], mutant, diff, config)
            if reason is not None and status == "survived":
                score.equivalent[mutant] = reason
            else:
                score.unexplained.append(diff)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return score


def prepare(work: Path, module: dict[str, Any]) -> None:
    """A copy of the package, the tests and pyproject.toml, with mutmut told what to mutate and run."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    shutil.copytree(ROOT / "cg_cli", work / "cg_cli", ignore=ignore)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
    tests = [t for t in module["tests"] if (ROOT / t).is_file()]
    settings = {
        "source_paths": ["cg_cli"],
        "only_mutate": [module["path"]],
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-q"],
        "pytest_add_cli_args_test_selection": tests,
        "use_git_change_detection": False,
    }
    lines = [f"{key} = {toml_value(value)}" for key, value in settings.items()]
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    (work / "pyproject.toml").write_text(text + "\n[tool.mutmut]\n" + "\n".join(lines) + "\n", "utf-8")


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def stop(child: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def results(work: Path) -> dict[str, str]:
    out = subprocess.run([str(MUTMUT), "results", "--all", "true"], cwd=work, capture_output=True, text=True)
    found = {}
    for line in out.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            found[name] = status
    return found


SHOW = """
import sys
from mutmut.__main__ import find_mutant, get_diff_for_mutant
for name in sys.stdin.read().split():
    print(f"\\0{name}\\0# {name}")
    print(get_diff_for_mutant(name, path=find_mutant(name).path))
"""


def show(work: Path, mutants: list[str]) -> dict[str, str]:
    """Each mutant's diff, from one process (`mutmut show` per mutant costs seconds each)."""
    if not mutants:
        return {}
    out = subprocess.run(
        [sys.executable, "-c", SHOW], cwd=work, input="\n".join(mutants), capture_output=True, text=True
    ).stdout
    parts = out.split("\0")[1:]
    return dict(zip(parts[0::2], parts[1::2], strict=True))


def equivalent_reason(module: str, mutant: str, diff: str, config: dict[str, Any]) -> str | None:
    """The reason tools/mutation.toml gives for this survivor: listed by function and mutated line, or a rule."""
    function = re.sub(r"__mutmut_\d+$", "", mutant).rpartition(".")[2]
    function = function[2:] if function.startswith("x_") else function.replace("xǁ", "", 1).replace("ǁ", ".")
    removed = [line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    for entry in config.get("equivalent", []):
        if entry["module"] == module and entry["function"] == function and entry["line"].strip() in added:
            return str(entry["reason"])
    for rule in config.get("equivalent_rule", []):
        same_but_case = [r.casefold() for r in removed] == [a.casefold() for a in added] and removed != added
        # A value inside the SQL ('U', a status) is data, not a keyword: its case matters.
        same_values = [re.findall(r"'[^']*'", r) for r in removed] == [re.findall(r"'[^']*'", a) for a in added]
        same_but_case = same_but_case and same_values
        if same_but_case and all(re.search(rule["pattern"], line) for line in removed):
            return str(rule["reason"])
    return None


if __name__ == "__main__":
    sys.exit(main())
