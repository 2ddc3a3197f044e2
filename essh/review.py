"""What people read: the plan review (`essh plan`, `essh show`), its JSON form, and
the summary table that ends `essh apply`. Works from schema objects only."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator

import msgspec

from essh.schema import STEP_STATUSES, Plan, Report, step_command, step_script


def plan_json(plan: Plan, digest: str) -> bytes:
    """The stable machine-readable form of a plan (docs/plan-format.md, "JSON form")."""
    doc = msgspec.to_builtins(plan)
    doc["steps"] = [
        {"id": i, "task": s.task, "host": s.host, "script": s.script, "prefix": s.prefix}
        for i, s in enumerate(plan.steps)
    ]
    doc = {"digest": digest, **doc}
    return msgspec.json.format(msgspec.json.encode(doc), indent=2) + b"\n"


def _mode(plan: Plan, index: int) -> str:
    task = plan.tasks[index]
    if task.role == "composite":
        return "composite, members run concurrently" if task.parallel != 1 else "composite"
    if task.parallel == 1:
        return "sequential"
    return "parallel" if task.parallel == 0 else f"parallel {task.parallel}"


def host_key_notes(plan: Plan) -> Iterator[str]:
    """Hosts whose keys are not verified as OpenSSH would: said at the top of every review."""
    for host in plan.hosts:
        for key, value in host.ssh_options:
            if key.lower() != "stricthostkeychecking":
                continue
            mode = value.lower()
            if mode in ("no", "off", "false"):
                yield f"warning: host {host.name}: host keys are NOT verified (StrictHostKeyChecking {value})"
            elif mode == "accept-new":
                yield f"note: host {host.name}: an unknown host key is accepted and recorded (StrictHostKeyChecking {value})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _short_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def render_plan(plan: Plan, *, verbose: bool = False) -> Iterator[str]:
    """The plan for people, line by line: tasks in execution order with their hosts."""
    by_task: dict[int, list[int]] = {}
    for i, step in enumerate(plan.steps):
        by_task.setdefault(step.task, []).append(i)
    meta = plan.meta
    requested = " ".join(meta.requested) or "(none)"
    yield f"essh plan for: {requested}" + (f" -- {' '.join(meta.args)}" if meta.args else "")
    for warning in meta.warnings:
        yield f"warning: {warning}"
    for line in host_key_notes(plan):
        yield line
    yield ""
    if verbose and plan.hosts:
        yield "# hosts"
        for host in plan.hosts:
            options = " ".join(f"{key}={value}" for key, value in host.ssh_options)
            yield f"    {host.name}" + (f": {options}" if options else "")
        yield ""
    for index, task in enumerate(plan.tasks):
        steps = by_task.get(index, [])
        where = f"  ({task.defined_at})" if task.defined_at else ""
        head = f"{task.name}"
        if task.role == "handler":
            head += f"  [handler: runs if '{plan.tasks[task.handles].name}' fails, on the hosts where it failed]"
        yield f"# {head}{where}"
        if task.description:
            yield f"    description: {task.description}"
        yield f"    mode: {_mode(plan, index)}, backend {task.backend}" + (
            f", after: {', '.join(plan.tasks[a].name for a in task.after)}" if task.after else ""
        )
        options = []
        if task.on_error != "stop":
            target = plan.tasks[task.handler].name if task.handler is not None else ""
            options.append(f"on_error={target or task.on_error}")
        if task.timeout is not None:
            options.append(f"timeout={task.timeout:g}s")
        if task.retries:
            options.append(f"retries={task.retries}")
        if task.pty:
            options.append("pty")
        if task.run_as is not None:
            options.append(f"as {task.run_as} (sudo)")
        if options:
            yield "    options: " + ", ".join(options)
        if steps:
            hosts = [plan.hosts[plan.steps[i].host].name if plan.steps[i].host is not None else "(local)" for i in steps]
            yield f"    hosts ({len(hosts)}): " + ", ".join(hosts)
            scripts = sorted({plan.steps[i].script for i in steps})
            for script_index in scripts:
                text = plan.scripts[script_index]
                lines = text.rstrip("\n").split("\n") if text.strip() else []
                label = f"    script ({_count(len(lines), 'line')}, sha256 {_short_digest(text)})"
                if verbose:
                    yield label + ":"
                    first = next(i for i in steps if plan.steps[i].script == script_index)
                    yield "      $ " + step_command(plan, plan.steps[first])
                    for line in step_script(plan, plan.steps[first]).split("\n"):
                        yield "      | " + line
                else:
                    yield label + ":"
                    for line in lines[:5]:
                        yield "      | " + line
                    if len(lines) > 5:
                        yield f"      | ... {len(lines) - 5} more lines (--verbose shows the full command)"
        yield ""
    counted = Counter(plan.tasks[s.task].role for s in plan.steps)
    hosts_used = {s.host for s in plan.steps if s.host is not None}
    handler_steps = counted.get("handler", 0)
    runnable = [t for t in plan.tasks if t.role != "handler"]
    yield (
        f"Plan: {_count(len(runnable), 'task')}, {_count(len(plan.steps) - handler_steps, 'step')}"
        f" on {_count(len(hosts_used), 'host')}"
        + (f" (+{_count(handler_steps, 'handler step')}, run only on failure)" if handler_steps else "")
        + "."
    )


def render_summary(report: Report) -> Iterator[str]:
    """The table that ends `essh apply`: per task, how its steps ended and how long
    the task took (first start to last end), then one line per step that did not succeed."""
    columns = ["ok" if s == "succeeded" else s.replace("_", " ") for s in STEP_STATUSES]
    per_task: dict[str, Counter] = {}
    spans: dict[str, tuple[float, float]] = {}
    for result in report.steps:
        per_task.setdefault(result.task, Counter())[result.status] += 1
        if result.started_at is not None and result.ended_at is not None:
            first, last = spans.get(result.task, (result.started_at, result.ended_at))
            spans[result.task] = (min(first, result.started_at), max(last, result.ended_at))
    width = max([len("TASK")] + [len(name) for name in per_task])
    yield "TASK".ljust(width) + "".join(f"  {c.upper():>11}" for c in columns) + "        TIME"
    for name, counts in per_task.items():
        first, last = spans.get(name, (0.0, 0.0))
        yield name.ljust(width) + "".join(f"  {counts[s]:>11}" for s in STEP_STATUSES) + f"  {last - first:>9.1f}s"
    for result in report.steps:
        if result.status not in ("succeeded", "skipped"):
            where = result.host or "local"
            yield f"{result.status}: {result.task} on {where}: {result.error or 'exit status ' + str(result.exit_code)}"
    totals = report.totals
    yield (
        f"Apply {'interrupted' if report.interrupted else 'finished'} in {report.wall_seconds:.1f}s: "
        f"{totals.succeeded} succeeded, {totals.failed} failed, {totals.timed_out} timed out, "
        f"{totals.unreachable} unreachable, {totals.skipped} skipped, {totals.cancelled} cancelled."
    )
