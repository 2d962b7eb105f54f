"""Tab completion in real bash, zsh and fish (each skipped when the shell is missing).

Each test sources (or, for zsh, autoloads from $fpath with compinit) the script `cg completion SHELL`
prints, and asks the shell to complete as a user's Tab would: mapping names come from the file the
command would read, profile names from the config dir, fixed values from cg itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CG = shutil.which("cg", path=str(Path(sys.executable).parent)) or "cg"
MAPPINGS = """\
[accounts]
reference = "r1"
type = "account"
fields = ["Account Name"]

[contacts]
reference = "contact"
type = "contact"
fields = ["Email"]
"""


def _shell(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"no {name} on this machine")
    return found


def _env(clean_env: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(CG).parent}{os.pathsep}{os.environ['PATH']}", "HOME": str(clean_env / "home")}


@pytest.fixture
def files(clean_env: Path) -> Path:
    Path("cg-mappings.toml").write_text(MAPPINGS)
    Path("other.toml").write_text('[elsewhere]\nreference = "r9"\ntype = "account"\nfields = ["Account Name"]\n')
    profiles = clean_env / "config" / "profiles"
    profiles.mkdir(parents=True)
    for name in ("default", "staging"):
        (profiles / f"{name}.json").write_text("{}")
    return clean_env


# (words typed before the Tab, what must be offered)
CASES = [
    (["records", "import", "x.csv", "--mapping"], ["accounts", "contacts"]),
    (["records", "put", "-m"], ["accounts", "contacts"]),
    (["mappings", "show"], ["accounts", "contacts"]),
    (["records", "import", "x.csv", "--mappings-file", "other.toml", "--mapping"], ["elsewhere"]),
    (["--region"], ["eu", "us", "au"]),
    (["records", "put", "--region"], ["eu", "us", "au"]),
    (["--profile"], ["default", "staging"]),
    (["auth", "status", "-o"], ["text", "json"]),
    (["records", "import", "x.csv", "--duplicates"], ["ordered", "last", "error"]),
    (["records", "import", "x.csv", "--ci"], ["github", "none"]),
    (["records", "import", "x.csv", "--format"], ["csv", "jsonl"]),
    (["mappings", "init", "n", "--type"], ["account", "contact", "multi-object", "survey-response"]),
    (["completion"], ["bash", "zsh", "fish"]),
]


def _offered(output: str, tag: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(tag))
    return line[len(tag) :].split()


@pytest.mark.parametrize(("words", "expected"), CASES)
def test_bash_completes_names_and_values(files: Path, words: list[str], expected: list[str]) -> None:
    bash = _shell("bash")
    typed = " ".join(["cg", *words, '""'])
    script = (
        "source <(cg completion bash)\n"
        f"COMP_WORDS=({typed}); COMP_CWORD={len(words) + 1}; _cg_completion cg\n"
        'echo "offered:${COMPREPLY[*]}"'
    )
    done = subprocess.run([bash, "--norc", "-c", script], capture_output=True, text=True, env=_env(files), timeout=60)
    assert sorted(_offered(done.stdout, "offered:")) == sorted(expected), done.stdout + done.stderr


@pytest.mark.parametrize(("words", "expected"), CASES)
def test_fish_completes_names_and_values(files: Path, words: list[str], expected: list[str]) -> None:
    fish = _shell("fish")
    line = " ".join(["cg", *words, ""])
    script = f"cg completion fish | source; complete -C '{line}' | string replace -r '\\t.*' ''"
    done = subprocess.run(
        [fish, "--no-config", "-c", script], capture_output=True, text=True, env=_env(files), timeout=60
    )
    assert sorted(done.stdout.split()) == sorted(expected), done.stdout + done.stderr


@pytest.mark.parametrize(("words", "expected"), CASES)
def test_zsh_completes_names_and_values_autoloaded_from_fpath(
    files: Path, words: list[str], expected: list[str]
) -> None:
    zsh = _shell("zsh")
    functions = files / "home" / ".zfunc"
    functions.mkdir()
    (functions / "_cg").write_text(subprocess.run([CG, "completion", "zsh"], capture_output=True, text=True).stdout)
    words_array = " ".join(["cg", *words, '""'])
    # The install line of `cg completion --help`, then the completion system calls _cg for a Tab after `words`;
    # _arguments (which would draw the menu) shows what it was given.
    script = (
        f"fpath=({functions} $fpath); autoload -Uz compinit && compinit -u -d {files}/zcompdump\n"
        'print -r -- "bound:$_comps[cg]"\n'
        "_arguments() { local spec=${${1#*\\(\\(}%\\)\\)}; print -r -- \"offered:${spec//$'\\n'/ }\" }\n"
        "_files() { print -r -- offered:FILES }\n"
        f"words=({words_array}); CURRENT={len(words) + 2}; _cg\n"
    )
    done = subprocess.run([zsh, "-f", "-c", script], capture_output=True, text=True, env=_env(files), timeout=60)
    assert "bound:_cg" in done.stdout, done.stdout + done.stderr
    offered = [word.strip('"') for word in _offered(done.stdout, "offered:")]
    assert sorted(offered) == sorted(expected), done.stdout + done.stderr


def test_files_are_still_completed_where_cg_has_no_names(files: Path) -> None:
    fish = _shell("fish")
    script = "cg completion fish | source; complete -C 'cg records import cg-m'"
    done = subprocess.run(
        [fish, "--no-config", "-c", script], capture_output=True, text=True, env=_env(files), timeout=60
    )
    assert done.stdout.split() == ["cg-mappings.toml"], done.stdout + done.stderr


def test_a_broken_mapping_file_completes_nothing_and_prints_nothing(files: Path) -> None:
    bash = _shell("bash")
    Path("cg-mappings.toml").write_text("[accounts\n")
    script = (
        "source <(cg completion bash); "
        'COMP_WORDS=(cg records put --mapping ""); COMP_CWORD=4; _cg_completion cg; echo "offered:${COMPREPLY[*]}"'
    )
    done = subprocess.run([bash, "--norc", "-c", script], capture_output=True, text=True, env=_env(files), timeout=60)
    assert done.stdout.strip() == "offered:" and done.stderr == ""


def test_the_bash_script_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("no shellcheck on this machine")
    script = subprocess.run([CG, "completion", "bash"], capture_output=True, text=True).stdout
    done = subprocess.run([shellcheck, "-s", "bash", "-"], input=script, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout


def test_a_fifo_as_mapping_file_never_blocks_a_tab(files: Path) -> None:
    bash = _shell("bash")
    Path("cg-mappings.toml").unlink()
    os.mkfifo("cg-mappings.toml")
    script = (
        "source <(cg completion bash); "
        'COMP_WORDS=(cg records put --mapping ""); COMP_CWORD=4; _cg_completion cg; echo "offered:${COMPREPLY[*]}"'
    )
    done = subprocess.run([bash, "--norc", "-c", script], capture_output=True, text=True, env=_env(files), timeout=60)
    assert done.stdout.strip() == "offered:"


ZPTY_SCRIPT = r"""
zmodload zsh/zpty
zpty z "zsh -f -i"
zpty -w z 'PS1="PROMPT> "; fpath=(%(functions)s $fpath); autoload -Uz compinit && compinit -u -d %(dump)s; echo READY'
zpty -r z out '*READY*'
zpty -w -n z $'%(line)s\t'
out=""
for i in {1..300}; do  # polls until the menu shows (up to a minute under load): no timing is asserted
  sleep 0.2
  while zpty -r -t z chunk; do out+=$chunk; done
  [[ $out == *%(last)s* ]] && break
done
print -r -- "$out"
zpty -d z
"""


@pytest.mark.parametrize(
    ("line", "expected"),
    [("cg --region ", ["au", "eu", "us"]), ("cg records put --mapping ", ["accounts", "contacts"])],
)
def test_zsh_a_real_tab_in_an_interactive_shell_lists_the_values(files: Path, line: str, expected: list[str]) -> None:
    """The install line of `cg completion --help` in an interactive zsh, and a Tab typed on its terminal."""
    zsh = _shell("zsh")
    functions = files / "home" / ".zfunc"
    functions.mkdir()
    (functions / "_cg").write_text(subprocess.run([CG, "completion", "zsh"], capture_output=True, text=True).stdout)
    script = ZPTY_SCRIPT % {"functions": functions, "dump": files / "zdump", "line": line, "last": expected[-1]}
    done = subprocess.run([zsh, "-f", "-c", script], capture_output=True, text=True, env=_env(files), timeout=120)
    import re

    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", done.stdout).replace("\r", "\n")  # terminal codes out
    assert expected in [row.split() for row in screen.splitlines()], screen
