"""`essh report merge`: the reports of one plan's shards and stages joined into one (pure).

The reports must be of the same plan (digest) and together hold every step of
it exactly once: a step in two reports (overlapping shards) or in none (a
shard or stage missing) is an error naming them. Totals are recounted, times
span all reports, the exit code is the largest of theirs (0 < 1 < 2 < 70 < 74
< 130: the worst), and `merged_from` lists each report's shard and stage.

With `fill` (the plan, from `--fill-from PLAN`), steps no report holds are
not an error but `skipped` ("not run: no job reported this step"), named from
the plan, and the exit code is at least 1: for a pipeline that stopped before
its last stage, whose merge job must still publish what ran.
"""

from __future__ import annotations

from collections.abc import Sequence

from essh.schema import EXIT_FAILED, Plan, Report, StepResult, Totals

NOT_REPORTED = "not run: no job reported this step (its stage or shard did not run, or lost its report)"


class MergeError(ValueError):
    """The reports cannot be merged (which files, and why, are in the message)."""


def _label(report: Report) -> str:
    if report.merged_from:
        return "+".join(report.merged_from)
    parts = ([f"stage {report.stage}"] if report.stage is not None else []) + ([f"shard {report.shard}"] if report.shard else [])
    return ", ".join(parts) or "all"


def _step_names(steps: Sequence[int], where: dict[int, StepResult], most: int = 5) -> str:
    shown = [f"{i} ({where[i].task} on {where[i].host or 'local'})" if i in where else str(i) for i in steps[:most]]
    return ", ".join(shown) + (f" and {len(steps) - most} more" if len(steps) > most else "")


def _filled(plan: Plan, step: int) -> StepResult:
    s = plan.steps[step]
    host = None if s.host is None else plan.hosts[s.host].name
    return StepResult(step=step, task=plan.tasks[s.task].name, host=host, status="skipped", error=NOT_REPORTED)


def merge_reports(reports: Sequence[tuple[str, Report]], fill: tuple[Plan, str] | None = None) -> Report:
    """Merge (name, report) pairs; MergeError when they are not one plan's complete set.
    `fill`: (plan, its digest), to report the steps in no report as skipped."""
    if not reports:
        raise MergeError("no reports to merge")
    first_name, first = reports[0]
    for name, report in reports[1:]:
        if report.plan_digest != first.plan_digest:
            raise MergeError(
                f"{name} is a report of another plan (sha256 {report.plan_digest[:12]}…) than {first_name} "
                f"({first.plan_digest[:12]}…)"
            )
    sizes = {r.plan_steps if r.plan_steps is not None else len(r.steps) for _, r in reports}
    if len(sizes) != 1:
        raise MergeError(f"the reports disagree on how many steps the plan has: {sorted(sizes)}")
    size = sizes.pop()
    owner: dict[int, str] = {}
    results: dict[int, StepResult] = {}
    for name, report in reports:
        for result in report.steps:
            if result.step in owner:
                raise MergeError(
                    f"step {_step_names([result.step], {result.step: result})} is in both {owner[result.step]} and {name}: "
                    "do the shards overlap, or is a report given twice?"
                )
            if not 0 <= result.step < size:
                raise MergeError(f"{name}: step {result.step} is not a step of a plan of {size} steps")
            owner[result.step] = name
            results[result.step] = result
    missing = [i for i in range(size) if i not in results]
    if fill is not None:
        plan, digest = fill
        if digest != first.plan_digest or len(plan.steps) != size:
            raise MergeError(f"--fill-from: that plan (sha256 {digest[:12]}…) is not the plan of these reports")
        results.update((i, _filled(plan, i)) for i in missing)
    elif missing:
        seen = sorted({_label(r) for _, r in reports})
        raise MergeError(
            f"{len(missing)} step(s) of the plan are in none of the reports: steps {_step_names(missing, {})} "
            f"(reports given: {', '.join(seen)}); is a shard's or a stage's report missing?"
        )
    steps = tuple(results[i] for i in range(size))
    totals: dict[str, int] = {}
    for r in steps:
        totals[r.status] = totals.get(r.status, 0) + 1
    started = min(r.started_at for _, r in reports)
    ended = max(r.ended_at for _, r in reports)
    return Report(
        essh_version=first.essh_version,
        plan_digest=first.plan_digest,
        started_at=started,
        ended_at=ended,
        wall_seconds=round(ended - started, 6),
        exit_code=max([r.exit_code for _, r in reports] + ([EXIT_FAILED] if missing else [])),
        interrupted=any(r.interrupted for _, r in reports),
        complete=all(r.complete for _, r in reports),
        requested=first.requested,
        args=first.args,
        totals=Totals(**totals),
        steps=steps,
        plan_steps=size,
        limit=tuple(dict.fromkeys(p for _, r in reports for p in r.limit)),
        carried_over=tuple(sorted(i for _, r in reports for i in r.carried_over)),
        merged_from=tuple(_label(r) for _, r in reports),
    )
