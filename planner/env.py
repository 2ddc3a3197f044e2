"""The ESSH environment of a step, split into the host's share and the task's.

Host share (`Host.env`, stored once per host): ESSH_HOSTNAME and ESSH_HOST_HOSTNAME
(both the host's name, as ESSH sets them; the HostName option is in
ESSH_HOST_SSH_HOSTNAME), ESSH_HOST_SSH_<KEY> per SSH option
(a keyword given several values keeps the last), ESSH_HOST_TAGS_<TAG>=1,
ESSH_HOST_PROPS_<KEY>; sorted by variable name.

Task share (`Task.env`): ESSH_TASK_NAME, ESSH_TASK_PROPS_<KEY> (sorted),
ESSH_TASK_ARGS_<N> for the arguments after `--`, numbered from 1 as ESSH
does, then the task's own `env` (sorted by name), which wins over the rest.

Keys taken from the configuration (option keywords, tags, prop names) are made
into variable names by `env_key`: upper-cased, then every character outside
[A-Z0-9_] replaced by `_` (`web-1.example` -> `WEB_1_EXAMPLE`). When two keys
collapse to the same name, the one sorting last wins. Names in a task's `env`
are the user's own and must already be valid; they are checked, not changed.
Every value must be one a shell variable can hold (no NUL:
`essh.schema.command.env_value_problem`), else a ConfigError at the host's or
task's definition.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from essh.schema.command import ENV_NAME, env_value_problem

from .model import ConfigError, HostDef, Source, TaskDef

_NOT_KEY = re.compile(r"[^A-Z0-9_]")
# Variables bash refuses to assign (`export UID=1` fails and the script goes on).
BASH_READONLY = frozenset({"BASHOPTS", "BASH_VERSINFO", "EUID", "PPID", "SHELLOPTS", "UID"})

Pair = tuple[str, str]


def env_name_problem(name: str) -> str | None:
    """Why `name` cannot be a variable of a task's `env`, or None when it can."""
    if not ENV_NAME.match(name):
        return "is not a valid variable name (letters, digits, _; not a digit first)"
    if name in BASH_READONLY:
        return "is read-only in bash, so the script could not set it"
    return None


def env_key(key: str) -> str:
    """`key` as the tail of a variable name: upper case, [A-Z0-9_] only."""
    return _NOT_KEY.sub("_", key.upper())


def _prefixed(prefix: str, items: Iterable[Pair]) -> dict[str, str]:
    return {prefix + env_key(key): value for key, value in sorted(items)}


def host_env(host: HostDef) -> tuple[Pair, ...]:
    """The host's share of every step's environment, sorted by name."""
    env = {
        "ESSH_HOSTNAME": host.name,
        "ESSH_HOST_HOSTNAME": host.name,  # ESSH's value; the HostName option is ESSH_HOST_SSH_HOSTNAME
    }
    for key, value in host.ssh_options:  # in order, so a repeated keyword keeps its last value
        env["ESSH_HOST_SSH_" + env_key(key)] = value
    env.update({"ESSH_HOST_TAGS_" + env_key(tag): "1" for tag in sorted(host.tags)})
    env.update(_prefixed("ESSH_HOST_PROPS_", host.props.items()))
    _check_values(env, f"host {host.name}", host.defined_at)
    return tuple(sorted(env.items()))


def host_secret_env(host: HostDef) -> tuple[Pair, ...]:
    """(variable, secret name) for the host's props given as essh.secret(...), sorted by variable."""
    return tuple(sorted((f"ESSH_HOST_PROPS_{env_key(key)}", name) for key, name in host.secret_props.items()))


def task_env(task: TaskDef, args: Sequence[str], extra: Iterable[Pair] = ()) -> tuple[Pair, ...]:
    """The task's share of the environment: ESSH's variables, then `env`, then `extra`."""
    env = {"ESSH_TASK_NAME": task.name}
    env.update(_prefixed("ESSH_TASK_PROPS_", task.props.items()))
    env.update({f"ESSH_TASK_ARGS_{n}": arg for n, arg in enumerate(args, start=1)})
    for name, value in sorted(task.env.items()):
        problem = env_name_problem(name)
        if problem:
            raise ConfigError(f'task {task.name}: env name "{name}" {problem}', task.defined_at)
        env[name] = value
    env.update(extra)
    _check_values(env, f"task {task.name}", task.defined_at)
    return tuple(env.items())


def _check_values(env: dict[str, str], label: str, where: Source) -> None:
    """Refuse, at plan time, a value the step's shell could not hold (a NUL from a prop or env)."""
    for name, value in env.items():
        problem = env_value_problem(value)
        if problem:
            raise ConfigError(f"{label}: the value of {name} {problem}", where)
