"""Applying a plan: the engine that carries out the scheduler's answers, and `apply_plan`.

`Engine` is plain trio and knows no backend: it asks the scheduler what to do
(`next_actions`), runs each started step in a nursery with a cancel scope of
its own, holds the step's connection through the transport interface, enforces
the task's timeout around the command (counted from the command's start, not
the wait for a connection), asks the pure policy whether to try again, and
emits what happens as events. The sinks (terminal, log files, report) do the
rest. Tests drive it with an in-memory transport and trio's MockClock.

`apply_plan` is the entry point: it checks the log folder, wires the sinks,
runs the engine as a trio guest of an asyncio loop (for asyncssh) with local
and SSH transports, handles SIGINT (first: no new step starts; second: cancel
the running ones), SIGTERM and SIGHUP (cancel at once and clean up), and
returns the report, which was also written to `report_path` as the run went
on and once more at its end, on every way out.
"""

from __future__ import annotations

import math
import secrets
import signal
import sys
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import BinaryIO

import msgspec
import trio

from essh.schema import Plan, Report, Task, step_script

from .bridge import run
from .errors import LocalError, StepFailure, StepTimedOut
from .events import (
    AttemptEnded,
    AttemptStarted,
    EventBus,
    Notice,
    OutputChunk,
    RunEnded,
    RunStarted,
    StepEnded,
    StepStarted,
    Stream,
    Tick,
)
from .file_steps import FileSteps
from .local import LocalTransport
from .logs import LogSink, check_log_dir
from .masking import MaskingBus
from .narrow import Choice, narrow
from .once import SKIPPED as ONCE_SKIPPED
from .once import OnceGuard
from .policy import AttemptOutcome, outcome_of_exit, outcome_of_failure, retry
from .progress import HEARTBEAT, Display
from .report_builder import ReportBuilder
from .report_file import ReportFileSink
from .scheduler import Scheduler
from .signals import forward_signals
from .ssh_pool import SshTransport
from .terminal import TerminalSink
from .transport import Command, Connection, Transport

TICK = 1.0  # seconds between Tick events while a run goes on


class ApplyOptions(msgspec.Struct, frozen=True):
    """How to apply a plan (the `essh apply` flags)."""

    max_connections: int = 100
    fail_fast: bool = False
    log_dir: str | None = None
    report_path: str | None = None
    essh_version: str | None = None  # for the report; looked up from the installed package when None
    raw_output: bool = False  # remote output reaches the terminal unescaped (trusted hosts only)
    secrets: dict[str, str] = msgspec.field(default_factory=dict)  # secret name -> value; masked in all output
    choice: Choice | None = None  # run part of the plan (--shard, --stage, --limit, --resume): see narrow.py
    force: bool = False  # write uploads whose destination changed since `plan --refresh` saw it
    progress: str = "none"  # auto, live, plain or none (executor/progress.py); the CLI passes auto
    timestamps: bool = False  # the UTC time before every output line
    show_task: bool = False  # the task's name before every prefix
    colour: bool = False  # host prefixes and the status area in colour
    heartbeat: float = HEARTBEAT  # seconds of silence before a heartbeat line (plain progress)
    once: bool = False  # skip hosts this plan was applied to, mark the hosts where it succeeds (once.py)
    # Added to the environment of local steps, after the plan's (ESSH_SSH_CONFIG, ESSH_DEBUG: known only here).
    local_env: tuple[tuple[str, str], ...] = ()


class ApplyResult(msgspec.Struct):
    report: Report
    report_error: str | None = None  # the report file could not be written: why


