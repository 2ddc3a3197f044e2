"""How a step of a plan becomes the exact command that runs: one rule, shared by
the review (`essh show --verbose`) and the executor, so what is shown is what runs.

A step's environment is its host's `env` followed by its task's `env` (a later
entry of the same name wins), plus any values only known at apply time (the
executor's `ESSH_FAILED_HOSTS` for handlers). It is exported at the top of the
script, so it survives sudo and needs no AcceptEnv on the server. The script is
then handed to the task's `shell` argv as its last argument.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

from .plan import Pair, Plan, Step

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def step_env(plan: Plan, step: Step, extra: Iterable[Pair] = ()) -> dict[str, str]:
    """The environment of `step`, later sources winning: host, task, `extra`."""
    env: dict[str, str] = {}
    if step.host is not None:
        env.update(plan.hosts[step.host].env)
    env.update(plan.tasks[step.task].env)
    env.update(extra)
    return env


def env_prelude(env: dict[str, str]) -> str:
    """`export NAME='value'` lines for `env`, in the order given."""
    lines = []
    for name, value in env.items():
        if not ENV_NAME.match(name):
            raise ValueError(f"not a valid environment variable name: {name!r}")
        lines.append(f"export {name}={shlex.quote(value)}\n")
    return "".join(lines)


def step_script(plan: Plan, step: Step, extra: Iterable[Pair] = ()) -> str:
    """The full script of `step`: its environment exported, then its rendered script."""
    return env_prelude(step_env(plan, step, extra)) + plan.scripts[step.script]


def step_argv(plan: Plan, step: Step, extra: Iterable[Pair] = ()) -> list[str]:
    """The argv that runs `step`: the task's shell with the full script last."""
    return [*plan.tasks[step.task].shell, step_script(plan, step, extra)]


def step_command(plan: Plan, step: Step, extra: Iterable[Pair] = ()) -> str:
    """`step_argv` as one shell command line, as sent in an SSH exec request."""
    return shlex.join(step_argv(plan, step, extra))
