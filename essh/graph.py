"""`essh graph`: the planned task graph as Graphviz dot, mermaid or text, from a plan (schema objects only).

Nodes are the plan's tasks in planned order (`t0`, `t1`, ... by index, so
names never need to be identifiers): ordinary tasks as boxes, composites as
hexagons, handlers as rounded nodes; each labelled with its name, its number of
hosts and how its steps run. Edges: `a -> b` when b runs after a (`Task.after`);
a dashed edge labelled "on failure" from a task to its handler. Every name is
escaped for a person (`escape_text`) and then for the format.
"""

from __future__ import annotations

from collections.abc import Iterator

from essh.schema import Plan, escape_text

FORMATS = ("text", "dot", "mermaid")


def render_graph(plan: Plan, fmt: str) -> Iterator[str]:
    if fmt == "dot":
        return _dot(plan)
    if fmt == "mermaid":
        return _mermaid(plan)
    if fmt == "text":
        return _text(plan)
    raise ValueError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def _hosts(plan: Plan) -> list[int]:
    counts = [0] * len(plan.tasks)
    for step in plan.steps:
        counts[step.task] += 1
    return counts


def _detail(plan: Plan, index: int, hosts: int) -> str:
    task = plan.tasks[index]
    if task.role == "composite":
        return "composite"
    mode = "sequential" if task.parallel == 1 else "parallel" if task.parallel == 0 else f"parallel {task.parallel}"
    where = "local" if task.backend == "local" and hosts <= 1 else f"{hosts} host{'s' if hosts != 1 else ''}"
    return f"{where}, {mode}" + (", handler" if task.role == "handler" else "")


def _edges(plan: Plan) -> Iterator[tuple[int, int, bool]]:
    """(from, to, is_handler_edge) in planned order."""
    for index, task in enumerate(plan.tasks):
        for before in task.after:
            yield before, index, False
    for index, task in enumerate(plan.tasks):
        if task.role == "handler" and task.handles is not None:
            yield task.handles, index, True


def _dot_string(text: str) -> str:
    return '"' + escape_text(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot(plan: Plan) -> Iterator[str]:
    hosts = _hosts(plan)
    yield "digraph essh {"
    yield "  rankdir=LR;"
    yield '  node [fontname="sans-serif"];'
    shapes = {"task": "box", "composite": "hexagon", "handler": "box, style=rounded"}
    for index, task in enumerate(plan.tasks):
        label = _dot_string(task.name)[:-1] + "\\n" + _dot_string(_detail(plan, index, hosts[index]))[1:]
        yield f"  t{index} [label={label}, shape={shapes[task.role]}];"
    for a, b, handler in _edges(plan):
        yield f'  t{a} -> t{b} [style=dashed, label="on failure"];' if handler else f"  t{a} -> t{b};"
    yield "}"


_MERMAID_ENTITIES = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "#": "#35;", "&": "#amp;", "`": "#96;"}


def _mermaid_string(text: str) -> str:
    escaped = "".join(_MERMAID_ENTITIES.get(c, c) for c in escape_text(text))
    return '"' + escaped + '"'


def _mermaid(plan: Plan) -> Iterator[str]:
    hosts = _hosts(plan)
    yield "flowchart LR"
    shapes = {"task": ("[", "]"), "composite": ("{{", "}}"), "handler": ("([", "])")}
    for index, task in enumerate(plan.tasks):
        left, right = shapes[task.role]
        label = _mermaid_string(task.name).removesuffix('"') + "<br/>" + _mermaid_string(_detail(plan, index, hosts[index]))[1:]
        yield f"  t{index}{left}{label}{right}"
    for a, b, handler in _edges(plan):
        yield f"  t{a} -. on failure .-> t{b}" if handler else f"  t{a} --> t{b}"


def _text(plan: Plan) -> Iterator[str]:
    hosts = _hosts(plan)
    for index, task in enumerate(plan.tasks):
        yield f"{escape_text(task.name)} ({_detail(plan, index, hosts[index])})"
        if task.after:
            yield "  after: " + ", ".join(escape_text(plan.tasks[a].name) for a in task.after)
        if task.role == "handler" and task.handles is not None:
            yield f"  on failure of: {escape_text(plan.tasks[task.handles].name)}"
