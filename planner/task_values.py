"""The rules on a task's `backend`, `parallel`, `timeout` and `retries`, in one place.

The loader applies them to what Lua gave (blaming the property's line); the
resolver applies `check_task` to every task it plans, so a `TaskDef` built in
Python (`essh exec`, tests) meets the same rules. Each rule returns the value
in its planner type or raises a one-line ConfigError.
"""

from __future__ import annotations

from typing import Any

from . import lua_values as v
from .model import Source, TaskDef

BACKENDS = ("remote", "local")


def backend(value: Any, label: str, where: Source) -> str:
    if value not in BACKENDS:
        raise v.fail(label, '"remote" or "local"', value, where)
    return value


def parallel(value: Any, label: str, where: Source) -> bool | int:
    """true (all at once), false (one after another) or at most N at once."""
    if isinstance(value, bool):
        return value
    return v.whole_number(value, label, where, minimum=1)


def timeout(value: Any, label: str, where: Source) -> float:
    return v.positive_number(value, label, where)


def retries(value: Any, label: str, where: Source) -> int:
    return v.whole_number(value, label, where, minimum=0)


def check_task(task: TaskDef) -> None:
    """Apply every rule above to the values of `task` (None means unset)."""
    label = f"task {task.name}"
    if task.backend is not None:
        backend(task.backend, f"{label}: backend", task.defined_at)
    parallel(task.parallel, f"{label}: parallel", task.defined_at)
    if task.timeout is not None:
        timeout(task.timeout, f"{label}: timeout", task.defined_at)
    retries(task.retries, f"{label}: retries", task.defined_at)
