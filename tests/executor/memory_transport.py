"""An in-memory transport for driving the engine without SSH, processes or real time.

Each (task name, host name) gets a list of `Act`s, one per attempt (the last
repeats). An act may refuse the connection, print, sleep (trio time: use
MockClock), fail like a transport would, or exit with a status. The transport
records what happened: connections opened, attempts started, steps killed
(cancelled while running), hosts released, and the peak number of steps
running at once per host and overall.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import trio

from essh.executor.errors import StepFailure
from essh.executor.transport import Command, StepIO
from essh.schema import Plan


@dataclass
class Act:
    out: list[tuple[str, bytes]] = field(default_factory=list)
    sleep: float = 0.0
    code: int = 0
    connect: StepFailure | None = None  # raised by connection()
    fail: StepFailure | None = None  # raised by run(), after the output and the sleep


class MemoryTransport:
    def __init__(self, plan: Plan, acts: dict[tuple[str, str | None], list[Act]] | None = None) -> None:
        self.plan = plan
        self.acts = acts or {}
        self.attempts: dict[tuple[str, str | None], int] = defaultdict(int)
        self.connects: list[str | None] = []
        self.killed: list[tuple[str, str | None]] = []
        self.released: list[str | None] = []
        self.running: dict[str | None, int] = defaultdict(int)
        self.peak: dict[str | None, int] = defaultdict(int)
        self.peak_total = 0
        self.programs: list[str] = []

    def _name(self, host: int | None) -> str | None:
        return None if host is None else self.plan.hosts[host].name

    def _act(self, task: str, host: str | None, advance: bool) -> Act:
        acts = self.acts.get((task, host)) or [Act()]
        number = self.attempts[task, host]
        return acts[min(number, len(acts) - 1)]

    @asynccontextmanager
    async def connection(self, host: int | None) -> AsyncIterator[MemoryConnection]:
        name = self._name(host)
        self.connects.append(name)
        await trio.sleep(0)
        yield MemoryConnection(self, name)

    async def release(self, host: int | None) -> None:
        self.released.append(self._name(host))

    async def aclose(self) -> None:
        pass


class MemoryConnection:
    def __init__(self, transport: MemoryTransport, host: str | None) -> None:
        self.t = transport
        self.host = host

    async def run(self, command: Command, io: StepIO) -> int:
        t, key = self.t, (command.task.name, self.host)
        act = t._act(*key, advance=True)
        t.attempts[key] += 1
        if act.connect is not None:
            raise act.connect
        t.programs.append(command.program)
        t.running[self.host] += 1
        t.peak[self.host] = max(t.peak[self.host], t.running[self.host])
        t.peak_total = max(t.peak_total, sum(t.running.values()))
        try:
            for stream, data in act.out:
                io.output(stream, data)  # type: ignore[arg-type]
            await trio.sleep(act.sleep)
        except trio.Cancelled:
            t.killed.append(key)
            raise
        finally:
            t.running[self.host] -= 1
        if act.fail is not None:
            raise act.fail
        return act.code

