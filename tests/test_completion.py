"""Tab completion in real bash, zsh and fish (each skipped when the shell is missing).

Each test sources (or, for zsh, autoloads from $fpath with compinit) the script `cg completion SHELL`
prints, and asks the shell to complete as a user's Tab would: mapping names come from the file the
command would read, profile names from the config dir, fixed values from cg itself. Mapping names are
data: hostile ones are typed into each shell on a pseudo-terminal (`tests/terminal.py`) after the
documented install, and must come back as exactly the name with nothing run, as must the answers the
scripts of earlier versions (still installed) receive.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cg_cli.output.shell_quote import Quote, bash_words, quote_for_bash, quote_for_eval, readline_quote
from tests.terminal import Terminal

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


# A Tab as readline makes it: the line up to the cursor and the word it completes ($2), replies out NUL-separated.
BASH_TAB = """source <(cg completion bash)
COMP_LINE=$1; COMP_POINT=${#COMP_LINE}; _cg_completion cg "$2" ""
for reply in "${COMPREPLY[@]}"; do printf '%s\\0' "$reply"; done
"""


def _bash_replies(home: Path, line: str, word: str = "") -> list[str]:
    done = subprocess.run(
        [_shell("bash"), "--norc", "-c", BASH_TAB, "bash", line, word],
        capture_output=True,
        text=True,
        env=_env(home),
        timeout=60,
    )
    assert done.stderr == "", done.stderr
    return done.stdout.split("\0")[:-1]


@pytest.mark.parametrize(("words", "expected"), CASES)
def test_bash_completes_names_and_values(files: Path, words: list[str], expected: list[str]) -> None:
    assert sorted(_bash_replies(files, " ".join(["cg", *words, ""]))) == sorted(expected)


@pytest.mark.parametrize(("words", "expected"), CASES)
def test_fish_completes_names_and_values(files: Path, words: list[str], expected: list[str]) -> None:
    fish = _shell("fish")
    line = " ".join(["cg", *words, ""])
    script = f"cg completion fish | source; complete -C '{line}' | string replace -r '\\t.*' ''"
    done = subprocess.run(
        [fish, "--no-config", "-c", script], capture_output=True, text=True, env=_env(files), timeout=60
    )
    assert sorted(done.stdout.split()) == sorted(expected), done.stdout + done.stderr


def _zsh_function(home: Path) -> Path:
    """`cg completion zsh` saved as _cg in ~/.zfunc, as `cg completion --help` says."""
    functions = home / ".zfunc"
    functions.mkdir(exist_ok=True)
    (functions / "_cg").write_text(subprocess.run([CG, "completion", "zsh"], capture_output=True, text=True).stdout)
    return functions


# The completion system calls _cg for a Tab after `words`; compadd (which would draw the menu) records what it
# was given, NUL-separated, and _files (the fallback) says so.
ZSH_STUBS = (
    "compadd() { printf '%s\\0' \"${@[${@[(i)--]}+1,-1]}\" >> offered }\n_files() { print -rn -- FILES > offered }\n"
)


def _zsh_offers(home: Path, words: list[str]) -> list[str]:
    zsh = _shell("zsh")
    functions = _zsh_function(home)
    words_array = " ".join(["cg", *[_zsh_quote(w) for w in words], '""'])
    script = (
        f"fpath=({functions} $fpath); autoload -Uz compinit && compinit -u -d {home}/zcompdump\n"
        'print -r -- "bound:$_comps[cg]"\n'
        + ZSH_STUBS
        + f"words=({words_array}); CURRENT={len(words) + 2}; PREFIX=''; _cg\n"
    )
    done = subprocess.run([zsh, "-f", "-c", script], capture_output=True, text=True, env=_env(home.parent), timeout=60)
    assert "bound:_cg" in done.stdout, done.stdout + done.stderr
    offered = Path("offered").read_text() if Path("offered").exists() else ""
    Path("offered").unlink(missing_ok=True)
    return ["FILES"] if offered == "FILES" else offered.split("\0")[:-1]


def _zsh_quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


@pytest.mark.parametrize(("words", "expected"), CASES)
def test_zsh_completes_names_and_values_autoloaded_from_fpath(
    files: Path, words: list[str], expected: list[str]
) -> None:
    assert sorted(_zsh_offers(files / "home", words)) == sorted(expected)


def test_zsh_sourced_after_compinit_binds_cg_and_completes(files: Path) -> None:
    """The script's other install: `source <(cg completion zsh)` in a shell that ran compinit."""
    script = (
        f"autoload -Uz compinit && compinit -u -d {files}/zcompdump; source <(cg completion zsh)\n"
        + ZSH_STUBS
        + "words=(cg --region ''); CURRENT=3; PREFIX=''; $_comps[cg]\n"
    )
    subprocess.run([_shell("zsh"), "-f", "-c", script], env=_env(files), timeout=60, check=True)
    assert sorted(Path("offered").read_text().split("\0")[:-1]) == ["au", "eu", "us"]


def test_files_are_still_completed_where_cg_has_no_names(files: Path) -> None:
    fish = _shell("fish")
    script = "cg completion fish | source; complete -C 'cg records import cg-m'"
    done = subprocess.run(
        [fish, "--no-config", "-c", script], capture_output=True, text=True, env=_env(files), timeout=60
    )
    assert done.stdout.split() == ["cg-mappings.toml"], done.stdout + done.stderr


def test_a_broken_mapping_file_completes_nothing_and_prints_nothing(files: Path) -> None:
    Path("cg-mappings.toml").write_text("[accounts\n")
    assert _bash_replies(files, "cg records put --mapping ") == []  # and nothing on stderr


def test_the_bash_script_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("no shellcheck on this machine")
    script = subprocess.run([CG, "completion", "bash"], capture_output=True, text=True).stdout
    done = subprocess.run([shellcheck, "-s", "bash", "-"], input=script, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout


def test_a_fifo_as_mapping_file_never_blocks_a_tab(files: Path) -> None:
    Path("cg-mappings.toml").unlink()
    os.mkfifo("cg-mappings.toml")
    assert _bash_replies(files, "cg records put --mapping ") == []


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

    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", done.stdout).replace("\r", "\n")  # terminal codes out
    assert expected in [row.split() for row in screen.splitlines()], screen


# Names an adversary can put in a mapping file (a cloned repository's cg-mappings.toml). Each starts with its own
# two letters, so typing them and a Tab completes that one name; most try to run `touch PWNED`.
HOSTILE = [
    "bs\\$(touch PWNED)",  # a backslash before $ cancelled Typer's zsh escaping, and _arguments evaluated the rest
    "tick`touch PWNED`",
    "dollar$(touch PWNED)",
    "semi;touch PWNED",
    "quote'\"both'$(touch PWNED)",
    "with space",
    "new\nline$(touch PWNED)",
    "colon:name:$(touch PWNED)",  # `:` separates a value from its description in zsh's specs
    "paren((x)) $((1+1))",  # `((` and `))` close Typer's zsh spec
    "bang!$(touch PWNED)!!",
    "esc\x1b[31mred\x07",
    "tab\tx",
]
# Not hostile, only odd: they must come back as typed too.
ODD = [
    "   ",
    "ünï cödé",
    "long" + "x" * 300 + "$(touch PWNED)",
    "~tilde",
    "#hash",
    "*glob?[a]",
    "{a,b}",
    "nbsp\u00a0x",
    "bidi\u202ex",
    "ends'",
    'ends"',
    "ends\\",
    "ends!",
    "",
]
NAME_SETS = [pytest.param(HOSTILE, id="hostile"), pytest.param(ODD, id="odd")]


def _toml_name(name: str) -> str:
    """A TOML quoted key: JSON's escapes are TOML's, and TOML wants DEL escaped too."""
    return json.dumps(name, ensure_ascii=False).replace("\x7f", "\\u007f")


def _mapping_file(names: list[str]) -> None:
    tables = [f'[{_toml_name(n)}]\nreference = "r"\ntype = "account"\nfields = ["A"]\n' for n in names]
    Path("cg-mappings.toml").write_text("\n".join(tables), encoding="utf-8")


@pytest.fixture
def hostile(clean_env: Path) -> Iterator[Path]:
    _mapping_file(HOSTILE)
    yield clean_env
    assert not list(clean_env.rglob("PWNED")), "a completion ran a command"


@pytest.mark.parametrize("names", NAME_SETS)
def test_zsh_offers_the_names_as_data(hostile: Path, names: list[str]) -> None:
    _mapping_file(names)
    assert sorted(_zsh_offers(hostile / "home", ["mappings", "show"])) == sorted(names)


def _read_back(replies: list[str], opener: str = "") -> list[str]:
    """What bash makes of each reply typed after `opener`, closed as readline closes a single match."""
    closing = opener[-1:]
    lines = [opener + r + ("" if not closing or r.endswith(closing) else closing) for r in replies]
    script = "for line; do eval \"printf '%s\\\\0' $line\"; done"
    done = subprocess.run([_shell("bash"), "--norc", "-c", script, "bash", *lines], capture_output=True, text=True)
    assert done.stderr == ""
    return done.stdout.split("\0")[:-1]


@pytest.mark.parametrize("names", NAME_SETS)
def test_bash_replies_read_back_as_the_names_and_run_nothing(hostile: Path, names: list[str]) -> None:
    """Each reply is what readline puts on the line: the shell must read it back as exactly the name."""
    _mapping_file(names)
    assert sorted(_read_back(_bash_replies(hostile, "cg mappings show "))) == sorted(names)


@pytest.mark.parametrize("opener", ["'", '"', "$'"])
def test_bash_replies_after_an_opened_quote_stay_inside_it(hostile: Path, opener: str) -> None:
    replies = _bash_replies(hostile, f"cg mappings show {opener}", "")
    assert sorted(_read_back(replies, opener)) == sorted(HOSTILE)


@pytest.mark.parametrize("names", NAME_SETS)
def test_fish_offers_the_names_as_data(hostile: Path, names: list[str]) -> None:
    """fish reads candidates NUL-separated; it cannot offer one holding a tab (its description separator), nor
    an empty one."""
    _mapping_file(names)
    script = "cg completion fish | source; complete -C 'cg mappings show ' | string replace -r '\\t.*' ''"
    done = subprocess.run(
        [_shell("fish"), "--no-config", "-c", script], capture_output=True, text=True, env=_env(hostile)
    )
    offered = sorted(done.stdout.split("\n")[:-1])
    assert offered == sorted("\n".join(n for n in names if "\t" not in n and n).split("\n")), done.stderr


def test_a_name_starting_with_a_dash_is_offered_where_it_reads_as_a_value(hostile: Path) -> None:
    """`cg mappings show -x` reads -x as an option: the name is offered after `--`, or as an option's value."""
    _mapping_file(["-dash", "plain"])
    assert _bash_replies(hostile, "cg mappings show ") == ["plain"]
    assert _bash_replies(hostile, "cg mappings show -- ") == ["-dash", "plain"]
    assert _bash_replies(hostile, "cg records put --mapping ") == ["-dash", "plain"]
    assert "-dash" not in _zsh_offers(hostile / "home", ["mappings", "show"])


# The install steps `cg completion --help` gives, run as written (sh, HOME the test's); zsh's rc lines too.
INSTALL = {
    "bash": ["cg completion bash >> ~/.bashrc"],
    "zsh": ["mkdir -p ~/.zfunc && cg completion zsh > ~/.zfunc/_cg"],
    "fish": ["mkdir -p ~/.config/fish/completions", "cg completion fish > ~/.config/fish/completions/cg.fish"],
}
ZSHRC = "fpath=(~/.zfunc $fpath); autoload -Uz compinit && compinit"
INTERACTIVE = {"bash": ["--noprofile", "-i"], "zsh": ["-d", "-i"], "fish": ["-i"]}  # each reads the user's rc file


def test_the_install_steps_tested_are_the_documented_ones() -> None:
    shown = subprocess.run([CG, "completion", "--help"], capture_output=True, text=True, env={**os.environ}).stdout
    for step in [*(s for steps in INSTALL.values() for s in steps), ZSHRC]:
        assert step in shown, step
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert f"`{INSTALL['bash'][0]}`" in readme


@pytest.fixture
def terminal(hostile: Path, request: pytest.FixtureRequest) -> Iterator[Terminal]:
    """An interactive shell (the test's parameter) after the documented install steps."""
    shell: str = request.param
    path = _shell(shell)
    env = {**_env(hostile), "TERM": "dumb", "LC_ALL": "C.UTF-8"}
    for step in INSTALL[shell]:
        subprocess.run(["sh", "-c", step], env=env, check=True)
    (hostile / "home" / ".zshrc").write_text(ZSHRC + "\n")
    Path("export.csv").write_text("Account Name\nACME\n")
    term = Terminal([path, *INTERACTIVE[shell]], shell, "true", env, Path.cwd())
    yield term
    term.close()


QUOTED = ["bs\\$(touch PWNED)", "quote'\"both'$(touch PWNED)", "new\nline$(touch PWNED)", "bang!$(touch PWNED)!!"]
DOLLAR = "dollar$(touch PWNED)"


def _lines(shell: str) -> list[tuple[str, list[str]]]:
    """(keys typed before the Tab, the arguments the line must then hold)."""
    show = ["cg", "mappings", "show"]
    lines = [(f"cg mappings show {n[:2]}", [*show, n]) for n in HOSTILE if shell != "fish" or "\t" not in n]
    openers = ["'", '"', "$'"] if shell != "fish" else ["'", '"']  # fish has no $'…'
    lines += [(f"cg mappings show {q}{n[:2]}", [*show, n]) for q in openers for n in QUOTED]
    return [
        *lines,
        ("cg mappings show colon:na", [*show, HOSTILE[7]]),  # bash's word for readline starts after the `:`
        ("cg records put --mapping do", ["cg", "records", "put", "--mapping", DOLLAR]),
        ("cg records put --mapping=do", ["cg", "records", "put", f"--mapping={DOLLAR}"]),
        ("cg mappings check accounts --file exp", ["cg", "mappings", "check", "accounts", "--file", "export.csv"]),
    ]


@pytest.mark.parametrize("terminal", ["bash", "zsh", "fish"], indirect=True)
def test_a_tab_inserts_exactly_the_name_and_enter_runs_nothing(terminal: Terminal) -> None:
    """Type a name's first letters (after a quote, or an option) and Tab, go to the line's start, make the line
    `printargs cg …` and Enter: the shell hands over exactly the name, and nothing ran, at the Tab or at Enter."""
    for typed, expected in _lines(terminal.shell):
        assert terminal.line(f"{typed}\t\x01printargs \r") == expected, (typed, terminal.screen[-3000:])
    assert terminal.line("cg mappings show \t\t\x15printargs listed\r") == ["listed"]
    assert b"\x1b[31m" not in terminal.screen  # the listing showed the escape sequence in a name, not ran it


# The scripts cg 0.3.0 printed (they stay installed in users' rc files and fpath) evaluate or insert the answer.
LEGACY_BASH = r"""_cg_completion() {
    local IFS=$'\n'
    local -a replies=()
    mapfile -t replies < <(env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD="$COMP_CWORD" \
        _CG_COMPLETE=complete_bash "$1" 2>/dev/null)
    COMPREPLY=("${replies[@]}")
    return 0
}
complete -o default -F _cg_completion cg"""
LEGACY_ZSH = r"""#compdef cg
_cg() {
  local answer
  answer="$(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _CG_COMPLETE=complete_zsh cg 2>/dev/null)"
  [[ -n $answer ]] && eval "$answer"
}
if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
  _cg "$@"
else
  compdef _cg cg
fi"""


def test_a_zsh_script_installed_by_an_earlier_cg_evaluates_only_quoted_words(hostile: Path) -> None:
    (hostile / "home" / ".zfunc").mkdir()
    (hostile / "home" / ".zfunc" / "_cg").write_text(LEGACY_ZSH)
    script = (
        f"fpath=({hostile}/home/.zfunc $fpath); autoload -Uz compinit && compinit -u -d {hostile}/zdump\n"
        + ZSH_STUBS
        + "words=(cg mappings show ''); CURRENT=4; _cg\n"
    )
    subprocess.run([_shell("zsh"), "-f", "-c", script], env=_env(hostile), timeout=60, check=True)
    assert sorted(Path("offered").read_text().split("\0")[:-1]) == sorted(HOSTILE)


def test_typers_own_zsh_script_of_cg_0_2_evaluates_nothing_it_should_not(hostile: Path) -> None:
    """cg 0.2 printed Typer's script: `eval $(…)`, unquoted, so the answer is split and joined again."""
    from typer._completion_shared import get_completion_script

    script = get_completion_script(prog_name="cg", complete_var="_CG_COMPLETE", shell="zsh")
    stubs = ZSH_STUBS + "compdef() { : }\n"
    run = f"{stubs}{script}\nwords=(cg mappings show ''); CURRENT=4; _cg_completion\n"
    subprocess.run([_shell("zsh"), "-f", "-c", run], env=_env(hostile), timeout=60)
    assert "with space" in Path("offered").read_text().split("\0")


def _legacy_bash_replies(home: Path, script: str) -> list[str]:
    tab = 'COMP_WORDS=(cg mappings show ""); COMP_CWORD=3; _cg_completion cg; printf "%s\\0" "${COMPREPLY[@]}"'
    done = subprocess.run(
        [_shell("bash"), "--norc", "-c", f"{script}\n{tab}"], capture_output=True, text=True, env=_env(home)
    )
    return done.stdout.split("\0")[:-1]


def test_a_bash_script_installed_by_an_earlier_cg_gets_quoted_replies(hostile: Path) -> None:
    assert sorted(_read_back(_legacy_bash_replies(hostile, LEGACY_BASH))) == sorted(HOSTILE)


def test_typers_own_bash_script_of_cg_0_2_runs_nothing(hostile: Path) -> None:
    """cg 0.2 printed Typer's script, which splits the answer on blanks: a name with a space is broken there,
    but no piece of a quoted reply runs anything, and a name without one still comes back whole."""
    from typer._completion_shared import get_completion_script

    script = get_completion_script(prog_name="cg", complete_var="_CG_COMPLETE", shell="bash")
    read_back = _read_back(_legacy_bash_replies(hostile, script))
    assert {"esc\x1b[31mred\x07", "tab\tx"} <= set(read_back)


# The quoting rules themselves, against the shells that read them.
OPENERS = {Quote.NONE: "", Quote.SINGLE: "'", Quote.DOUBLE: '"', Quote.ANSI: "$'"}


def _typed(name: str, where: Quote) -> str:
    """The word readline leaves for a single match: the user's quote, the reply, the closing quote it adds."""
    reply, closing = quote_for_bash(name, where), where.value[-1:]
    return OPENERS[where] + reply + ("" if not closing or reply.endswith(closing) else closing)


def test_every_quoted_word_reads_back_in_bash_and_no_prefix_of_one_runs_anything(clean_env: Path) -> None:
    """A prefix is what readline inserts when several names match (their common part) before the user goes on."""
    names = [n for n in HOSTILE + ODD if n]
    words = [_typed(n, where) for where in Quote for n in names]
    prefixes = sorted({OPENERS[w] + quote_for_bash(n, w)[:cut] for w in Quote for n in names for cut in range(len(n))})
    script = 'for word; do eval "printf \'%s\\0\' $word"; done; for word in "${PREFIXES[@]}"; do eval ": $word"; done'
    setup = "PREFIXES=(); while IFS= read -r -d '' p; do PREFIXES+=(\"$p\"); done < prefixes; "
    Path("prefixes").write_bytes(b"".join(p.encode() + b"\0" for p in prefixes))
    done = subprocess.run([_shell("bash"), "--norc", "-c", setup + script, "bash", *words], capture_output=True)
    assert done.stdout.decode().split("\0")[:-1] == names * len(Quote)
    assert not Path("PWNED").exists()
    read = [bash_words(f"cg mappings show {word} ")[0][-1] for word in words]
    assert read == names * len(Quote)  # cg reads the line as bash does


def test_a_reply_never_holds_a_newline_or_a_control_character() -> None:
    for where in Quote:
        for name in HOSTILE + ODD:
            reply = quote_for_bash(name, where)
            assert reply.isprintable() and (reply.isascii() or not name.isascii()), (where, name, reply)
            if all(ord(c) < 256 for c in name):  # in a latin-1 locale: bytes escaped, so only ASCII reaches bash
                assert quote_for_bash(name, where, "latin-1").isascii()


@pytest.mark.parametrize(
    ("line", "quote"),
    [
        ("cg show 'a", Quote.SINGLE),
        ('cg show "a', Quote.DOUBLE),
        ("cg show $'a", Quote.ANSI),
        ("cg show x$'a", Quote.ANSI),
        ("cg show \\$'a", Quote.SINGLE),
        ("cg show \"$'a", Quote.DOUBLE),
        ("cg show 'a'b", Quote.NONE),
        ("cg show 'a\\'b", Quote.NONE),
        ('cg show "a\\"b', Quote.DOUBLE),
        ("cg show a\\'b", Quote.NONE),
    ],
)
def test_the_quote_readline_sees_open(line: str, quote: Quote) -> None:
    assert readline_quote(line) is quote


@pytest.mark.parametrize("rc_quotes", ["unsetopt rc_quotes", "setopt rc_quotes"])
def test_words_for_zsh_eval_read_back_whatever_the_quote_options(clean_env: Path, rc_quotes: str) -> None:
    names = HOSTILE + ODD
    evaluated = "printf '%s\\0' " + " ".join(quote_for_eval(n) for n in names)
    done = subprocess.run(
        [_shell("zsh"), "-f", "-c", f'{rc_quotes}; eval "$1"', "zsh", evaluated], capture_output=True, text=True
    )
    assert done.stdout.split("\0")[:-1] == names, done.stderr
    assert not Path("PWNED").exists()
