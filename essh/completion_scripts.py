"""The scripts `essh completion bash|zsh|fish` prints.

Each asks `PYTHON -m essh.completion KIND` (essh.completion) for the names,
with the interpreter essh runs on, so a TAB never pays for the CLI's imports.
Positions completed: the task after `run`, `plan`, `apply`; the host after
`ssh`; hosts and tags after `-t/--target`, `-s/--select`, `-f/--filter`; a
`--config FILE` already typed is passed on.
"""

from __future__ import annotations

import shlex

SHELLS = ("bash", "zsh", "fish")

_BASH = r"""# essh completion for bash: eval "$(essh completion bash)"
_essh_names() {
    local i config=()
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        [[ ${COMP_WORDS[i]} == --config || ${COMP_WORDS[i]} == -c ]] && config=(--config "${COMP_WORDS[i+1]}")
    done
    @PYTHON@ -m essh.completion "$1" "${config[@]}" 2>/dev/null | cut -f1
}
_essh() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} kind=
    case $prev in
        -t|--target|-s|--select|-f|--filter) kind=targets ;;
        -c|--config|-o|--out|--report|--log-dir|--working-dir) return ;;
        *) case ${COMP_WORDS[1]} in
               run|plan|apply) kind=tasks ;;
               ssh) kind=hosts ;;
           esac ;;
    esac
    if [[ -z $kind || $cur == -* ]]; then
        [[ $COMP_CWORD -eq 1 ]] && COMPREPLY=($(compgen -W "@COMMANDS@" -- "$cur"))
        return
    fi
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$(_essh_names $kind)" -- "$cur"))
}
complete -o default -F _essh essh
"""

_ZSH = r"""#compdef essh
# essh completion for zsh: eval "$(essh completion zsh)"
_essh() {
    local kind config=() i
    for ((i = 2; i < CURRENT; i++)); do
        [[ ${words[i]} == --config || ${words[i]} == -c ]] && config=(--config ${words[i+1]})
    done
    case ${words[CURRENT-1]} in
        -t|--target|-s|--select|-f|--filter) kind=targets ;;
        *) case ${words[2]} in
               run|plan|apply) (( CURRENT > 2 )) && kind=tasks ;;
               ssh) (( CURRENT > 2 )) && kind=hosts ;;
           esac ;;
    esac
    if [[ -z $kind ]]; then
        (( CURRENT == 2 )) && compadd -- @COMMANDS@
        return
    fi
    local -a items
    items=(${(f)"$(@PYTHON@ -m essh.completion $kind $config 2>/dev/null | sed -e 's/:/\\:/g' -e 's/\t/:/')"})
    _describe -t $kind $kind items
}
compdef _essh essh
"""

_FISH = r"""# essh completion for fish: essh completion fish | source
function __essh_names
    set -l config (string match -r -- '(?:--config|-c)\s+(\S+)' (commandline -cp))[2]
    if test -n "$config"
        @PYTHON@ -m essh.completion $argv[1] --config $config 2>/dev/null
    else
        @PYTHON@ -m essh.completion $argv[1] 2>/dev/null
    end
end
complete -c essh -f -n '__fish_use_subcommand' -a '@COMMANDS@'
complete -c essh -f -n '__fish_seen_subcommand_from run plan apply' -a '(__essh_names tasks)'
complete -c essh -f -n '__fish_seen_subcommand_from ssh' -a '(__essh_names hosts)'
complete -c essh -x -n '__fish_seen_subcommand_from exec' -s t -l target -a '(__essh_names targets)'
complete -c essh -x -n '__fish_seen_subcommand_from hosts' -s s -l select -a '(__essh_names targets)'
"""


def script(shell: str, python: str, commands: list[str]) -> str:
    """The completion script for `shell`, calling `python`."""
    text = {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}[shell]
    return text.replace("@PYTHON@", shlex.quote(python)).replace("@COMMANDS@", " ".join(sorted(commands)))
