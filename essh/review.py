"""What people read: the plan review (`essh plan`, `essh show`), its JSON form, and
the summary table that ends `essh apply`. Works from schema objects only."""

from __future__ import annotations

import hashlib
import re
import shlex
from collections import Counter
from collections.abc import Iterator

import msgspec

from essh.schema import STEP_STATUSES, Plan, Report, Task, escape_text, step_command, step_script, sudo_prefix

from .file_review import render_task_files, summary_of_changes
from .colour import Palette
from .ssh_exposure import notable_options, routine_keywords

DEFAULT_SHELL = Task(name="").shell  # ("bash", "-c"): the command line every task has unless told otherwise


def plan_json(plan: Plan, digest: str, signatures: list[dict[str, object]] | None = None) -> bytes:
    """The stable machine-readable form of a plan (docs/plan-format.md, "JSON form"); `signatures`
    (essh.trust.describe) for a plan file."""
    doc = msgspec.to_builtins(plan)
    doc["steps"] = [
        {"id": i, "task": s.task, "host": s.host, "script": s.script, "prefix": s.prefix}
        | ({"ops": list(s.ops)} if s.ops else {})
        | ({"observed": [None if o is None else msgspec.to_builtins(o) for o in s.observed]} if s.observed else {})
        for i, s in enumerate(plan.steps)
    ]
    doc = {"digest": digest, **doc} | ({"signatures": signatures} if signatures is not None else {})
    text = msgspec.json.format(msgspec.json.encode(doc), indent=2).decode()
    return _NOT_ASCII.sub(_json_escape, text).encode() + b"\n"


# msgspec escapes C0 controls in JSON strings; C1, bidi and other invisible
# characters are escaped here too (as `\u202e`), so the JSON is as safe to show.
_NOT_ASCII = re.compile(r"[^\x20-\x7e\n]")


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if char.isprintable():
        return char
    data = char.encode("utf-16-be")
    return "".join(f"\\u{data[i]:02x}{data[i + 1]:02x}" for i in range(0, len(data), 2))


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
            shown = f"{_esc(host.name)}: {{}} (StrictHostKeyChecking {_esc(value)})"
            if mode in ("no", "off", "false"):
                yield "warning: host " + shown.format("host keys are NOT verified")
            elif mode == "accept-new":
                yield "note: host " + shown.format("an unknown host key is accepted and recorded")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _short_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _esc(text: str) -> str:
    return escape_text(text)


def _names(words) -> str:
    return ", ".join(_esc(w) for w in words)


def _lines(text: str) -> list[str]:
    """`text` split where bash splits commands: at newlines only (a final newline ends the last line)."""
    body = text[:-1] if text.endswith("\n") else text
    return body.split("\n") if text else []


def render_plan(plan: Plan, *, verbose: bool = False) -> Iterator[str]:
    """The plan for people, line by line: tasks in execution order with their hosts.

    Every text from the configuration or the plan is escaped. Without `verbose`,
    whatever could run something is still shown: a command line other than the
    default `bash -c` bootstrap, the SSH options outside the routine ones
    (essh.ssh_exposure), and every environment variable's name."""
    by_task: dict[int, list[int]] = {}
    for i, step in enumerate(plan.steps):
        by_task.setdefault(step.task, []).append(i)
    meta = plan.meta
    requested = " ".join(_esc(r) for r in meta.requested) or "(none)"
    yield f"essh plan for: {requested}" + (f" -- {' '.join(_esc(a) for a in meta.args)}" if meta.args else "")
    for warning in meta.warnings:
        yield f"warning: {_esc(warning)}"
    yield from host_key_notes(plan)
    yield ""
    hosts = list(render_hosts(plan, verbose=verbose))
    if hosts:
        yield "# hosts"
        yield from hosts
        yield ""
    modules = list(module_lines(plan))
    if modules:
        yield "# modules"
        yield from modules
        yield ""
    for index in range(len(plan.tasks)):
        yield from _render_task(plan, index, by_task.get(index, []), verbose)
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


def module_lines(plan: Plan) -> Iterator[str]:
    """Every module the configuration imported: source, commit (git), digest, registry."""
    for module in plan.meta.modules:
        commit = f" commit {_esc(module.commit)}" if module.commit else " (local folder)"
        yield f"    {_esc(module.source)}{commit} {_esc(module.digest)} ({module.registry} registry)"