class Engine:
    """One apply of `plan` over `transport`, telling `bus` what happens."""

    def __init__(
        self, plan: Plan, transport: Transport, bus: EventBus | MaskingBus, *, fail_fast: bool = False,
        clock: Callable[[], float] = time.time, secrets: dict[str, str] | None = None, force: bool = False,
        once: OnceGuard | None = None,
        local_env: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.plan = plan
        self.local_env = local_env
        self.secrets = secrets or {}
        self.transport = transport
        self.bus = bus
        self.sched = Scheduler(plan, fail_fast=fail_fast)
        self.clock = clock
        self.force = force  # write uploads whose destination changed since the plan's refresh
        self.once = once  # apply --once: skip hosts that had this plan, mark those that succeed
        self._once_said: set[int] = set()
        self._ordinary_steps_on: dict[int, list[int]] | None = None
        self._scopes: dict[int, trio.CancelScope] = {}
        self._cancel_reasons: dict[int, str] = {}
        self._changed = trio.Event()
        self._ended: set[int] = set()
        self.run_ended = False

    def wake(self) -> None:
        self._changed.set()

    async def run(self) -> None:
        """Run the plan to its end; a `RunEnded` is emitted on every way out."""
        error: BaseException | None = None
        self.bus.emit(RunStarted(self.clock()))
        try:
            async with trio.open_nursery() as nursery:
                ticking = trio.CancelScope()
                nursery.start_soon(self._tick, ticking)
                while True:
                    actions = self.sched.next_actions()
                    for step in actions.ended:
                        self._emit_end(step)
                    for step in actions.cancel:
                        self._cancel_reasons[step] = actions.cancel_reason
                        self._scopes[step].cancel()
                    for host in actions.release:
                        nursery.start_soon(self._release, host)
                    if actions.done:
                        ticking.cancel()  # releases still under way finish
                        break
                    for step in actions.start:
                        self.sched.started(step)
                        self._scopes[step] = trio.CancelScope()
                        self.bus.emit(StepStarted(step, self.clock()))
                        nursery.start_soon(self._run_step, step)
                    await self._changed.wait()
                    self._changed = trio.Event()
        except BaseException as exc:
            error = _single(exc)
            if error is not exc:
                raise error from None
            raise
        finally:
            self.finish(error)

    async def _release(self, host: int | None) -> None:
        """The host has no step left: mark it (--once) when all of its steps succeeded, then let it go."""
        if self.once is not None and host is not None and self.once.may_mark(host) and self._all_succeeded(host):
            try:
                async with self.transport.connection(host) as conn:
                    why = await self.once.mark(host, conn)
            except StepFailure as exc:
                why = exc.reason
            if why is not None:
                self.say(f"--once: {self.plan.hosts[host].name}: could not record that the plan was applied: {why}")
        await self.transport.release(host)

    def _all_succeeded(self, host: int) -> bool:
        if self._ordinary_steps_on is None:  # built once, at the first release under --once
            self._ordinary_steps_on = {}
            for i, s in enumerate(self.plan.steps):
                if s.host is not None and self.plan.tasks[s.task].role != "handler":
                    self._ordinary_steps_on.setdefault(s.host, []).append(i)
        outcomes = (self.sched.outcome(i) for i in self._ordinary_steps_on.get(host, ()))
        return all(o is not None and o.status == "succeeded" for o in outcomes)

    async def _tick(self, scope: trio.CancelScope) -> None:
        with scope:
            while True:
                await trio.sleep(TICK)
                self.bus.emit(Tick(self.clock()))

    def finish(self, error: BaseException | None = None) -> None:
        """Every step not ended yet gets its end (skipped, or cancelled by essh's own end); then RunEnded."""
        if self.run_ended:
            return
        self.run_ended = True
        why = None
        if error is not None and not isinstance(error, (KeyboardInterrupt, trio.Cancelled)):
            why = f"{type(error).__name__}: {error}"
        for step, outcome in enumerate(self.sched.results()):
            if step in self._ended:
                continue
            if outcome is None:  # still running when essh itself stopped
                self._emit(StepEnded(step, "cancelled", self.clock(), f"cancelled: essh stopped: {why}" if why else "cancelled"))
            elif why is not None and outcome.status == "skipped":
                self._emit(StepEnded(step, "skipped", self.clock(), f"not run: essh stopped: {why}"))
            else:
                self._emit(StepEnded(step, outcome.status, self.clock(), outcome.error, outcome.kind))
        interrupted = self.sched.interrupted or isinstance(error, KeyboardInterrupt)
        self.bus.emit(RunEnded(self.clock(), interrupted=interrupted, error=why))

    def on_signal(self, signum: int) -> None:
        if signum == signal.SIGINT:
            first = not self.sched.interrupted
            if self.sched.interrupt():
                self.say("interrupted again: cancelling the running steps")
            elif first:
                self.say("interrupted: no new step will start; interrupt again to cancel the running ones")
        else:  # SIGTERM (docker stop, a CI cancel), SIGHUP (the terminal went away)
            self.sched.interrupt(cancel_running=True)
            self.say(f"{signal.Signals(signum).name}: cancelling the running steps and stopping")
        self.wake()

    def say(self, text: str, step: int | None = None) -> None:
        self.bus.emit(Notice(text, step))

    # -- one step ---------------------------------------------------------------------

    def _emit_end(self, step: int) -> None:
        outcome = self.sched.outcome(step)
        assert outcome is not None
        self._emit(StepEnded(step, outcome.status, self.clock(), outcome.error, outcome.kind))

    def _emit(self, event: StepEnded) -> None:
        self._ended.add(event.step)
        self.bus.emit(event)

    async def _run_step(self, step: int) -> None:
        s = self.plan.steps[step]
        task = self.plan.tasks[s.task]
        where = s.host if task.backend == "remote" else None  # local steps may carry a host for its env
        number, started = 0, self.clock()
        outcome = AttemptOutcome("failed", None, "not started", "local_error")
        try:
            extra = self.sched.extra_env(step) + (self.local_env if where is None else ())
            command = Command(task, step_script(self.plan, s, extra, self.secrets))
            with self._scopes[step] as scope:
                while True:
                    number += 1
                    outcome, started = await self._attempt(step, number, where, command, task)
                    again = retry(task, number, outcome, stopping=self.sched.interrupted)
                    self._attempt_ended(step, number, started, outcome, again)
                    if not again:
                        break
            if scope.cancelled_caught:
                number += 1
                outcome = AttemptOutcome("cancelled", None, self._cancel_reasons.get(step, "cancelled"))
                self._attempt_ended(step, number, started, outcome, False)
        except Exception as exc:  # noqa: BLE001 - one step's trouble must not lose the other steps' results
            number += 1
            outcome = AttemptOutcome("failed", None, f"essh could not run this step: {type(exc).__name__}: {exc}", "local_error")
            self._attempt_ended(step, number, started, outcome, False)
        self.sched.finished(step, outcome.status, outcome.error, outcome.kind, host_down=outcome.host_down)
        self._emit(StepEnded(step, outcome.status, self.clock(), outcome.error, outcome.kind))
        self.wake()

    def _attempt_ended(self, step: int, number: int, started: float, outcome: AttemptOutcome, again: bool) -> None:
        self.bus.emit(
            AttemptEnded(step, number, outcome.status, started, self.clock(), outcome.exit_code, outcome.error,
                         outcome.kind, retrying=again)
        )

    async def _attempt(
        self, step: int, number: int, where: int | None, command: Command, task: Task
    ) -> tuple[AttemptOutcome, float]:
        """One try: its outcome, and when its command started (or it began waiting for one)."""
        started = self.clock()
        try:
            async with self.transport.connection(where) as conn:
                started = self.clock()
                self.bus.emit(AttemptStarted(step, number, started))
                if self.once is not None and where is not None and await self.once.applied(where, conn):
                    if where not in self._once_said:
                        self._once_said.add(where)
                        self.say(f"{self.plan.hosts[where].name}: this plan was already applied here: skipped (--once)")
                    return AttemptOutcome("skipped", None, ONCE_SKIPPED), started
                s = self.plan.steps[step]
                files = FileSteps(self.plan, step, conn, self.bus.emit, self.force, self.secrets) if s.ops else None
                if files is not None:
                    await files.uploads()
                outcome = outcome_of_exit(0)
                if s.script is not None:
                    outcome = await self._command(conn, command, task.timeout, _StepIO(self, step))
                if files is not None and outcome.status == "succeeded":
                    await files.downloads()
                return outcome, started
        except StepFailure as failure:
            return outcome_of_failure(failure), started
        except OSError as exc:  # this machine's trouble, whatever it was doing: never the host's
            return outcome_of_failure(LocalError(f"essh failed on this machine: {exc.strerror or exc}")), started

    @staticmethod
    async def _command(conn: Connection, command: Command, timeout: float | None, io: _StepIO) -> AttemptOutcome:
        with trio.move_on_after(math.inf if timeout is None else timeout) as deadline:
            code = await conn.run(command, io)
        if deadline.cancelled_caught:
            return outcome_of_failure(StepTimedOut(timeout))  # type: ignore[arg-type]
        return outcome_of_exit(code)


class _StepIO:
    """A running step's output and notes, turned into events."""

    __slots__ = ("_emit", "_step")

    def __init__(self, engine: Engine, step: int) -> None:
        self._emit = engine.bus.emit
        self._step = step

    def output(self, stream: Stream, data: bytes) -> None:
        self._emit(OutputChunk(self._step, stream, data))

    def notice(self, text: str) -> None:
        self._emit(Notice(text, self._step))


class Transports:
    """Steps without a host run here, the others over SSH."""

    def __init__(self, local: LocalTransport, ssh: SshTransport) -> None:
        self._local = local
        self._ssh = ssh

    def connection(self, host: int | None) -> AbstractAsyncContextManager[Connection]:
        return self._local.connection(None) if host is None else self._ssh.connection(host)

    async def release(self, host: int | None) -> None:
        if host is not None:
            await self._ssh.release(host)

    async def aclose(self) -> None:
        await self._ssh.aclose()


def apply_plan(
    plan: Plan,
    plan_digest: str,
    options: ApplyOptions,
    *,
    stdout: BinaryIO | None = None,
    stderr: BinaryIO | None = None,
) -> ApplyResult:
    """Run `plan` and return its report (also written to `options.report_path`).

    `report.exit_code`: see essh.schema.exit_codes. Raises `LogDirError` before
    anything runs when the log folder cannot be used safely. An exception (our
    own bug) propagates after the report is written."""
    if options.max_connections < 1:
        raise ValueError(f"--max-connections must be at least 1, not {options.max_connections}")
    if options.log_dir is not None:
        check_log_dir(options.log_dir)
    plan_steps = len(plan.steps)
    once = OnceGuard(plan_digest, [h.name for h in plan.hosts], _whole_hosts(plan, options.choice)) if options.once else None
    if options.choice is not None:
        plan = narrow(plan, options.choice.run).plan
    builder = ReportBuilder(
        plan, plan_digest, options.essh_version or _essh_version(), choice=options.choice, plan_steps=plan_steps
    )
    display = Display.choose(options.progress, stdout or _binary(sys.stdout), stderr or _binary(sys.stderr))
    terminal = TerminalSink(
        plan, display.stdout, display.stderr, raw=options.raw_output, timestamps=options.timestamps,
        show_task=options.show_task, colour=options.colour,
    )
    progress = display.sink(plan, terminal.say, colour=options.colour, heartbeat=options.heartbeat)
    report_file = ReportFileSink(options.report_path, builder) if options.report_path else None
    ids = options.choice.run if options.choice is not None else None
    logs = LogSink(plan, options.log_dir, lambda event: bus.emit(event), ids) if options.log_dir is not None else None
    # Secret values are masked once, before any sink sees an event.
    bus = MaskingBus(
        EventBus(
            [builder, terminal, *([progress] if progress else []), *([logs] if logs else []),
             *([report_file] if report_file else [])]
        ),
        options.secrets.values(),
    )
    nonce = secrets.token_hex(8)
    engine: Engine | None = None

    async def main() -> None:
        nonlocal engine
        ssh = SshTransport(plan.hosts, max_connections=options.max_connections, nonce=nonce, emit=bus.emit, clock=time.time)
        engine = Engine(plan, Transports(LocalTransport(), ssh), bus, fail_fast=options.fail_fast, secrets=options.secrets,
                        force=options.force, once=once,
                        local_env=options.local_env)

        def on_signal(signum: int) -> None:
            if signum == signal.SIGHUP:
                terminal.hangup()
            engine.on_signal(signum)

        try:
            with forward_signals(on_signal):
                await engine.run()
        finally:
            with trio.CancelScope(shield=True):
                await ssh.aclose()

    try:
        run(main, install_signal_handlers=False)
    except BaseException as exc:
        error = _single(exc)
        if engine is not None:
            engine.finish(error)
        else:
            bus.emit(RunEnded(time.time(), error=f"{type(error).__name__}: {error}"))
        if error is not exc:
            raise error from None
        raise
    finally:
        display.close()
        if logs is not None:
            logs.close()
        if report_file is not None:
            report_file.write_final()
    return ApplyResult(builder.report(), report_file.error if report_file else None)


def _whole_hosts(plan: Plan, choice: Choice | None) -> set[int]:
    """Hosts all of whose steps this apply runs or carries over (only they may be marked --once)."""
    covered = None if choice is None else set(choice.run) | set(choice.carried_over)
    hosts: set[int] = set()
    left_out: set[int] = set()
    for i, s in enumerate(plan.steps):
        if s.host is not None:
            (hosts if covered is None or i in covered else left_out).add(s.host)
    return hosts - left_out


def _single(exc: BaseException) -> BaseException:
    """The one exception inside nested single-member exception groups (trio's nurseries)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _essh_version() -> str:
    # Imported here: importlib.metadata costs ~10 ms at start-up, and the CLI passes the version.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("essh")
    except PackageNotFoundError:
        return "unknown"


def _binary(stream) -> BinaryIO:
    """The byte stream under sys.stdout/sys.stderr; /dev/null when the descriptor was closed (`>&-`)."""
    if stream is None:
        return open("/dev/null", "wb")  # noqa: SIM115 - lives as long as the process
    return stream.buffer
