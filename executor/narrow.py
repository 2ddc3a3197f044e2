"""Running part of a plan: `--shard`/`--stage`, `--limit` and `--resume` become one `Choice` (pure).

A `Choice` says which steps run, and which results are known without running:
steps outside `--limit` are `skipped` ("host not in --limit"), steps that
succeeded in the `--resume` report are carried over with their old result.
Steps of other shards or stages are neither: another job reports them.

`narrow(plan, steps)` makes the plan the engine runs: the same hosts, tasks
and scripts, only the chosen steps (renumbered), with the map back to the
original step numbers that the report uses. The scheduler needs no change: a
task left without steps finishes as soon as what it waits for has, so
dependency order among the steps that run is kept.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

import msgspec

from essh.schema import Plan, Report, StepResult

from .shard import Shard, choose_steps


class ChoiceError(ValueError):
    """--limit or --resume cannot be used with this plan (the user's to fix)."""


class Choice(msgspec.Struct, frozen=True):
    run: tuple[int, ...]  # steps to run, in plan order
    known: tuple[StepResult, ...] = ()  # results without running: carried over or outside --limit
    carried_over: tuple[int, ...] = ()
    shard: Shard | None = None
    stage: int | None = None
    limit: tuple[str, ...] = ()


class Narrowed(msgspec.Struct, frozen=True):
    plan: Plan  # only the chosen steps
    ids: tuple[int, ...]  # each of its steps' number in the original plan


def narrow(plan: Plan, steps: Sequence[int]) -> Narrowed:
    return Narrowed(msgspec.structs.replace(plan, steps=tuple(plan.steps[i] for i in steps)), tuple(steps))


def host_matches(plan: Plan, host: int, patterns: Sequence[str]) -> bool:
    """As a task's targets: a name, a tag or a glob over either; `all` is every host."""
    h = plan.hosts[host]
    for p in patterns:
        if p == "all" or p == h.name or p in h.tags:
            return True
        if any(c in p for c in "*?[") and (fnmatch.fnmatchcase(h.name, p) or any(fnmatch.fnmatchcase(t, p) for t in h.tags)):
            return True
    return False


def choose(
    plan: Plan,
    digest: str,
    *,
    shard: Shard | None = None,
    stage: int | None = None,
    limit: Sequence[str] = (),
    resume: Report | None = None,
) -> Choice:
    """What one apply runs; ChoiceError or ShardError when the flags do not fit the plan."""
    steps = choose_steps(plan, shard, stage)
    known: list[StepResult] = []
    if limit:
        if not any(host_matches(plan, h, limit) for h in range(len(plan.hosts))):
            raise ChoiceError(f"--limit {' '.join(limit)} matches none of the plan's hosts")
        kept = []
        for i in steps:
            host = plan.steps[i].host
            if host is None or host_matches(plan, host, limit):
                kept.append(i)
            else:
                name = plan.hosts[host].name
                task = plan.tasks[plan.steps[i].task].name
                known.append(StepResult(step=i, task=task, host=name, status="skipped", error=f"not run: host {name} not in --limit"))
        steps = kept
    carried: list[int] = []
    if resume is not None:
        if resume.plan_digest != digest:
            raise ChoiceError(
                f"--resume: that report is of another plan (sha256 {resume.plan_digest[:12]}…, this plan {digest[:12]}…)"
            )
        done = {r.step: r for r in resume.steps if r.status == "succeeded"}
        carried = [i for i in steps if i in done]
        known += [done[i] for i in carried]
        steps = [i for i in steps if i not in done]
    return Choice(
        run=tuple(steps),
        known=tuple(sorted(known, key=lambda r: r.step)),
        carried_over=tuple(carried),
        shard=shard,
        stage=stage,
        limit=tuple(limit),
    )
