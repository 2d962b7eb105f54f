"""cg completion: the shell completion script for bash, zsh or fish."""

from __future__ import annotations

from typing import Annotated

import typer

from cg_cli.commands.common import new_app, settings_for
from cg_cli.commands.completers import complete_shells
from cg_cli.output import render

app = new_app("Print the shell completion script.")

SHELLS = ("bash", "zsh", "fish")
COMPLETION_EXAMPLES = """\b
Install it once for your shell (a new shell picks it up):
  bash: cg completion bash >> ~/.bashrc
  zsh:  mkdir -p ~/.zfunc && cg completion zsh > ~/.zfunc/_cg
        then in ~/.zshrc, before compinit (or add it):
        fpath=(~/.zfunc $fpath); autoload -Uz compinit && compinit
  fish: mkdir -p ~/.config/fish/completions
        cg completion fish > ~/.config/fish/completions/cg.fish
Or try it in the current bash:
  source <(cg completion bash)
"""

# Each script asks `cg` itself (with _CG_COMPLETE set) what fits the words typed so far, so mapping
# and profile names come from the files the command would read. Written here rather than taken from
# Typer's templates, whose zsh script evaluates the answer and whose bash script inserts names unquoted:
# a name is data (completion_answers.py). bash gets replies already quoted for where readline puts them;
# zsh reads NUL-separated values and hands them to compadd, which quotes them; fish splits on NUL too.
BASH = r"""# cg completion for bash: source it, or append it to ~/.bashrc
_cg_completion() {
    local -a replies=()
    mapfile -t replies < <(env _CG_COMPLETE_LINE="${COMP_LINE:0:COMP_POINT}" _CG_COMPLETE_WORD="$2" \
        _CG_COMPLETE=quoted_bash "$1" 2>/dev/null)
    COMPREPLY=("${replies[@]}")
    return 0
}
complete -o default -F _cg_completion cg"""

# The words go to cg unquoted ((Q)) then single-quoted ((qq)), the word being typed unquoted from the quote
# it sits in; the answer is data: never evaluated, each value added with compadd.
ZSH = r"""#compdef cg
# cg completion for zsh: save as _cg in a directory of $fpath, then run compinit (or source it)
_cg() {
  local -a answer values shown
  local value display closing=${compstate[quote]#\$}
  answer=("${(@0)$(env _CG_COMPLETE_ARGS="${(j: :)${(@qq)${(@Q)words[1,CURRENT-1]}}}" \
    _CG_COMPLETE_WORD="${(Q)${:-${compstate[quote]}${PREFIX}${closing}}}" _CG_COMPLETE=data_zsh cg 2>/dev/null)}")
  [[ ${answer[-1]} == end ]] || return 1
  if [[ ${answer[1]} == files ]]; then
    _files
    return
  fi
  for value display in "${(@)answer[2,-2]}"; do
    values+=("$value")
    shown+=("$display")
  done
  compadd ${${(M)answer[1]:#described}:+-l} -d shown -- "${values[@]}"
}
if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
  _cg "$@"
elif (( $+functions[compdef] )); then
  compdef _cg cg
else
  print -u2 "cg completion: run 'autoload -Uz compinit && compinit' first"
fi"""

FISH = r"""# cg completion for fish: save as ~/.config/fish/completions/cg.fish
function __cg_complete
    env _CG_COMPLETE=$argv[1] _TYPER_COMPLETE_FISH_ACTION=$argv[2] \
        _TYPER_COMPLETE_ARGS=(commandline -cp) cg 2>/dev/null
end
complete --command cg --no-files --arguments '(__cg_complete data_fish get-args | string split0)' \
    --condition '__cg_complete complete_fish is-args'
complete --command cg --condition 'not __cg_complete complete_fish is-args' --force-files"""

SCRIPTS = {"bash": BASH, "zsh": ZSH, "fish": FISH}


@app.command(epilog=COMPLETION_EXAMPLES)
def completion(
    ctx: typer.Context,
    shell: Annotated[
        str, typer.Argument(help="bash, zsh or fish.", metavar="bash|zsh|fish", autocompletion=complete_shells)
    ],
) -> None:
    """Print the completion script for SHELL on stdout.

    It completes commands, options, mapping names (from the mapping file the
    command would read), profile names, and the values of --region, -o, --ci,
    --duplicates, --format, --encoding and --type. Names are completed as data,
    quoted for the shell: whatever a name holds, it is never run.
    """
    from cg_cli.errors import UsageError

    if shell not in SHELLS:
        raise UsageError(f"no completion for shell {shell!r}", hint=f"use one of: {', '.join(SHELLS)}")
    script = SCRIPTS[shell]
    if settings_for(ctx).json_output:
        render.json_out({"ok": True, "shell": shell, "script": script})
    else:
        render.out(script)
