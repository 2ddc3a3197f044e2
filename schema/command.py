"""How a step of a plan becomes what runs: one rule, shared by the review
(`essh show --verbose`) and the executor, so what is shown is what runs.

A step's *program* is its environment as `export NAME='value'` lines, then its
rendered script. The environment is its host's `env` followed by its task's
`env` (a later entry of the same name wins), then the task's secrets
(`Task.secret_env`, values resolved at apply time), plus values known only at
apply time (`ESSH_FAILED_HOSTS` for handlers).

The program never appears in a command line, where any user of the host could
read it with `ps` and sudo would log it. The command line is fixed and short:
`[sudo -n -u USER -H --] bash [-l] -c BOOTSTRAP` (the task's `shell`: a login shell
with sudo, as ESSH), and the bootstrap reads the program
from a channel the transport gives it, checks it arrived (every program starts
with `PROGRAM_MARK`: a shell that read nothing fails loudly, exit 125, instead of
succeeding without running anything), then runs it with `eval`. Any POSIX shell
can run the bootstraps; bash reads without a fork.
- `stdin`: the step's standard input carries the program, then EOF (over SSH a
  step's standard input was always empty, and a local one's the null device: both
  are now at their end);
- `terminal`: a step with a terminal (over SSH or here) gets it base64-encoded,
  after a line with the count of lines, with echo off, then echo back on. (A
  descriptor of its own would not do: sudo closes every descriptor but 0-2.)
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Literal

from .plan import Pair, Plan, Step, Task

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
SUDO = ("sudo", "-n", "-u")
_BASH_C = ("bash", "-c")  # -n: never wait for a password; a plan runs unattended

Delivery = Literal["stdin", "terminal"]
PROGRAM_MARK = "#essh\n"  # every program starts with it: a bootstrap that received none says so
_CHECK = (
    'case $__essh_program in "#essh"*) ;; '
    '*) echo "essh: the step\'s program did not arrive" >&2; exit 125;; esac; '
)
_RUN = _CHECK + 'eval "unset __essh_program; $__essh_program"'
# bash reads `$(</dev/stdin)` without a fork; any other POSIX shell (and bash where
# the descriptor is a socket, which /dev/stdin cannot open) falls back to cat.
_BASH_READ = '[ -n "${BASH_VERSION-}" ] && { __essh_program=$(<SOURCE); } 2>/dev/null || '
BOOTSTRAPS: dict[Delivery, str] = {
    "stdin": _BASH_READ.replace("SOURCE", "/dev/stdin") + "__essh_program=$(cat); " + _RUN,
    # A terminal (over SSH or here): a line with the count of base64 lines, then the lines (no
    # character a terminal interprets, each far below its line limit), read by head in one pass.
    "terminal": (
        'IFS= read -r __essh_lines && __essh_program=$(head -n "$__essh_lines" | base64 -d); '
        "unset __essh_lines; stty echo 2>/dev/null; " + _RUN
    ),
}


def step_env(
    plan: Plan, step: Step, extra: Iterable[Pair] = (), secrets: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of `step`, later sources winning: host, the host's secrets, task, the task's
    secrets, `extra`.

    `secrets` maps a secret's name to its value (resolved at apply time); without
    it, a secret variable is shown as `(secret NAME)`, for a review."""
    env: dict[str, str] = {}
    shown = (lambda name: secrets[name]) if secrets is not None else (lambda name: f"(secret {name})")
    if step.host is not None:
        host = plan.hosts[step.host]
        env.update(host.env)
        env.update((name, shown(secret)) for name, secret in host.secret_env)
    task = plan.tasks[step.task]
    env.update(task.env)
    env.update((name, shown(secret)) for name, secret in task.secret_env)
    env.update(extra)
    return env


