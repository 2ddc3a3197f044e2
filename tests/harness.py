"""Helpers for driving transports directly in tests: a recording StepIO, one-call runs,
and a plan-backed output path (terminal, log and report sinks) for a single step."""

from __future__ import annotations

import io
import shlex
from typing import BinaryIO

from essh.executor.events import AttemptStarted, EventBus, OutputChunk, StepEnded, StepStarted
from essh.executor.logs import LogSink
from essh.executor.report_builder import ReportBuilder
from essh.executor.terminal import Terminal, TerminalSink
from essh.executor.transport import Command
from essh.schema import Host, Plan, PlanMeta, Step, Task

NONCE = "0123456789abcdef"


class Capture:
    """A StepIO that keeps what it is given."""

    def __init__(self) -> None:
        self.stdout = io.BytesIO()
        self.stderr = io.BytesIO()
        self.notices: list[str] = []

    def output(self, stream: str, data: bytes) -> None:
        (self.stdout if stream == "stdout" else self.stderr).write(data)

    def notice(self, text: str) -> None:
        self.notices.append(text)


def step(argv: list[str], *, pty: bool = False, timeout: float | None = None, run_as: str | None = None) -> tuple[Task, str]:
    """(task, program) for a transport's run(): `argv` as the program, in a bare task."""
    return Task(name="t", pty=pty, timeout=timeout, run_as=run_as), shlex.join(argv)


async def run_on(transport, host: int | None, task: Task, program: str, io_) -> int:
    async with transport.connection(host) as conn:
        return await conn.run(Command(task, program), io_)


class Framed:
    """One step's output through the real sinks: prefixed terminal lines, a log file, a report tail."""

    def __init__(self, *, prefix: str | None, width: int, stdout: BinaryIO, stderr: BinaryIO, log_dir: str | None = None) -> None:
        prefix_for_width = None if prefix is None else prefix.ljust(width)
        # Two steps in one task: the other one only sets the prefix width; the first is ours.
        plan = Plan(
            meta=PlanMeta(essh_version="test", created_at=0, lua_version="Lua 5.4"),
            hosts=(Host(name="h"),),
            tasks=(Task(name="t"),),
            scripts=("",),
            steps=(Step(0, 0, 0, prefix), Step(0, 0, 0, prefix_for_width)),
        )
        self.report = ReportBuilder(plan, "0" * 64, "test")
        sinks = [self.report, TerminalSink(plan, Terminal(stdout), Terminal(stderr))]
        if log_dir is not None:
            sinks.append(LogSink(plan, log_dir, lambda event: self.bus.emit(event)))
        self.bus = EventBus(sinks)
        self.bus.emit(StepStarted(0, 0.0))
        self.bus.emit(StepStarted(1, 0.0))  # a second running step: whole lines, never passthrough
        self.bus.emit(AttemptStarted(0, 1, 0.0))
        self.log_path = None

    def output(self, stream: str, data: bytes) -> None:
        self.bus.emit(OutputChunk(0, stream, data))  # type: ignore[arg-type]

    def notice(self, text: str) -> None:
        pass

    def close(self) -> None:
        self.bus.emit(StepEnded(0, "succeeded", 0.0))

    def tail(self, stream: str) -> str:
        result = self.report.report().steps[0]
        return result.stdout_tail if stream == "stdout" else result.stderr_tail
