"""cg's answer to a shell's Tab: the candidates Typer finds, written in the form each completion script reads.

The shell sets _CG_COMPLETE to one of ANSWERS. A candidate (a mapping name from a cloned repository's file)
is data: the bash answer is quoted for the place readline inserts it (`output.shell_quote`), zsh and fish
get raw NUL-separated values their own `compadd` and `complete` quote. The legacy answers serve scripts
installed by earlier versions, which bash inserts as they are and zsh evaluates: those are quoted too.
The answer is written as bytes, past click.echo, which would strip escape sequences out of a name.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from typer import _click as click

from cg_cli.constants import COMPLETE_VARIABLE
from cg_cli.output.shell_quote import Quote, bash_words, quote_for_bash, quote_for_eval, readline_quote, visible

PROG = "cg"


@dataclass(frozen=True)
class Candidate:
    word: str  # the whole word once completed ("--mapping=accounts" for "--mapping=acc")
    value: str  # what Typer offered ("accounts")
    help: str


def candidates(cli: click.Command, args: list[str], word: str) -> list[Candidate]:
    """What fits `word`, typed after `args`, leaving out what could not come back as that value: a NUL
    (never in an argument), a leading "-" where it would read as an option."""
    # Typer's own get_completions, kept apart to learn how much of `word` the value replaces (after "--opt=").
    from typer._click.shell_completion import _resolve_context, _resolve_incomplete

    ctx = _resolve_context(cli, {}, PROG, list(args))
    handler, incomplete = _resolve_incomplete(ctx, list(args), word)
    head = word[: len(word) - len(incomplete)]
    # An argument's value that starts with "-" reads as an option unless "--" came first: offer it only then.
    dash_ok = getattr(handler, "param_type_name", "") != "argument" or "--" in args
    found = [(str(item.value), item.help or "") for item in handler.shell_complete(ctx, incomplete)]
    return [
        Candidate(head + value, value, help_text)
        for value, help_text in found
        if "\0" not in value and (dash_ok or not value.startswith("-") or value == "-")
    ]


def _encoding() -> str:
    return sys.getfilesystemencoding()  # what cg decodes its arguments with, when the name comes back


def _encodable(text: str) -> bool:
    try:
        text.encode(_encoding())
    except UnicodeEncodeError:
        return False  # could never come back as an argument in this locale
    return True


def answer_quoted_bash(cli: click.Command, env: Mapping[str, str]) -> str:
    """One reply a line, each quoted for where readline puts it: after the quote the user opened, if any, and
    replacing only readline's word (which starts after a `:` or `=` the shell word may hold)."""
    line, text, encoding = env.get("_CG_COMPLETE_LINE", ""), env.get("_CG_COMPLETE_WORD", ""), _encoding()
    if not line.endswith(text):
        return ""
    words, word = bash_words(line, encoding)
    before = bash_words(line[: len(line) - len(text)], encoding)[1]  # the part of the word readline leaves alone
    found = [c.word for c in candidates(cli, words[1:], word) if c.word.startswith(before) and _encodable(c.word)]
    where = readline_quote(line)
    return "".join(quote_for_bash(w[len(before) :], where, encoding) + "\n" for w in found)


def answer_legacy_bash(cli: click.Command, env: Mapping[str, str]) -> str:
    """Scripts of cg 0.3 and earlier (and Typer's) put each line in COMPREPLY as it is: quoted for a word
    typed without quotes."""
    from typer._completion_classes import BashComplete

    args, word = BashComplete(cli, {}, PROG, COMPLETE_VARIABLE).get_completion_args()
    found = [c.word for c in candidates(cli, args, word) if _encodable(c.word)]
    return "".join(quote_for_bash(w, Quote.NONE, _encoding()) + "\n" for w in found)


def answer_data_zsh(cli: click.Command, env: Mapping[str, str]) -> str:
    """NUL-separated fields: `files` (complete file names), or `values` (or `described`: list one a line) then
    each word and its display string, then `end`, so the last field survives $(…) dropping trailing newlines."""
    words = bash_words(env.get("_CG_COMPLETE_ARGS", "") + " ", _encoding())[0]  # each single-quoted by zsh's (qq)
    found = [c for c in candidates(cli, words[1:], env.get("_CG_COMPLETE_WORD", "")) if _encodable(c.word)]
    if not found:
        return "files\0end"
    fields = ["described" if any(c.help for c in found) else "values"]
    for candidate, shown in zip(found, _displays(found), strict=True):
        fields += [candidate.word, shown]
    return "\0".join([*fields, "end"])


def answer_legacy_zsh(cli: click.Command, env: Mapping[str, str]) -> str:
    """Scripts of cg 0.3 and earlier (and Typer's) evaluate the answer: a compadd whose every word is
    single-quoted (`quote_for_eval`)."""
    from typer._completion_classes import ZshComplete

    args, word = ZshComplete(cli, {}, PROG, COMPLETE_VARIABLE).get_completion_args()
    found = [c for c in candidates(cli, args, word) if _encodable(c.word)]
    if not found:
        return "_files"
    shown = " ".join(quote_for_eval(s) for s in _displays(found))
    words = " ".join(quote_for_eval(c.word) for c in found)
    listing = "-l " if any(c.help for c in found) else ""
    return f"local -a _cg_shown=({shown}); compadd {listing}-d _cg_shown -- {words}"  # `eval $(…)` joins lines


def answer_data_fish(cli: click.Command, env: Mapping[str, str]) -> str:
    """NUL-terminated `value<TAB>description` entries. fish splits a candidate at its first tab, so a value
    holding one cannot be offered; a newline is fine once the script splits on NUL."""
    from typer._completion_classes import FishComplete

    args, word = FishComplete(cli, {}, PROG, COMPLETE_VARIABLE).get_completion_args()
    found = [c for c in candidates(cli, args, word) if "\t" not in c.word and _encodable(c.word)]
    return "".join(c.word + (f"\t{_one_line(c.help)}" if c.help else "") + "\0" for c in found)


def _displays(found: list[Candidate]) -> list[str]:
    """What zsh lists: the value, and its description when any candidate has one, never a control character."""
    if not any(c.help for c in found):
        return [visible(c.value) for c in found]
    width = max(len(visible(c.value)) for c in found)
    return [f"{visible(c.value):<{width}}  -- {_one_line(c.help)}" for c in found]


def _one_line(text: str) -> str:
    return visible(re.sub(r"\s+", " ", text).strip())


ANSWERS: dict[str, Callable[[click.Command, Mapping[str, str]], str]] = {
    "quoted_bash": answer_quoted_bash,
    "data_zsh": answer_data_zsh,
    "data_fish": answer_data_fish,
    "complete_bash": answer_legacy_bash,
    "complete_zsh": answer_legacy_zsh,
}


def answer(cli: click.Command, instruction: str) -> bool:
    """Write the answer for `instruction` to stdout; False when it is not one of ours (Typer's then)."""
    respond = ANSWERS.get(instruction)
    if respond is None:
        return False
    sys.stdout.buffer.write(respond(cli, os.environ).encode(_encoding(), "replace"))
    sys.stdout.flush()
    return True