def env_value_problem(value: str) -> str | None:
    """Why a shell variable cannot hold `value` as `env_prelude` exports it, or None.

    bash keeps a string only up to its first NUL byte, and the program must be
    encodable (`encode_program`: UTF-8, undecodable bytes kept as they came).
    """
    if "\0" in value:
        return "contains a NUL character, which a shell variable cannot hold"
    if value.isascii():
        return None
    try:
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return "contains a character that cannot be encoded (a lone surrogate)"
    return None


def env_prelude(env: dict[str, str]) -> str:
    """`export NAME='value'` lines for `env`, in the order given."""
    lines = []
    for name, value in env.items():
        if not ENV_NAME.match(name):
            raise ValueError(f"not a valid environment variable name: {name!r}")
        lines.append(f"export {name}={shlex.quote(value)}\n")
    return "".join(lines)


def step_script(
    plan: Plan, step: Step, extra: Iterable[Pair] = (), secrets: Mapping[str, str] | None = None
) -> str:
    """The step's program: its environment exported, then its rendered script."""
    return env_prelude(step_env(plan, step, extra, secrets)) + (plan.scripts[step.script] if step.script is not None else "")


def sudo_prefix(task: Task) -> list[str]:
    """`sudo -n -u USER -H --` for a task that runs as another user, else nothing.
    Also how a cancelled step's processes are signalled with the step's rights."""
    return [*SUDO, task.run_as, "-H", "--"] if task.run_as is not None else []


def task_argv(task: Task, delivery: Delivery) -> list[str]:
    """The command line of every step of `task`: the same for all of them, no secret in it."""
    bootstrap = BOOTSTRAPS[delivery]
    return [*sudo_prefix(task), *task.shell, bootstrap]


# The login shell is the bash a step asks for: bash, not restricted (no `r` in `$-`), not in POSIX
# mode (bash started as `sh` is; `shopt` answers, not a shell with BASH_VERSION in its environment), and
# the same file as the `bash` PATH finds (`hash` fills BASH_CMDS without a fork; `eval` keeps
# that syntax from the parser of a POSIX shell). Any doubt: `exec bash` as before.
_IS_BASH = (
    '[ -n "${BASH_VERSION-}" ] && [ "${-#*r}" = "$-" ]'
    ' && { shopt -oq posix; [ $? = 1 ]; } 2>/dev/null && hash bash 2>/dev/null'
    ' && eval \'[ "${BASH_CMDS[bash]-}" -ef "$BASH" ]\''
)


def login_command(task: Task, delivery: Delivery) -> str:
    """What a host's login shell (sshd runs `$SHELL -c` on it; a POSIX shell) is asked to run for
    every step of `task`: `exec` of `task_argv`, except for a task without sudo when the login shell
    is the very bash `task_argv` would start: then it runs the bootstrap itself, as it runs the
    command of a plain `ssh host cmd`.
    That spares the host a second bash per step and a second reading of the user's `.bashrc` (the
    program sees what `.bashrc` defines either way: the inner bash read it too)."""
    command = "exec " + shlex.join(task_argv(task, delivery))
    if task.run_as is not None or task.shell != _BASH_C:
        return command
    return f"if {_IS_BASH}; then {BOOTSTRAPS[delivery]}; else {command}; fi"


def encode_program(program: str, delivery: Delivery) -> bytes:
    """The bytes the transport sends the bootstrap of `delivery` (followed by EOF for stdin)."""
    data = (PROGRAM_MARK + program).encode("utf-8", "surrogateescape")
    if delivery != "terminal":
        return data
    lines = base64.encodebytes(data)
    return b"%d\n" % lines.count(b"\n") + lines


def delivery_of(task: Task) -> Delivery:
    """How the steps of `task` receive their program: on stdin, or through their terminal."""
    return "terminal" if task.pty else "stdin"


def step_command(plan: Plan, step: Step) -> str:
    """The step's command line as it runs (the program follows on stdin, a pipe or the terminal)."""
    task = plan.tasks[step.task]
    return shlex.join(task_argv(task, delivery_of(task)))
