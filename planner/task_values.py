"""The rules on a task's `backend`, `parallel`, `timeout`, `retries`, `max_failures` and `batch`, in one place.

The loader applies them to what Lua gave (blaming the property's line); the
resolver applies `check_task` to every task it plans, so a `TaskDef` built in
Python (`essh exec`, tests) meets the same rules. Each rule returns the value
in its planner type or raises a one-line ConfigError.
"""

from __future__ import annotations

import re
from typing import Any

from . import lua_values as v
from .model import Source, TaskDef

BACKENDS = ("remote", "local")
_PERCENT = re.compile(r"(100|[0-9]{1,2}(\.[0-9]+)?)%")


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


def _percent(value: Any, minimum: float) -> str | None:
    """`value` as the plan's "N%" (from `minimum` to 100), or None if it is not one."""
    if isinstance(value, str):
        found = _PERCENT.fullmatch(value.strip())
        if found and float(found[1]) >= minimum:
            return found[0]
    return None


def max_failures(value: Any, label: str, where: Source) -> int | str:
    """How many of the task's hosts may fail: a count (0: none) or a percentage "N%"."""
    if isinstance(value, str):
        percent = _percent(value, 0)
        if percent is None:
            raise v.fail(label, 'a whole number of hosts or a percentage such as "10%"', value, where)
        return percent
    return v.whole_number(value, label, where, minimum=0)


def batch(value: Any, label: str, where: Source) -> list[int | str]:
    """Waves of hosts: a size, or a list of sizes (the last repeats); each a count >= 1 or "N%"."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise v.fail(label, 'a size or a list of sizes (counts or percentages such as "25%")', value, where)
    sizes: list[int | str] = []
    for item in items:
        if isinstance(item, str):
            percent = _percent(item, 0.000001)
            if percent is None:
                raise v.fail(label, 'counts of at least 1 or percentages above 0 such as "25%"', item, where)
            sizes.append(percent)
        else:
            sizes.append(v.whole_number(item, label, where, minimum=1))
    return sizes


def check_task(task: TaskDef) -> None:
    """Apply every rule above to the values of `task` (None means unset)."""
    label = f"task {task.name}"
    if task.backend is not None:
        backend(task.backend, f"{label}: backend", task.defined_at)
    parallel(task.parallel, f"{label}: parallel", task.defined_at)
    if task.timeout is not None:
        timeout(task.timeout, f"{label}: timeout", task.defined_at)
    retries(task.retries, f"{label}: retries", task.defined_at)
    if task.max_failures is not None:
        max_failures(task.max_failures, f"{label}: max_failures", task.defined_at)
    if task.batch:
        batch(task.batch, f"{label}: batch", task.defined_at)
