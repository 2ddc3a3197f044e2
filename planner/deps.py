"""Dependency order: requested tasks and their `depends` into a topological list.

Rules (ESSH's, made explicit):
- the requested tasks run in the order given, each after the previous one;
- a task's `depends` run before it, in the order listed, each after the previous;
- a task reached by several paths appears once, where it is first reached;
- a composite task (no script) with `parallel` set runs its depends
  concurrently: each of them waits only for what came before the composite.

The walk threads a *frontier* (the tasks the next one must wait for) through
the graph: visiting T with frontier F returns {T}; a sequential task hands F to
its first dependency and each result to the next; a parallel composite hands F
to every dependency and waits for the union. T waits for the frontier it holds
after its dependencies. Tasks come out in the order they finish being visited,
which is a topological order of "waits for" with a stated tie-break: the
order of the request and of each `depends` list.

The walk is iterative (an explicit stack of generators), so chains of any
depth plan without hitting Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence

import msgspec

from .hints import did_you_mean
from .model import ConfigError, Source, TaskDef


class Ordered(msgspec.Struct, frozen=True):
    """A task in execution order, with the names of the tasks it waits for."""

    name: str
    after: frozenset[str]
    requested: bool


def unknown_task(name: str, tasks: Mapping[str, TaskDef], referrer: str | None, source: Source | None) -> ConfigError:
    """The error for a reference to a task that is not defined; `referrer` says
    who refers to it (`task deploy depends on`), None for the command line."""
    hint = did_you_mean(name, tasks)
    if referrer is None:
        return ConfigError(f'task "{name}" is not defined{hint}', source)
    return ConfigError(f'{referrer} "{name}", which is not defined{hint}', source)


def is_composite(task: TaskDef) -> bool:
    """A task without a script or file operations runs only its depends."""
    return not task.script and not task.files


def runs_members_concurrently(task: TaskDef) -> bool:
    """Whether a composite starts its depends together (`parallel` set)."""
    parallel = task.parallel
    return is_composite(task) and (parallel is True or (type(parallel) is int and parallel >= 2))


_Visit = Generator[tuple[str, frozenset[str], TaskDef], frozenset[str], frozenset[str]]


def order_tasks(tasks: Mapping[str, TaskDef], requested: Sequence[str]) -> list[Ordered]:
    """The tasks to run for `requested`, in execution order; raise ConfigError
    for an unknown task (with the closest name) or a cycle (with its path)."""
    asked = set(requested)
    after: dict[str, frozenset[str]] = {}
    out: list[Ordered] = []
    path: list[str] = []  # tasks being visited, outermost first

    def visit(name: str, frontier: frozenset[str]) -> _Visit:
        task = tasks[name]
        if runs_members_concurrently(task) and task.depends:
            joined: frozenset[str] = frozenset()
            for dep in task.depends:
                joined |= yield dep, frontier, task
            frontier = joined
        else:
            for dep in task.depends:
                frontier = yield dep, frontier, task
        after[name] = frontier
        out.append(Ordered(name, frontier, name in asked))
        return frozenset((name,))

    def enter(name: str, frontier: frozenset[str], referrer: TaskDef | None) -> _Visit | frozenset[str]:
        """A generator to run for a new task, or the frontier at once."""
        if name not in tasks:
            if referrer is None:
                raise unknown_task(name, tasks, None, None)
            raise unknown_task(name, tasks, f"task {referrer.name} depends on", referrer.defined_at)
        if name in after:
            return frontier | {name}
        if name in path:
            cycle = path[path.index(name) :] + [name]
            raise ConfigError(f"tasks depend on each other in a cycle: {' -> '.join(cycle)}", tasks[name].defined_at)
        path.append(name)
        return visit(name, frontier)

    frontier: frozenset[str] = frozenset()
    for name in requested:
        started = enter(name, frontier, None)
        if isinstance(started, frozenset):
            frontier = started
            continue
        stack: list[_Visit] = [started]
        reply: frozenset[str] | None = None
        while stack:
            try:
                dep, dep_frontier, referrer = stack[-1].send(reply)  # type: ignore[arg-type]
            except StopIteration as done:
                stack.pop()
                path.pop()
                reply = done.value
                continue
            nested = enter(dep, dep_frontier, referrer)
            if isinstance(nested, frozenset):
                reply = nested
            else:
                stack.append(nested)
                reply = None
        frontier = reply  # type: ignore[assignment]
    return out


def reduce_after(after: Sequence[frozenset[int]]) -> list[tuple[int, ...]]:
    """Each task's `after` without the tasks already implied through another one
    (fetch is dropped from {fetch, checks} when checks waits for fetch), sorted.

    `after[i]` holds indices below i. Reachability is unchanged, so the order is
    the same; the plan only reads simpler. A walk back from the other entries
    stops below the smallest entry, as nothing there can be an entry.
    """
    out: list[tuple[int, ...]] = []
    for direct in after:
        if len(direct) < 2:
            out.append(tuple(direct))
            continue
        low = min(direct)
        implied: set[int] = set()
        todo = list(direct)
        while todo:
            for earlier in out[todo.pop()]:
                if earlier >= low and earlier not in implied:
                    implied.add(earlier)
                    todo.append(earlier)
        out.append(tuple(sorted(direct - implied)))
    return out
