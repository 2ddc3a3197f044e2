"""`essh diff OLD NEW`: what changed between two plans, as data and as text (pure).

Tasks are matched by name. For a task in both plans: the hosts it gained and
lost, each task setting that changed (mode, options, environment; `after`,
`handler` and `handles` compared by task name; where it is defined is not a
change), and each script that changed, as a unified diff, once per group of
hosts with the same change. Steps' other fields (their prefix, and kinds of
step added in later format versions) are compared generically, as are the
plan's file blobs. Hosts matched by name: changed SSH options, tags, env.
The request (tasks asked for, arguments) is compared too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

import msgspec

from essh.schema import Download, Plan, escape_text

_SKIPPED_FIELDS = frozenset({"name", "defined_at"})


class Change(msgspec.Struct, frozen=True):
    """One field that changed: its name, the old and the new value (as JSON-able data)."""

    field: str
    old: Any
    new: Any


class ScriptChange(msgspec.Struct, frozen=True):
    hosts: tuple[str, ...]  # "(local)" for a step without a host
    diff: tuple[str, ...]  # unified diff lines
    what: str = "script"  # or the upload whose text changed ("upload /etc/app.conf")


class TaskDiff(msgspec.Struct, frozen=True):
    name: str
    status: str  # added, removed, changed
    hosts_added: tuple[str, ...] = ()
    hosts_removed: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()
    scripts: tuple[ScriptChange, ...] = ()


class HostDiff(msgspec.Struct, frozen=True):
    name: str
    status: str
    changes: tuple[Change, ...] = ()


class PlanDiff(msgspec.Struct, frozen=True):
    request: tuple[Change, ...] = ()
    tasks: tuple[TaskDiff, ...] = ()
    hosts: tuple[HostDiff, ...] = ()
    files: tuple[Change, ...] = ()

    @property
    def equal(self) -> bool:
        return not (self.request or self.tasks or self.hosts or self.files)


_LOCAL = "(local)"
_TEXT_LIMIT = 256 * 1024  # an inline upload up to this size is diffed as text


def _fields(struct: msgspec.Struct) -> dict[str, Any]:
    """Every field, defaults included (the plan's Structs omit defaults when encoded)."""
    return {f: msgspec.to_builtins(getattr(struct, f)) for f in struct.__struct_fields__ if f not in _SKIPPED_FIELDS}


def _task_data(plan: Plan, index: int) -> dict[str, Any]:
    task = plan.tasks[index]
    data = _fields(task)
    name = lambda i: plan.tasks[i].name  # noqa: E731
    data["after"] = sorted(name(i) for i in task.after)
    for key in ("handler", "handles"):
        if getattr(task, key) is not None:
            data[key] = name(getattr(task, key))
    return data


def _changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[Change, ...]:
    return tuple(Change(k, old.get(k), new.get(k)) for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k))


