"""Reports built by hand for the CI output tests (no plan, no run)."""

from __future__ import annotations

from typing import Any

from essh.schema import Report, StepResult, Totals

DIGEST = "ab" * 32


def result(step: int, task: str, host: str | None, status: str, **fields: Any) -> StepResult:
    timed = {"started_at": 100.0 + step, "ended_at": 101.5 + step, "duration": 1.5} if status not in ("skipped", "pending") else {}
    return StepResult(step=step, task=task, host=host, status=status, **{**timed, **fields})


def report(steps: list[StepResult], *, digest: str = DIGEST, exit_code: int | None = None, **fields: Any) -> Report:
    totals: dict[str, int] = {}
    for r in steps:
        totals[r.status] = totals.get(r.status, 0) + 1
    bad = any(r.status in ("failed", "unreachable", "timed_out", "cancelled") for r in steps)
    return Report(
        essh_version="test",
        plan_digest=digest,
        started_at=100.0,
        ended_at=110.0,
        wall_seconds=10.0,
        exit_code=(1 if bad else 0) if exit_code is None else exit_code,
        totals=Totals(**totals),
        steps=tuple(steps),
        **fields,
    )


def mixed() -> Report:
    """One step of every final status, with hostile text in names and output."""
    return report(
        [
            result(0, "deploy", "web-1", "succeeded", exit_code=0, stdout_tail="ok\n"),
            result(1, "deploy", "web-2", "failed", exit_code=3, kind="exit_status", stderr_tail="boom\x1b[2K\x00\n"),
            result(2, "deploy", "web-3", "unreachable", kind="refused", error="connection refused"),
            result(3, "migrate <db>", "db|1", "timed_out", kind="timeout", error="timed out after 5s"),
            result(4, "migrate <db>", None, "cancelled", error="cancelled: interrupted"),
            result(5, "notify", "web-1", "skipped", error="not run: task 'deploy' failed on web-2 (on_error=stop)"),
        ]
    )