def render_hosts(plan: Plan, *, verbose: bool) -> Iterator[str]:
    """The hosts' SSH options and environment: all of them with `verbose`; else each
    option that is not routine on its own line, and one line summing up the rest."""
    if verbose:
        for host in plan.hosts:
            options = " ".join(f"{key}={value}" for key, value in host.ssh_options)
            yield f"    {_esc(host.name)}" + (f": {_esc(options)}" if options else "")
            if host.env:
                yield "      env: " + _esc(" ".join(f"{name}={shlex.quote(value)}" for name, value in host.env))
            for name, secret in host.secret_env:
                yield f"      secret env: {_esc(name)} = (secret {_esc(secret)})"
        return
    for host in plan.hosts:
        for key, value in notable_options(host):
            yield f"    {_esc(host.name)}: {_esc(key)}={_esc(value)}"
    from_global = [host.name for host in plan.hosts if host.registry == "global"]
    if from_global:
        yield f"    from the global registry: {_esc(', '.join(from_global))}"
    keywords, count = routine_keywords(plan.hosts)
    if keywords:
        yield (
            f"    {_count(count, 'host')} also set {_names(keywords)}"
            " (--verbose shows every host's options and environment)"
        )


def _render_task(plan: Plan, index: int, steps: list[int], verbose: bool) -> Iterator[str]:
    task = plan.tasks[index]
    where = f"  ({_esc(str(task.defined_at))})" if task.defined_at else ""
    head = _esc(task.name)
    if task.role == "handler":
        head += f"  [handler: runs if '{_esc(plan.tasks[task.handles].name)}' fails, on the hosts where it failed]"
    yield f"# {head}{where}"
    if task.description:
        yield f"    description: {_esc(task.description)}"
    if task.registry == "global":
        yield "    registry: global (its targets are the global registry's hosts)"
    yield f"    mode: {_mode(plan, index)}, backend {task.backend}" + (
        f", after: {_names(plan.tasks[a].name for a in task.after)}" if task.after else ""
    )
    options = []
    if task.on_error != "stop":
        target = plan.tasks[task.handler].name if task.handler is not None else ""
        options.append(f"on_error={_esc(target or task.on_error)}")
    if task.timeout is not None:
        options.append(f"timeout={task.timeout:g}s")
    if task.retries:
        options.append(f"retries={task.retries}")
    if task.batch:
        options.append("batch=" + ",".join(str(size) for size in task.batch))
    if task.max_failures is not None or task.max_failures_percent is not None:
        limit = task.max_failures if task.max_failures is not None else f"{task.max_failures_percent:g}%"
        options.append(f"max_failures={limit}")
    if task.pty:
        options.append("pty")
    if task.run_as is not None:
        options.append(f"as {_esc(task.run_as)} (sudo)")
    if options:
        yield "    options: " + ", ".join(options)
    if not steps:
        return
    if not verbose and (task.shell != DEFAULT_SHELL or task.run_as is not None):
        # The bootstrap is essh's own fixed text; what wraps it is not.
        yield f"    command: {_esc(shlex.join([*sudo_prefix(task), *task.shell]))} BOOTSTRAP (--verbose shows it)"
    hosts = [plan.steps[i].host for i in steps]
    yield f"    hosts ({len(hosts)}): " + ", ".join("(local)" if h is None else _esc(plan.hosts[h].name) for h in hosts)
    if not verbose:
        yield from _env_names(plan, task, {h for h in hosts if h is not None})
    yield from render_task_files(plan, steps, verbose=verbose)
    for script_index in sorted({plan.steps[i].script for i in steps} - {None}):
        text = plan.scripts[script_index]
        lines = _lines(text)
        yield f"    script ({_count(len(lines), 'line')}, sha256 {_short_digest(text)}):"
        if verbose:
            first = next(plan.steps[i] for i in steps if plan.steps[i].script == script_index)
            yield "      $ " + _esc(step_command(plan, first))
            lines = step_script(plan, first).split("\n")
        elif len(lines) > 5:
            lines = [*lines[:5], f"... {len(lines) - 5} more lines (--verbose shows the full command)"]
        for line in lines:
            yield "      | " + _esc(line)


def _env_names(plan: Plan, task: Task, hosts: set[int]) -> Iterator[str]:
    """The names of the environment a task's steps get; values are left to --verbose."""
    if task.env:
        yield f"    env: {_names(name for name, _ in task.env)} (--verbose shows the values)"
    for name, secret in task.secret_env:
        yield f"    secret env: {_esc(name)} = (secret {_esc(secret)})"
    host_secrets = sorted({pair for h in hosts for pair in plan.hosts[h].secret_env})
    for name, secret in host_secrets:
        yield f"    secret env (hosts): {_esc(name)} = (secret {_esc(secret)})"
    names = {name for h in hosts for name, _ in plan.hosts[h].env}
    if names:
        # Names in essh's host namespace are read by scripts only, never by a program
        # on its own (as LD_PRELOAD or BASH_ENV are): one word stands for them.
        grouped = {n for n in names if n.startswith("ESSH_HOST_")}
        words = sorted(names - grouped) + (["ESSH_HOST_*"] if grouped else [])
        yield f"    host env: {_names(words)}"


