"""The report, built from the event stream alone: a pure sink, no clock, no I/O.

`ReportBuilder.handle(event)` records what each event says; `report()` gives
the `essh.schema.Report` as things stand: `complete=False` while the run goes
on (steps not ended yet are `running` or `pending`), complete once `RunEnded`
arrived. Each step keeps the last `TAIL_BYTES` of its stdout and stderr.
"""

from __future__ import annotations

import msgspec

from essh.schema import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    TAIL_BYTES,
    Attempt,
    FailureKind,
    FileResult,
    Plan,
    Report,
    StepResult,
    StepStatus,
    Totals,
)

from .events import (
    AttemptEnded,
    AttemptStarted,
    Event,
    FileDone,
    LogOpened,
    OutputChunk,
    RunEnded,
    RunStarted,
    StepEnded,
    StepStarted,
)
from .narrow import Choice

_NOT_OK = frozenset({"failed", "unreachable", "timed_out", "cancelled"})


class _Step(msgspec.Struct):
    started_at: float | None = None
    ended_at: float | None = None
    status: StepStatus = "pending"
    error: str | None = None
    kind: FailureKind | None = None
    attempts: list[Attempt] = msgspec.field(default_factory=list)
    stdout: bytearray = msgspec.field(default_factory=bytearray)
    stderr: bytearray = msgspec.field(default_factory=bytearray)
    files: list[FileResult] = msgspec.field(default_factory=list)
    log_file: str | None = None


class ReportBuilder:
    """Consumes an apply's events; `report()` at any time."""

    def __init__(
        self, plan: Plan, digest: str, essh_version: str, *, choice: Choice | None = None, plan_steps: int | None = None
    ) -> None:
        """With `choice`, `plan` is the narrowed plan running `choice.run` (see narrow.py): results
        carry the original step numbers, and `choice.known` joins them."""
        self._plan = plan
        self._choice = choice
        self._plan_steps = len(plan.steps) if plan_steps is None else plan_steps
        self._digest = digest
        self._version = essh_version
        self._steps: dict[int, _Step] = {}
        self._ended: dict[int, StepEnded] = {}
        self._started_at = 0.0
        self._ended_at: float | None = None
        self._run_end: RunEnded | None = None
        self.changed = 0  # bumped by every event that changes the report

    def handle(self, event: Event) -> None:
        if isinstance(event, OutputChunk):
            tail = self._step(event.step).stdout if event.stream == "stdout" else self._step(event.step).stderr
            tail += event.data[-TAIL_BYTES:]
            if len(tail) > TAIL_BYTES:
                del tail[: len(tail) - TAIL_BYTES]
            return
        self.changed += 1
        if isinstance(event, StepStarted):
            step = self._step(event.step)
            step.started_at, step.status = event.at, "running"
        elif isinstance(event, AttemptEnded):
            self._step(event.step).attempts.append(
                Attempt(number=event.number, status=event.status, exit_code=event.exit_code,
                        started_at=event.started_at, ended_at=event.at, error=event.error, kind=event.kind)
            )
        elif isinstance(event, StepEnded):
            step = self._steps.get(event.step)
            if step is None:  # never started: only its outcome is kept
                self._ended[event.step] = event
                return
            step.ended_at, step.status, step.error, step.kind = event.at, event.status, event.error, event.kind
        elif isinstance(event, FileDone):
            step = self._step(event.step)
            step.files.append(FileResult(path=event.path, action=event.action, size=event.size, sha256=event.sha256))
        elif isinstance(event, AttemptStarted):
            self._step(event.step).files.clear()  # a retry starts its file operations over
        elif isinstance(event, LogOpened):
            self._step(event.step).log_file = event.path
        elif isinstance(event, RunStarted):
            self._started_at = event.at
        elif isinstance(event, RunEnded):
            self._ended_at = event.at
            self._run_end = event

    def _step(self, i: int) -> _Step:
        step = self._steps.get(i)
        if step is None:
            step = self._steps[i] = _Step()
        return step

    def report(self, *, now: float | None = None) -> Report:
        """The report as things stand (`now`: the time an incomplete report is taken)."""
        end = self._run_end
        ended_at = self._ended_at if end is not None else (now if now is not None else self._started_at)
        results = [self._result(i) for i in range(len(self._plan.steps))]
        choice = self._choice
        if choice is not None:
            results = [msgspec.structs.replace(r, step=choice.run[r.step]) for r in results]
            results = sorted([*results, *choice.known], key=lambda r: r.step)
        totals: dict[str, int] = {}
        for r in results:
            totals[r.status] = totals.get(r.status, 0) + 1
            if r.changed is not None:
                key = "changed" if r.changed else "unchanged"
                totals[key] = totals.get(key, 0) + 1
        interrupted = end is not None and end.interrupted
        if interrupted:
            exit_code = EXIT_INTERRUPTED
        elif (end is not None and end.error is not None) or any(r.status in _NOT_OK for r in results):
            exit_code = EXIT_FAILED
        else:
            exit_code = EXIT_OK
        meta = self._plan.meta
        return Report(
            essh_version=self._version,
            plan_digest=self._digest,
            started_at=self._started_at,
            ended_at=ended_at,
            wall_seconds=round(ended_at - self._started_at, 6),
            exit_code=exit_code,
            interrupted=interrupted,
            complete=end is not None,
            requested=meta.requested,
            args=meta.args,
            totals=Totals(**totals),
            steps=tuple(results),
            plan_steps=self._plan_steps,
            **(_choice_fields(choice) if choice is not None else {}),
        )

    def _result(self, i: int) -> StepResult:
        s = self._plan.steps[i]
        task = self._plan.tasks[s.task].name
        host = None if s.host is None else self._plan.hosts[s.host].name
        step = self._steps.get(i)
        if step is None:
            ended = self._ended.get(i)
            if ended is None:
                return StepResult(step=i, task=task, host=host, status="pending")
            return StepResult(step=i, task=task, host=host, status=ended.status, error=ended.error, kind=ended.kind)
        last = step.attempts[-1] if step.attempts else None
        return StepResult(
            step=i,
            task=task,
            host=host,
            status=step.status,
            exit_code=last.exit_code if last else None,
            attempts=tuple(step.attempts),
            started_at=step.started_at,
            ended_at=step.ended_at,
            duration=None if step.ended_at is None or step.started_at is None else round(step.ended_at - step.started_at, 6),
            stdout_tail=step.stdout.decode("utf-8", errors="replace"),
            stderr_tail=step.stderr.decode("utf-8", errors="replace"),
            error=step.error,
            kind=step.kind,
            log_file=step.log_file,
            files=tuple(step.files),
            changed=any(f.action != "unchanged" for f in step.files) if step.files else None,
        )


def _choice_fields(choice: Choice) -> dict:
    return {
        "shard": None if choice.shard is None else str(choice.shard),
        "stage": choice.stage,
        "limit": choice.limit,
        "carried_over": choice.carried_over,
    }
