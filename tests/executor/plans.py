"""Plans built by hand for executor tests, without the planner or any Lua.

    b = PlanBuilder([sshd.schema_host(n) for n, _ in sshd.hosts])
    first = b.task("first", "echo hi", hosts=["web-1", "web-2"], parallel=0)
    b.task("second", "date", hosts=["web-1"], after=(first,))
    plan = b.build()  # checked like a decoded plan file

A task with `hosts=None` is a local task with one step and no host. Steps
come out in the order tasks were added, hosts sorted by name within a task,
which is the planned order the executor expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from essh.schema import Host, Plan, PlanMeta, Step, Task, check_plan, encode_plan, payload_digest


def meta(**fields: Any) -> PlanMeta:
    return PlanMeta(essh_version="0.0.0-test", created_at=0, lua_version="none", **fields)


class PlanBuilder:
    """Collects hosts, tasks and steps; `build()` returns a checked `Plan`."""

    def __init__(self, hosts: Sequence[Host] = ()) -> None:
        self.hosts = list(hosts)
        self.tasks: list[Task] = []
        self.scripts: list[str] = []
        self.steps: list[Step] = []

    def host_index(self, name: str) -> int:
        for index, host in enumerate(self.hosts):
            if host.name == name:
                return index
        raise KeyError(f"no host {name!r} in this test plan; add it to PlanBuilder(hosts=...)")

    def script_index(self, script: str) -> int:
        if script not in self.scripts:
            self.scripts.append(script)
        return self.scripts.index(script)

    def task(
        self,
        name: str,
        script: str,
        *,
        hosts: Sequence[str] | None = None,
        prefix: bool | str = False,
        **fields: Any,
    ) -> int:
        """Add a task with one step per host (or one local step); returns the task's index.

        `prefix`: False passes output through; True uses ESSH's default
        `[backend:host]`; a string is formatted with `host` and `task`.
        `fields` are any other `essh.schema.Task` fields.
        """
        if hosts is None:
            fields.setdefault("backend", "local")
        backend = fields.get("backend", "remote")
        index = len(self.tasks)
        self.tasks.append(Task(name=name, **fields))
        script_at = self.script_index(script)
        names = [None] if hosts is None else sorted(hosts)
        for host in names:
            label = host if host is not None else "localhost"
            if prefix is True:
                rendered: str | None = f"[{backend}:{label}]"
            elif prefix:
                rendered = str(prefix).format(host=label, task=name)
            else:
                rendered = None
            at = None if host is None else self.host_index(host)
            self.steps.append(Step(task=index, host=at, script=script_at, prefix=rendered))
        return index

    def composite(self, name: str, **fields: Any) -> int:
        """Add a task without steps (role composite); returns its index."""
        self.tasks.append(Task(name=name, role="composite", **fields))
        return len(self.tasks) - 1

    def build(self, *, check: bool = True) -> Plan:
        plan = Plan(
            meta=meta(),
            hosts=tuple(self.hosts),
            tasks=tuple(self.tasks),
            scripts=tuple(self.scripts),
            steps=tuple(self.steps),
        )
        # Constraints are checked on decoding only: round-trip so a test never
        # hands the executor a plan a real plan file could not hold.
        plan = msgspec.msgpack.decode(msgspec.msgpack.encode(plan), type=Plan)
        if check:
            check_plan(plan)
        return plan


def digest(plan: Plan) -> str:
    """The digest a plan file of `plan` would carry in its header."""
    return payload_digest(encode_plan(plan))