def render_summary(report: Report, *, palette: Palette | None = None) -> Iterator[str]:
    """The table that ends `essh apply`: per task, how its steps ended and how long
    the task took (first start to last end), one line per step that did not succeed,
    then the hosts that failed, were unreachable, or never ran a step because of a
    failure. In colour (as Terraform): failures red, successes green, headers bold."""
    p = palette or Palette(False)
    columns = ["ok" if s == "succeeded" else s.replace("_", " ") for s in STEP_STATUSES]
    per_task: dict[str, Counter] = {}
    spans: dict[str, tuple[float, float]] = {}
    for result in report.steps:
        per_task.setdefault(result.task, Counter())[result.status] += 1
        if result.started_at is not None and result.ended_at is not None:
            first, last = spans.get(result.task, (result.started_at, result.ended_at))
            spans[result.task] = (min(first, result.started_at), max(last, result.ended_at))
    width = max([len("TASK")] + [len(_esc(name)) for name in per_task])
    yield p.style("TASK".ljust(width) + "".join(f"  {c.upper():>11}" for c in columns) + "        TIME", "bold")
    for name, counts in per_task.items():
        first, last = spans.get(name, (0.0, 0.0))
        cells = "".join(p.style(f"  {counts[s]:>11}", _STATUS_STYLE[s]) if counts[s] else f"  {0:>11}" for s in STEP_STATUSES)
        yield _esc(name).ljust(width) + cells + f"  {last - first:>9.1f}s"
    for result in report.steps:
        if result.status not in ("succeeded", "skipped"):
            where = result.host or "local"
            why = result.error or f"exit status {result.exit_code}"
            yield p.style(f"{result.status}:", _STATUS_STYLE[result.status]) + f" {_esc(result.task)} on {_esc(where)}: {_esc(why)}"
    for label, hosts in _hosts_by_outcome(report):
        yield p.style(label, "bold") + " " + _names(hosts)
    totals = report.totals
    bad = totals.failed + totals.timed_out + totals.unreachable
    yield p.style(
        f"Apply {'interrupted' if report.interrupted else 'finished'} in {report.wall_seconds:.1f}s: "
        f"{totals.succeeded} succeeded, {totals.failed} failed, {totals.timed_out} timed out, "
        f"{totals.unreachable} unreachable, {totals.skipped} skipped, {totals.cancelled} cancelled.",
        "bold_red" if bad or report.interrupted else "bold_green",
    )
    files = summary_of_changes(report)
    if files:
        yield files


_STATUS_STYLE = {
    "succeeded": "green", "failed": "red", "unreachable": "red", "timed_out": "red",
    "skipped": "dim", "cancelled": "yellow", "running": "yellow", "pending": "dim",
}


def _hosts_by_outcome(report: Report) -> Iterator[tuple[str, list[str]]]:
    """Hosts (in the report's order, each once) that failed, were unreachable, or never ran
    a step because the run stopped; a handler not needed is no failure."""
    failed: dict[str, None] = {}
    unreachable: dict[str, None] = {}
    never: dict[str, None] = {}
    for r in report.steps:
        host = r.host or "local"
        if r.status in ("failed", "timed_out"):
            failed[host] = None
        elif r.status == "unreachable":
            unreachable[host] = None
        elif r.status == "skipped" and (r.error or "").startswith("not run:"):
            never[host] = None
    for host in (*failed, *unreachable):
        never.pop(host, None)
    if failed:
        yield "Failed on:", list(failed)
    if unreachable:
        yield "Unreachable:", list(unreachable)
    if never:
        yield "Never ran (stopped by a failure, an unreachable host or an interrupt):", list(never)


def coloured_review(lines: Iterator[str], palette: Palette) -> Iterator[str]:
    """The review in colour, as Terraform shows a plan: task headers bold, warnings yellow,
    scripts and secondary lines dim, the closing count bold. Decided by each line's own
    leading marker, which only render_plan writes (what it quotes is escaped and indented)."""
    if not palette.enabled:
        yield from lines
        return
    for line in lines:
        if line.startswith("# "):
            yield palette.style(line, "bold")
        elif line.startswith("warning:"):
            yield palette.style(line, "bold_yellow")
        elif line.startswith("note:"):
            yield palette.style(line, "yellow")
        elif line.startswith(("      | ", "      $ ", "    description:", "    mode:")):
            yield palette.style(line, "dim")
        elif line.startswith("Plan:"):
            yield palette.style(line, "bold_green")
        else:
            yield line
