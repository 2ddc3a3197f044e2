"""How a step of a plan becomes what runs: one rule, shared by the review
(`essh show --verbose`) and the executor, so what is shown is what runs.

A step's *program* is its environment as `export NAME='value'` lines, then its
rendered script. The environment is its host's `env` followed by its task's
`env` (a later entry of the same name wins), plus values known only at apply
time (`ESSH_FAILED_HOSTS` for handlers).

The program never appears in a command line, where any user of the host could
read it with `ps` and sudo would log it. The command line is fixed and short:
`[sudo -n -u USER -H --] bash -c BOOTSTRAP`, and the bootstrap reads the program
from a channel the transport gives it, then runs it with `eval`:
- `stdin`: the SSH channel's standard input carries the program, then EOF (the
  step's standard input was always empty over SSH: it still is);
- `fd`: a local step reads it from an inherited pipe whose descriptor number is
  in the command line, so its standard input stays what it was (the null
  device, or its terminal);
- `terminal`: an SSH step with a terminal gets it base64-encoded in lines ended
  by a line holding a single `.`, with echo off, then echo back on.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Iterable
from typing import Literal

from .plan import Pair, Plan, Step, Task

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
SUDO = ("sudo", "-n", "-u")  # -n: never wait for a password; a plan runs unattended

Delivery = Literal["stdin", "fd", "terminal"]
_RUN = 'eval "unset __essh_program; $__essh_program"'
BOOTSTRAPS: dict[Delivery, str] = {
    # $(<file) reads without a fork in bash 5.2; cat is the fallback where the
    # descriptor is a socket (/dev/stdin cannot be opened on one).
    "stdin": "{ __essh_program=$(</dev/stdin); } 2>/dev/null || __essh_program=$(cat); " + _RUN,
    "fd": "{ __essh_program=$(</dev/fd/FD); } 2>/dev/null || __essh_program=$(cat <&FD); exec FD<&-; " + _RUN,
    "terminal": (
        "__essh_program=; while IFS= read -r __essh_line && [ \"$__essh_line\" != . ]; do "
        "__essh_program=$__essh_program$__essh_line; done; unset __essh_line; "
        "__essh_program=$(printf %s \"$__essh_program\" | base64 -d); stty echo 2>/dev/null; " + _RUN
    ),
}


def step_env(plan: Plan, step: Step, extra: Iterable[Pair] = ()) -> dict[str, str]:
    """The environment of `step`, later sources winning: host, task, `extra`."""
    env: dict[str, str] = {}
    if step.host is not None:
        env.update(plan.hosts[step.host].env)
    env.update(plan.tasks[step.task].env)
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


def step_script(plan: Plan, step: Step, extra: Iterable[Pair] = ()) -> str:
    """The step's program: its environment exported, then its rendered script."""
    return env_prelude(step_env(plan, step, extra)) + (plan.scripts[step.script] if step.script is not None else "")


def sudo_prefix(task: Task) -> list[str]:
    """`sudo -n -u USER -H --` for a task that runs as another user, else nothing.
    Also how a cancelled step's processes are signalled with the step's rights."""
    return [*SUDO, task.run_as, "-H", "--"] if task.run_as is not None else []


def task_argv(task: Task, delivery: Delivery, fd: int = 3) -> list[str]:
    """The command line of every step of `task`: the same for all of them, no secret in it.
    With the `fd` delivery, `fd` is the descriptor the program arrives on."""
    bootstrap = BOOTSTRAPS[delivery].replace("FD", str(int(fd)))
    return [*sudo_prefix(task), *task.shell, bootstrap]


def encode_program(program: str, delivery: Delivery) -> bytes:
    """The bytes the transport sends the bootstrap of `delivery` (followed by EOF for stdin and fd)."""
    data = program.encode("utf-8", "surrogateescape")
    if delivery != "terminal":
        return data
    return base64.encodebytes(data) + b".\n"


def delivery_of(task: Task) -> Delivery:
    """How the steps of `task` receive their program."""
    if task.backend == "local":
        return "fd"
    return "terminal" if task.pty else "stdin"


def step_command(plan: Plan, step: Step) -> str:
    """The step's command line as it runs (the program follows on stdin, a pipe or the terminal)."""
    task = plan.tasks[step.task]
    return shlex.join(task_argv(task, delivery_of(task)))
