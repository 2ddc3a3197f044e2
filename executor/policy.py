"""The attempt policy, pure: what an attempt's end means, and whether to try again.

An attempt ends with an exit status or a `StepFailure` from the transport (or
a timeout the caller enforced). `outcome_of_exit` / `outcome_of_failure` give its
`AttemptOutcome`: status, exit code, error text and kind. `retry` decides:

- `failed` and `timed_out` attempts run again, up to `Task.retries` more
  times, unless the run was interrupted or is being cancelled.
- `unreachable` is not retried: the scheduler ends the host's later steps with
  the same reason, a new attempt would only repeat a connection timeout or an
  auth/host key refusal, and transient network trouble is the job of
  ConnectTimeout, not of a task's retries. A connection lost after it was made
  (`host_down` False) ends only its step; the host's next step reconnects.
"""

from __future__ import annotations

import msgspec

from essh.schema import FailureKind, StepStatus, Task

from .errors import ConnectionLost, HostUnreachable, StepFailure, StepTimedOut


class AttemptOutcome(msgspec.Struct, frozen=True):
    status: StepStatus
    exit_code: int | None = None
    error: str | None = None
    kind: FailureKind | None = None
    host_down: bool = False  # the host could not be reached at all: its later steps end too


SUCCEEDED = AttemptOutcome("succeeded", 0)


def outcome_of_exit(code: int) -> AttemptOutcome:
    if code == 0:
        return SUCCEEDED
    return AttemptOutcome("failed", code, f"exit status {code}", "exit_status")


def outcome_of_failure(failure: StepFailure) -> AttemptOutcome:
    if isinstance(failure, HostUnreachable):
        lost = isinstance(failure, ConnectionLost)
        return AttemptOutcome("unreachable", None, failure.reason, failure.kind, host_down=not lost)
    if isinstance(failure, StepTimedOut):
        return AttemptOutcome("timed_out", None, failure.reason, "timeout")
    return AttemptOutcome("failed", None, failure.reason, failure.kind)


def retry(task: Task, number: int, outcome: AttemptOutcome, *, stopping: bool) -> bool:
    """Whether attempt `number` (1-based) is followed by another."""
    return outcome.status in ("failed", "timed_out") and number <= task.retries and not stopping
