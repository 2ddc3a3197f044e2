"""Resolution: a `Config` and a request in, an `essh.schema.Plan` out.

The phases, in order, each deterministic:
1. order: the requested tasks and their depends, topologically (`deps`);
2. prepare: each task's `prepare(ctx)` in that order; false is an error, as
   ESSH stops there ("returned false from the prepare function");
3. hosts: each task's targets and filters (`targets`); a remote task that
   selects nothing is an error; `on_error` handlers are appended last, one per
   failing task, on that task's hosts;
4. emit: the hosts some step uses (sorted by name), the tasks, their scripts
   (stored once each) and the steps: in task order, hosts sorted by name.

Nothing here does I/O but `files` (a task's uploads and templates are read there);
a task's `script_file` was read by the loader.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from essh.schema import INLINE_LIMIT, ConfigFile, Location, ModuleRef, Plan, PlanMeta, SecretRef, Step, Task, Upload

from . import task_values
from .deps import is_composite, order_tasks, reduce_after, runs_members_concurrently, unknown_task
from .drivers import Drivers, ScriptTable, Templates, prefixes, run_as, shell_for
from .env import task_env
from .files import FileTable
from .hints import did_you_mean
from .hosts import login_only_warnings, plan_host, refuse_jump_loops, unapplied_options, with_jump_hosts
from .model import Config, ConfigError, HostDef, ScriptPart, Source, TaskDef
from .targets import HostIndex, is_glob
from .targets import select_hosts as targets_select_hosts

_ON_ERROR_MODES = ("stop", "continue")


class _Planned(msgspec.Struct):
    """A task on its way into the plan."""

    task: TaskDef
    after: frozenset[str]
    requested: bool
    role: str = "task"
    backend: str = "remote"
    hosts: list[HostDef | None] = msgspec.field(default_factory=list)
    handles: str | None = None  # for a handler: the failing task's name
    extra_env: tuple[tuple[str, str], ...] = ()


def make_plan(
    config: Config,
    tasks: Sequence[str],
    args: Sequence[str] = (),
    *,
    created_at: int | None = None,
    essh_version: str,
    relative_to: str | None = None,
    inline_limit: int = INLINE_LIMIT,
) -> Plan:
    """The plan for running `tasks` (the `default` task when empty) with `args`.

    With `relative_to` (a folder, the CLI's working directory), configuration
    paths below it are recorded relative to it, so the same checkout planned in
    two places (two CI runners) gives the same plan file."""
    requested = list(tasks) or [_default_task(config)]
    ordered = order_tasks(config.tasks, requested)
    planned = [_Planned(config.tasks[o.name], o.after, o.requested) for o in ordered]
    plan = _build(config, planned, requested, args, created_at, essh_version, inline_limit)
    return _relative(plan, relative_to)


def make_exec_plan(
    config: Config,
    command: str,
    *,
    targets: Sequence[str],
    filters: Sequence[str] = (),
    parallel: bool | int = False,
    backend: str = "remote",
    prefix: bool | str | None = None,
    created_at: int | None = None,
    essh_version: str,
    relative_to: str | None = None,
    privileged: bool = False,
    user: str | None = None,
    pty: bool = False,
    driver: str | None = None,
) -> Plan:
    """The plan for `essh exec`: `command` as a one-off task named `exec` (`relative_to` as for make_plan).

    `prefix` may be a template (ESSH's `--prefix-string`); `privileged`, `user`,
    `pty` and `driver` are the task properties of the same names.
    """
    source = Source("<command line>")
    if backend == "remote" and not targets:
        raise ConfigError("essh exec with the remote backend needs --target (or use --backend local)")
    task = TaskDef(
        name="exec",
        defined_at=source,
        script=[ScriptPart(command)],
        targets=list(targets),
        filters=list(filters),
        backend=backend,
        parallel=parallel,
        prefix=prefix,
        privileged=privileged,
        user=user or None,
        pty=pty,
        driver=driver,
    )
    planned = [_Planned(task, frozenset(), True)]
    plan = _build(msgspec.structs.replace(config, tasks={"exec": task}), planned, ["exec"], (), created_at, essh_version)
    return _relative(plan, relative_to)


def _relative(plan: Plan, base: str | None) -> Plan:
    """`plan` with the configuration paths under `base` made relative to it."""
    if base is None:
        return plan
    prefix = os.path.join(os.path.abspath(base), "")

    def rel(path: str) -> str:
        return path[len(prefix):] if path.startswith(prefix) else path

    def located(item):
        where = item.defined_at
        if where is None or not where.file.startswith(prefix):
            return item
        return msgspec.structs.replace(item, defined_at=msgspec.structs.replace(where, file=rel(where.file)))

    files = tuple(msgspec.structs.replace(f, path=rel(f.path)) for f in plan.meta.config_files)
    ops = tuple(
        msgspec.structs.replace(op, src=rel(op.src)) if getattr(op, "origin", "") in ("upload", "template") else op
        for op in plan.operations
    )
    return msgspec.structs.replace(
        plan,
        operations=ops,
        files=tuple(msgspec.structs.replace(b, source=rel(b.source)) if b.source else b for b in plan.files),
        meta=msgspec.structs.replace(plan.meta, config_files=files),
        hosts=tuple(located(h) for h in plan.hosts),
        tasks=tuple(located(t) for t in plan.tasks),
    )


def select_hosts(config: Config, patterns: Sequence[str], filters: Sequence[str] = ()) -> list[HostDef]:
    """Hosts matching `patterns` (every host when empty) narrowed by `filters`, by name."""
    return targets_select_hosts(config.hosts, patterns, filters)


def _default_task(config: Config) -> str:
    if "default" in config.tasks:
        return "default"
    known = ", ".join(sorted(config.tasks)) or "none are defined"
    raise ConfigError(f'no task named and no task "default" is defined; tasks: {known}')


def _build(
    config: Config,
    planned: list[_Planned],
    requested: Sequence[str],
    args: Sequence[str],
    created_at: int | None,
    essh_version: str,
    inline_limit: int = INLINE_LIMIT,
) -> Plan:
    warnings: list[str] = [
        f"os.getenv({name!r}) was read while planning: a value read so is stored in the plan in clear; "
        f"use essh.secret({name!r}) in a task's env to resolve it when the plan is applied"
        for name in config.secret_reads
    ]
    planned = _run_prepare(planned, args)
    indexes = _registry_indexes(config.hosts)
    for p in planned:
        _place(p, indexes.get(p.task.registry) or HostIndex({}), config.hosts)
        if runs_members_concurrently(p.task) and p.task.parallel is not True:
            warnings.append(f"task {p.task.name}: parallel = {p.task.parallel} runs its depends together without a limit")
    planned += _handlers(config, planned)

    used = sorted(with_jump_hosts({h.name for p in planned for h in p.hosts if h is not None}, config.hosts))
    host_index = {name: i for i, name in enumerate(used)}
    plan_hosts = tuple(plan_host(config.hosts[name]) for name in used)
    refuse_jump_loops(plan_hosts, config.hosts)
    for name in used:
        warnings.extend(unapplied_options(config.hosts[name]))
        warnings.extend(login_only_warnings(config.hosts[name], config.ssh_config))

    position = {p.task.name: i for i, p in enumerate(planned) if p.role != "handler"}
    handler_of = {position[p.handles]: i for i, p in enumerate(planned) if p.handles is not None}
    after = reduce_after([frozenset(position[name] for name in p.after) for p in planned])
    scripts = ScriptTable()
    templates = Templates()
    drivers = Drivers(config, scripts, templates)
    file_table = FileTable(templates, inline_limit)
    tasks: list[Task] = []
    steps: list[Step] = []
    for i, p in enumerate(planned):
        tasks.append(_plan_task(p, i, after[i], handler_of, position, args))
        if p.role == "composite":
            continue
        script_ids: list[int | None] = (
            list(drivers.script_ids(p.task, p.hosts, args)) if p.task.script else [None] * len(p.hosts)
        )
        shown = prefixes(p.task, p.backend, p.hosts, args, templates)
        ops = file_table.step_ops(p.task, p.backend, p.hosts, args)
        for h, script, prefix, step_ops in zip(p.hosts, script_ids, shown, ops):
            steps.append(Step(i, None if h is None else host_index[h.name], script, prefix, ops=step_ops))

    warnings.extend(
        f"{op.dest}: holds a secret, and mode {op.mode:04o} lets every user on the host read it"
        for op in file_table.operations if isinstance(op, Upload) and op.secrets and op.mode & 0o004
    )
    secret_names = sorted({name for t in tasks for _, name in t.secret_env} | {
        name for h in plan_hosts for _, name in h.secret_env} | {
        name for op in file_table.operations if isinstance(op, Upload) for _, name in op.secrets})
    meta = PlanMeta(
        essh_version=essh_version,
        created_at=int(time.time()) if created_at is None else created_at,
        lua_version=config.lua_version,
        config_files=tuple(ConfigFile(path=f.path, sha256=f.sha256) for f in config.files),
        modules=tuple(ModuleRef(source=s, commit=c, digest=d, registry=r) for s, c, d, r in config.modules),  # type: ignore[arg-type]
        requested=tuple(requested),
        args=tuple(args),
        warnings=tuple(warnings),
    )
    return Plan(
        meta=meta,
        hosts=plan_hosts,
        tasks=tuple(tasks),
        scripts=scripts.texts(),
        steps=tuple(steps),
        secrets=tuple(SecretRef(name=name) for name in secret_names),
        files=tuple(file_table.blobs),
        operations=tuple(file_table.operations),
    )


def _registry_indexes(hosts: Mapping[str, HostDef]) -> dict[str | None, HostIndex]:
    """Host indexes by registry (ESSH: a task's targets are its own registry's hosts);
    under None, every host (a task of no registry: essh exec)."""
    everything = HostIndex(hosts)
    registries = {h.registry for h in hosts.values()}
    if len(registries) <= 1:  # one registry (ESSH 3's rule): no index to build twice
        return {None: everything, **{r: everything for r in registries}}
    return {None: everything, **{r: HostIndex({n: h for n, h in hosts.items() if h.registry == r}) for r in registries}}


def _prepare_ctx(task: TaskDef, args: Sequence[str]) -> dict[str, Any]:
    return {
        "task": {
            "name": task.name,
            "description": task.description,
            "targets": list(task.targets),
            "filters": list(task.filters),
            "backend": task.backend,
            "parallel": task.parallel,
            "props": dict(sorted(task.props.items())),
            "env": dict(sorted(task.env.items())),
            "hidden": task.hidden,
        },
        "args": list(args),
    }


def _run_prepare(planned: list[_Planned], args: Sequence[str]) -> list[_Planned]:
    """Run each `prepare` in order, keeping what it changed; one returning false stops planning."""
    kept: list[_Planned] = []
    for p in planned:
        if p.task.prepare is not None:
            ctx = _prepare_ctx(p.task, args)
            try:
                verdict = p.task.prepare(ctx)
            except ConfigError:
                raise
            except Exception as exc:
                raise ConfigError(f"task {p.task.name}: prepare failed: {exc}", p.task.defined_at) from None
            if verdict is False:
                raise ConfigError(
                    f"task {p.task.name}: its prepare function returned false, which stops ESSH and planning alike", p.task.defined_at
                )
            p.task = _apply_prepare_changes(_apply_prepare_changes(p.task, ctx["task"]), ctx)
        kept.append(p)
    return kept


def _apply_prepare_changes(task: TaskDef, seen: Mapping[str, Any]) -> TaskDef:
    """The task with the targets/filters/description/props a prepare function set,
    in `ctx.task` or, as ESSH's documentation writes `t.targets = "web"`, in `ctx`."""
    changes: dict[str, Any] = {}
    for key in ("targets", "filters"):
        value = seen.get(key)
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value) and list(value) != getattr(task, key):
            changes[key] = list(value)
    if isinstance(seen.get("description"), str) and seen["description"] != task.description:
        changes["description"] = seen["description"]
    props = seen.get("props")
    if isinstance(props, Mapping) and dict(props) != task.props:
        changes["props"] = {str(k): str(v) for k, v in props.items()}
    return msgspec.structs.replace(task, **changes) if changes else task


def _backend(task: TaskDef) -> str:
    """The task's backend: as set, else remote with targets and local without."""
    return task.backend or ("remote" if task.targets else "local")


def _place(p: _Planned, index: HostIndex, hosts: Mapping[str, HostDef]) -> None:
    """Decide the task's role, backend and hosts."""
    task = p.task
    task_values.check_task(task)
    p.backend = _backend(task)
    if is_composite(task):
        p.role = "composite"
        return
    if task.filters and not task.targets:
        raise ConfigError(f"task {task.name}: has filters but no targets; filters only narrow what targets select", task.defined_at)
    for kind, entries in (("target", task.targets), ("filter", task.filters)):
        for entry in entries:
            if index.match(entry) == frozenset():
                raise _matches_nothing(task, kind, entry, index)
    names = index.select(task.targets, task.filters)
    if task.targets and not names:
        wanted = ", ".join(task.targets) + (f" filtered by {', '.join(task.filters)}" if task.filters else "")
        raise ConfigError(f"task {task.name}: targets {wanted} select no host", task.defined_at)
    if not names:
        if p.backend == "remote":
            raise ConfigError(f'task {task.name}: backend is remote but no targets are set; add targets or use backend = "local"', task.defined_at)
        p.hosts = [None]
        return
    p.hosts = [hosts[name] for name in names]


def _matches_nothing(task: TaskDef, kind: str, entry: str, index: HostIndex) -> ConfigError:
    """The error for one entry of `targets` or `filters` that selects no host: a typo
    in a list must not quietly shrink what a task runs on."""
    hint = "" if is_glob(entry) else did_you_mean(entry, [*index.names, *index.by_tag])
    return ConfigError(f'task {task.name}: {kind} "{entry}" matches no host name or tag{hint}', task.defined_at)


def _handlers(config: Config, planned: list[_Planned]) -> list[_Planned]:
    """One handler task per task whose on_error names one, on that task's hosts."""
    out: list[_Planned] = []
    for p in planned:
        mode = p.task.on_error
        if mode in _ON_ERROR_MODES:
            continue
        handler = config.tasks.get(mode)
        if handler is None:
            raise unknown_task(mode, config.tasks, f"task {p.task.name} has on_error", p.task.defined_at)
        if handler.on_error not in _ON_ERROR_MODES:
            raise ConfigError(
                f"task {handler.name} is an on_error handler and cannot have a handler of its own", handler.defined_at
            )
        if is_composite(handler):
            raise ConfigError(f"task {handler.name} is an on_error handler and needs a script", handler.defined_at)
        task_values.check_task(handler)
        backend = _backend(handler)
        if backend == "local" and not handler.targets:
            hosts: list[HostDef | None] = [None]
        elif p.role == "composite" or p.hosts == [None]:
            raise ConfigError(
                f"task {handler.name} handles failures on hosts but task {p.task.name} runs on none", handler.defined_at
            )
        else:
            hosts = list(p.hosts)
        out.append(
            _Planned(
                handler,
                frozenset(),
                False,
                role="handler",
                backend=backend,
                hosts=hosts,
                handles=p.task.name,
                extra_env=(("ESSH_FAILED_TASK", p.task.name),),
            )
        )
    return out


def _parallel(task: TaskDef) -> int:
    """`parallel` as the plan holds it: 0 for no limit, 1 for one host after another."""
    value = task.parallel
    if value is True:
        return 0
    if value is False:
        return 1
    return int(value)


def _plan_task(
    p: _Planned,
    i: int,
    after: tuple[int, ...],
    handler_of: Mapping[int, int],
    position: Mapping[str, int],
    args: Sequence[str],
) -> Task:
    task = p.task
    on_error = task.on_error if task.on_error in _ON_ERROR_MODES else "handler"
    if p.role == "handler":
        on_error = task.on_error
    return Task(
        name=task.name,
        description=task.description,
        defined_at=Location(file=task.defined_at.file, line=task.defined_at.line),
        role=p.role,  # type: ignore[arg-type]
        backend=p.backend,  # type: ignore[arg-type]
        after=after,
        parallel=_parallel(task),
        on_error=on_error,  # type: ignore[arg-type]
        handler=handler_of.get(i) if on_error == "handler" else None,
        handles=position[p.handles] if p.handles is not None else None,
        timeout=float(task.timeout) if task.timeout is not None else None,
        retries=task.retries,
        pty=task.pty,
        shell=shell_for(task),
        run_as=run_as(task),
        env=tuple((k, x) for k, x in task_env(task, args, p.extra_env) if k not in task.secret_env),
        secret_env=tuple(sorted(task.secret_env.items())),
        props=tuple(sorted(task.props.items())),
        hidden=task.hidden,
        requested=p.requested,
        max_failures=task.max_failures if isinstance(task.max_failures, int) else None,
        max_failures_percent=float(task.max_failures[:-1]) if isinstance(task.max_failures, str) else None,
        batch=tuple(task.batch),
        registry=task.registry or "local",  # type: ignore[arg-type]
    )
