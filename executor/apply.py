"""`apply_plan`: carries out the scheduler's answers with trio and returns the report.

The scheduler (scheduler.py) decides what may start, what is skipped and what
must be cancelled; this module only does it: one trio task per running step in
a nursery, a cancel scope per step (fail-fast, second Ctrl-C), a timeout per
attempt counted from the command's start (not the wait for a connection), retries, output per step, connections released when a
host has no step left, and the `essh.schema.Report`, written to
`report_path` on every way out, internal errors included.

Retries: a `failed` or `timed_out` attempt runs again, up to `Task.retries`
more times, unless the run was interrupted. `unreachable` is not retried:
the scheduler ends the host's later steps with the same reason, a new attempt
would only repeat a connection timeout or an auth/host key refusal, and
transient network trouble is the job of ConnectTimeout, not of a task's retries.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from typing import BinaryIO

import trio

from essh.schema import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Attempt,
    Plan,
    Report,
    StepResult,
    StepStatus,
    Task,
    Totals,
    encode_report_json,
    encode_program,
    step_script,
    task_argv,
    write_private_file,
)

from .bridge import run
from .errors import ConnectionLost, HostUnreachable, StepTimedOut
from .local import run_local
from .output import StepOutput, Terminal
from .scheduler import Outcome, Scheduler
from .signals import forward_signals
from .ssh import SshPool

_NOT_OK = frozenset({"failed", "unreachable", "timed_out", "cancelled"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ApplyOptions:
    """How to apply a plan (the `essh apply` flags)."""

    max_connections: int = 100
    fail_fast: bool = False
    log_dir: str | None = None
    report_path: str | None = None
    essh_version: str | None = None  # for the report; looked up from the installed package when None


def apply_plan(
    plan: Plan,
    plan_digest: str,
    options: ApplyOptions,
    *,
    stdout: BinaryIO | None = None,
    stderr: BinaryIO | None = None,
) -> Report:
    """Run `plan` and return its report (also written to `options.report_path`).

    `report.exit_code`: 0 all succeeded, 1 a step failed, timed out, was
    cancelled or its host unreachable, 130 interrupted. An exception (the log
    directory cannot be made, our own bug) propagates after the report is written.
    """
    if options.max_connections < 1:
        raise ValueError(f"--max-connections must be at least 1, not {options.max_connections}")
    out = Terminal(stdout or _binary(sys.stdout))
    err = Terminal(stderr or _binary(sys.stderr))
    apply = _Apply(plan, plan_digest, options, out, err)
    try:
        if options.log_dir is not None:
            os.makedirs(options.log_dir, mode=0o700, exist_ok=True)
        run(apply.main, install_signal_handlers=False)
    except BaseException as exc:
        _write(options.report_path, apply.report(error=exc))
        raise
    report = apply.report()
    _write(options.report_path, report)
    return report


@dataclass
class _Record:
    """What apply.py saw of one started step."""

    started_at: float
    attempts: list[Attempt] = field(default_factory=list)
    out: StepOutput | None = None
    log_file: str | None = None
    ended_at: float | None = None


class _Apply:
    """The state of one apply: the scheduler, running steps' cancel scopes and records."""

    def __init__(self, plan: Plan, digest: str, options: ApplyOptions, stdout: Terminal, stderr: Terminal) -> None:
        self.plan = plan
        self.digest = digest
        self.options = options
        self.stdout = stdout
        self.stderr = stderr
        self.sched = Scheduler(plan, fail_fast=options.fail_fast)
        self.records: dict[int, _Record] = {}
        self.scopes: dict[int, trio.CancelScope] = {}
        self.cancel_reasons: dict[int, str] = {}
        self.started_at = time.time()
        self.changed: trio.Event | None = None
        self.width = [0] * len(plan.tasks)
        self.n_steps = [0] * len(plan.tasks)
        for step in plan.steps:
            self.n_steps[step.task] += 1
            self.width[step.task] = max(self.width[step.task], len(step.prefix or ""))

    async def main(self) -> None:
        self.changed = trio.Event()
        with forward_signals(self.on_signal):
            async with SshPool(self.plan.hosts, max_connections=self.options.max_connections) as pool:
                async with trio.open_nursery() as nursery:
                    while True:
                        self.cancel_what_must_be()
                        for host in self.sched.hosts_done():
                            nursery.start_soon(pool.release, host)
                        if self.sched.done():
                            break
                        for step in self.sched.startable():
                            self.sched.started(step)
                            self.scopes[step] = trio.CancelScope()
                            self.records[step] = _Record(started_at=time.time())
                            nursery.start_soon(self.run_step, pool, step)
                        await self.changed.wait()
                        self.changed = trio.Event()

    def wake(self) -> None:
        if self.changed is not None:
            self.changed.set()

    def on_signal(self, signum: int) -> None:
        first = not self.sched.interrupted
        if self.sched.interrupt():
            self.say("essh: interrupted again: cancelling the running steps")
        elif first:
            self.say("essh: interrupted: no new step will start; interrupt again to cancel the running ones")
        self.wake()

    def cancel_what_must_be(self) -> None:
        for step in sorted(self.sched.to_cancel()):
            if step not in self.cancel_reasons:
                self.cancel_reasons[step] = self.sched.cancel_reason()
                self.scopes[step].cancel()

    def say(self, message: str) -> None:
        self.stderr.write(message.encode() + b"\n")
        self.stderr.flush()

    def log_path(self, step: int) -> str | None:
        if self.options.log_dir is None:
            return None
        s = self.plan.steps[step]
        host = "local" if s.host is None else self.plan.hosts[s.host].name
        name = f"{step:04d}-{self.plan.tasks[s.task].name}-{host}"
        return os.path.join(self.options.log_dir, _UNSAFE.sub("_", name) + ".log")

    async def run_step(self, pool: SshPool, step: int) -> None:
        s = self.plan.steps[step]
        task = self.plan.tasks[s.task]
        record = self.records[step]
        status: StepStatus = "failed"
        error: str | None = None
        lost = False
        attempt_started = record.started_at
        try:
            program = step_script(self.plan, s, self.sched.extra_env(step))
            record.log_file = self.log_path(step)
            record.out = out = StepOutput(
                prefix=s.prefix,
                width=self.width[s.task],
                stdout=self.stdout,
                stderr=self.stderr,
                log_path=record.log_file,
                passthrough=s.prefix is None and (self.n_steps[s.task] == 1 or task.parallel == 1),
            )
            with self.scopes[step]:
                for number in range(1, task.retries + 2):
                    attempt_started = time.time()
                    where = None if task.backend == "local" else s.host  # local steps may carry a host for its env
                    status, error, code, lost = await self.attempt(pool, where, task, program, out)
                    record.attempts.append(
                        Attempt(number=number, status=status, exit_code=code, started_at=attempt_started,
                                ended_at=time.time(), error=error)
                    )
                    if status in ("succeeded", "unreachable") or number > task.retries or self.sched.interrupted:
                        break
                    note = f"essh: attempt {number} of {task.retries + 1}: {error}; trying again\n"
                    out.feed("stderr", note.encode())
            if self.scopes[step].cancelled_caught:
                status, error = "cancelled", self.cancel_reasons.get(step, "cancelled")
                record.attempts.append(
                    Attempt(number=len(record.attempts) + 1, status=status, started_at=attempt_started,
                            ended_at=time.time(), error=error)
                )
        except Exception as exc:  # noqa: BLE001 - a step's trouble must not lose the other steps' results
            status, error = "failed", f"essh could not run this step: {type(exc).__name__}: {exc}"
            record.attempts.append(
                Attempt(number=len(record.attempts) + 1, status=status, started_at=attempt_started,
                        ended_at=time.time(), error=error)
            )
        finally:
            if record.out is not None:
                record.out.close()
            record.ended_at = time.time()
        self.sched.finished(step, status, error, host_down=not lost)
        self.wake()

    @staticmethod
    async def attempt(
        pool: SshPool, host: int | None, task: Task, program: str, out: StepOutput
    ) -> tuple[StepStatus, str | None, int | None, bool]:
        """One try: (status, error, exit code, whether an established connection was lost)."""
        timeout = task.timeout
        try:
            if host is None:
                with trio.move_on_after(math.inf if timeout is None else timeout) as deadline:
                    code = await run_local(task, program, out=out)
                if deadline.cancelled_caught:
                    raise StepTimedOut(timeout)
            else:
                code = await pool.run(host, task, program, out=out)
        except HostUnreachable as exc:
            return "unreachable", exc.reason, None, isinstance(exc, ConnectionLost)
        except StepTimedOut as exc:
            return "timed_out", str(exc), None, False
        if code == 0:
            return "succeeded", None, 0, False
        return "failed", f"exit status {code}", code, False

    def report(self, error: BaseException | None = None) -> Report:
        """The report as things stand; with `error`, steps left unfinished say why."""
        ended_at = time.time()
        outcomes = self.sched.results()
        results = [self.step_result(i, outcome, error) for i, outcome in enumerate(outcomes)]
        totals = {status: 0 for status in ("succeeded", "failed", "unreachable", "timed_out", "skipped", "cancelled")}
        for r in results:
            totals[r.status] += 1
        if self.sched.interrupted or isinstance(error, KeyboardInterrupt):
            exit_code = EXIT_INTERRUPTED
        elif error is not None or any(r.status in _NOT_OK for r in results):
            exit_code = EXIT_FAILED
        else:
            exit_code = EXIT_OK
        return Report(
            essh_version=self.options.essh_version or _essh_version(),
            plan_digest=self.digest,
            started_at=self.started_at,
            ended_at=ended_at,
            wall_seconds=round(ended_at - self.started_at, 6),
            exit_code=exit_code,
            interrupted=exit_code == EXIT_INTERRUPTED,
            totals=Totals(**totals),
            steps=tuple(results),
        )

    def step_result(self, i: int, outcome: Outcome | None, error: BaseException | None) -> StepResult:
        s = self.plan.steps[i]
        task = self.plan.tasks[s.task].name
        host = None if s.host is None else self.plan.hosts[s.host].name
        if outcome is None:  # still running when essh itself failed
            why = f"cancelled: essh stopped: {type(error).__name__}: {error}" if error else "cancelled"
            outcome = Outcome("cancelled", why)
        elif outcome.status == "skipped" and error is not None:
            outcome = Outcome("skipped", f"not run: essh stopped: {type(error).__name__}: {error}")
        record = self.records.get(i)
        if record is None:
            return StepResult(step=i, task=task, host=host, status=outcome.status, error=outcome.error)
        last = record.attempts[-1] if record.attempts else None
        ended = record.ended_at
        return StepResult(
            step=i,
            task=task,
            host=host,
            status=outcome.status,
            exit_code=last.exit_code if last else None,
            attempts=tuple(record.attempts),
            started_at=record.started_at,
            ended_at=ended,
            duration=None if ended is None else round(ended - record.started_at, 6),
            stdout_tail=record.out.tail("stdout") if record.out else "",
            stderr_tail=record.out.tail("stderr") if record.out else "",
            error=outcome.error,
            log_file=record.log_file,
        )


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
        return open(os.devnull, "wb")  # noqa: SIM115 - lives as long as the process
    return stream.buffer


def _write(path: str | None, report: Report) -> None:
    """Write the report as JSON to `path`, replacing it atomically."""
    if path is None:
        return
    write_private_file(path, encode_report_json(report))