def _steps_by_host(plan: Plan) -> dict[str, dict[str, dict[str, Any]]]:
    """task name -> host name -> the step as data: its script text, prefix and file operations
    (by destination, with their contents' digests), never indices that differ between plans."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for step in plan.steps:
        data = {
            "script": plan.scripts[step.script] if step.script is not None else "",
            "rest": {"prefix": step.prefix},
            "files": dict(_operation(plan, op) for op in step.ops),
        }
        host = _LOCAL if step.host is None else plan.hosts[step.host].name
        out.setdefault(plan.tasks[step.task].name, {})[host] = data
    return out


def _operation(plan: Plan, index: int) -> tuple[str, dict[str, Any]]:
    """(a name for the operation, what it does as data, with the text of an inline upload when it is text)."""
    op = plan.operations[index]
    if isinstance(op, Download):
        return f"download {op.src}", {"to": op.dest}
    blob = plan.files[op.blob]
    data: dict[str, Any] = {"sha256": blob.sha256, "mode": oct(op.mode), "owner": op.owner, "group": op.group}
    text = None
    if not blob.is_reference and len(blob.data) <= _TEXT_LIMIT:
        try:
            text = blob.data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    data["text"] = text
    return f"upload {op.dest}", data


def _script_changes(old: dict[str, dict], new: dict[str, dict]) -> tuple[tuple[ScriptChange, ...], tuple[Change, ...]]:
    groups: dict[tuple[str, str, str], list[str]] = {}
    others: list[Change] = []
    for host in sorted(old.keys() & new.keys()):
        a, b = old[host], new[host]
        if a["script"] != b["script"]:
            groups.setdefault(("script", a["script"], b["script"]), []).append(host)
        if a["rest"] != b["rest"]:
            others.append(Change(f"step on {host}", a["rest"], b["rest"]))
        for name in sorted(a["files"].keys() | b["files"].keys()):
            was, now = a["files"].get(name), b["files"].get(name)
            if was == now:
                continue
            if was is None or now is None:
                others.append(Change(f"{name} on {host}", _shown(was), _shown(now)))
                continue
            if was.get("text") is not None and now.get("text") is not None and was["text"] != now["text"]:
                groups.setdefault((name, was["text"], now["text"]), []).append(host)
            for key in sorted(was.keys() - {"text"}):
                if was[key] != now.get(key):
                    others.append(Change(f"{name} on {host}: {key}", was[key], now.get(key)))
    scripts = tuple(
        ScriptChange(
            tuple(hosts),
            tuple(difflib.unified_diff(a.splitlines(), b.splitlines(), "old", "new", lineterm="")),
            what,
        )
        for (what, a, b), hosts in groups.items()
    )
    return scripts, tuple(others)


def _shown(operation: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if operation is None else {k: v for k, v in operation.items() if k != "text"}


def _by_name(items) -> dict[str, int]:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        name, k = item.name, 2
        while name in seen:  # a plan's names are unique; forged ones still compare
            name, k = f"{item.name}#{k}", k + 1
        seen[name] = i
    return seen


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    request = _changes(
        {"requested": list(old.meta.requested), "args": list(old.meta.args)},
        {"requested": list(new.meta.requested), "args": list(new.meta.args)},
    )
    old_tasks, new_tasks = _by_name(old.tasks), _by_name(new.tasks)
    old_steps, new_steps = _steps_by_host(old), _steps_by_host(new)
    tasks: list[TaskDiff] = []
    for name in sorted(old_tasks.keys() | new_tasks.keys(), key=lambda n: (new_tasks.get(n, -1), old_tasks.get(n, -1))):
        a_hosts, b_hosts = old_steps.get(name, {}), new_steps.get(name, {})
        if name not in old_tasks:
            tasks.append(TaskDiff(name, "added", hosts_added=tuple(sorted(b_hosts))))
            continue
        if name not in new_tasks:
            tasks.append(TaskDiff(name, "removed", hosts_removed=tuple(sorted(a_hosts))))
            continue
        scripts, step_changes = _script_changes(a_hosts, b_hosts)
        task = TaskDiff(
            name,
            "changed",
            hosts_added=tuple(sorted(b_hosts.keys() - a_hosts.keys())),
            hosts_removed=tuple(sorted(a_hosts.keys() - b_hosts.keys())),
            changes=_changes(_task_data(old, old_tasks[name]), _task_data(new, new_tasks[name])) + step_changes,
            scripts=scripts,
        )
        if task.hosts_added or task.hosts_removed or task.changes or task.scripts:
            tasks.append(task)
    old_hosts, new_hosts = _by_name(old.hosts), _by_name(new.hosts)
    hosts: list[HostDiff] = []
    for name in sorted(old_hosts.keys() | new_hosts.keys()):
        if name not in old_hosts or name not in new_hosts:
            hosts.append(HostDiff(name, "added" if name in new_hosts else "removed"))
            continue
        changes = _changes(_fields(old.hosts[old_hosts[name]]), _fields(new.hosts[new_hosts[name]]))
        if changes:
            hosts.append(HostDiff(name, "changed", changes))
    files = _changes({"secrets": sorted(s.name for s in old.secrets)}, {"secrets": sorted(s.name for s in new.secrets)})
    return PlanDiff(request, tuple(tasks), tuple(hosts), files)


def diff_json(diff: PlanDiff) -> bytes:
    return msgspec.json.format(msgspec.json.encode({"equal": diff.equal, **msgspec.to_builtins(diff)}), indent=2) + b"\n"


def _value(value: Any) -> str:
    return escape_text(msgspec.json.encode(value).decode())


def render_diff(diff: PlanDiff) -> Iterator[str]:
    """The diff for a person: one block per task, then hosts; everything escaped."""
    if diff.equal:
        yield "The plans run the same steps with the same settings."
        return
    for c in diff.request:
        yield f"request {c.field}: {_value(c.old)} -> {_value(c.new)}"
    for t in diff.tasks:
        hosts = t.hosts_added or t.hosts_removed
        if t.status != "changed":
            yield f"task {escape_text(t.name)}: {t.status} ({len(hosts)} host{'s' if len(hosts) != 1 else ''})"
            continue
        yield f"task {escape_text(t.name)}: changed"
        if t.hosts_added:
            yield "    hosts added: " + escape_text(", ".join(t.hosts_added))
        if t.hosts_removed:
            yield "    hosts removed: " + escape_text(", ".join(t.hosts_removed))
        for c in t.changes:
            yield f"    {escape_text(c.field)}: {_value(c.old)} -> {_value(c.new)}"
        for s in t.scripts:
            yield f"    {escape_text(s.what)} on " + escape_text(", ".join(s.hosts)) + ":"
            for line in s.diff:
                yield "      " + escape_text(line)
    for h in diff.hosts:
        yield f"host {escape_text(h.name)}: {h.status}"
        for c in h.changes:
            yield f"    {escape_text(c.field)}: {_value(c.old)} -> {_value(c.new)}"
    for c in diff.files:
        yield f"plan {c.field}: {_value(c.old)} -> {_value(c.new)}"
