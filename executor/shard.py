"""Stages and shards: which steps of a plan one CI job runs (pure; no I/O).

Stages. A task's `after` means "every step of those tasks has ended, on every
host". Once a plan's hosts are dealt to several jobs, no job can see that for
hosts of another job, so every `after` edge from a task with steps is a
barrier: the plan is cut into stages there. A task's stage is 1 when it waits
for nothing, else the largest stage among the tasks it waits for, plus one
when that task has steps (a composite adds no stage). A handler runs in the
stage of the task it handles. `essh show --stages` lists them; the pipeline
runs stage S+1's jobs after every job of stage S succeeded (GitLab `needs:`,
GitHub `needs:`). `--shard K/N` with N > 1 on a plan of several stages is
refused unless `--stage S` says which one: a dependency is never silently
broken.

Shards. The steps of the chosen stage (or of the whole plan) are grouped by
host, the host-less (local) steps forming one group. Groups are dealt
largest first (most steps, then name), each to the shard with the fewest
steps so far (ties: the lowest shard number): whole hosts per shard,
balanced by step count, and the same answer on every machine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from essh.schema import Plan


class ShardError(ValueError):
    """A --shard or --stage value that cannot be used with this plan (the user's to fix)."""


class Shard(msgspec.Struct, frozen=True):
    index: int  # 1-based
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


_SHARD = re.compile(r"(\d+)/(\d+)")


def parse_shard(text: str, environ: Mapping[str, str]) -> Shard:
    """`K/N`, `auto` (GitLab: CI_NODE_INDEX/CI_NODE_TOTAL) or `auto/N` (Kubernetes indexed Job:
    JOB_COMPLETION_INDEX, counted from 0, of N)."""
    if text == "auto":
        index, total = environ.get("CI_NODE_INDEX"), environ.get("CI_NODE_TOTAL")
        if index is None or total is None:
            raise ShardError(
                "--shard auto needs CI_NODE_INDEX and CI_NODE_TOTAL (a GitLab `parallel:` job); "
                "in a Kubernetes indexed Job use --shard auto/N, elsewhere --shard K/N"
            )
        text = f"{index}/{total}"
    elif text.startswith("auto/"):
        index = environ.get("JOB_COMPLETION_INDEX")
        if index is None or not index.isdigit():
            raise ShardError("--shard auto/N needs JOB_COMPLETION_INDEX (a Kubernetes indexed Job); elsewhere use --shard K/N")
        text = f"{int(index) + 1}/{text[5:]}"
    found = _SHARD.fullmatch(text)
    if found is None:
        raise ShardError(f"--shard must be K/N (for example 2/4), auto or auto/N, not {text!r}")
    shard = Shard(int(found[1]), int(found[2]))
    if not 1 <= shard.index <= shard.total:
        raise ShardError(f"--shard {shard}: K must be between 1 and N")
    return shard


def task_stages(plan: Plan) -> list[int]:
    """Each task's stage (1-based), as described above."""
    stages = [1] * len(plan.tasks)
    has_steps = [False] * len(plan.tasks)
    for step in plan.steps:
        has_steps[step.task] = True
    for t, task in enumerate(plan.tasks):  # `after` names earlier tasks only (check_plan)
        if task.role == "handler":
            continue
        for dep in task.after:
            if plan.tasks[dep].role != "handler":
                stages[t] = max(stages[t], stages[dep] + has_steps[dep])
    for t, task in enumerate(plan.tasks):
        if task.role == "handler" and task.handles is not None:
            stages[t] = stages[task.handles]
    return stages


def stage_count(plan: Plan) -> int:
    stages = task_stages(plan)
    return max((stages[s.task] for s in plan.steps), default=1)


def stage_steps(plan: Plan, stage: int) -> list[int]:
    """The steps of `stage`, in plan order."""
    stages = task_stages(plan)
    return [i for i, s in enumerate(plan.steps) if stages[s.task] == stage]


def shard_steps(plan: Plan, shard: Shard, steps: list[int]) -> list[int]:
    """The share of `steps` (in plan order) that `shard` runs."""
    groups: dict[int | None, list[int]] = {}
    for i in steps:
        groups.setdefault(plan.steps[i].host, []).append(i)

    def name(host: int | None) -> str:
        return "" if host is None else plan.hosts[host].name

    load = [0] * shard.total
    owner: dict[int | None, int] = {}
    for host in sorted(groups, key=lambda h: (-len(groups[h]), name(h))):
        k = min(range(shard.total), key=lambda j: (load[j], j))
        owner[host] = k
        load[k] += len(groups[host])
    return [i for i in steps if owner[plan.steps[i].host] == shard.index - 1]


def choose_steps(plan: Plan, shard: Shard | None, stage: int | None) -> list[int]:
    """The steps one job runs for `--shard` and `--stage`; ShardError when they would break a dependency."""
    count = stage_count(plan)
    if stage is not None and not 1 <= stage <= count:
        raise ShardError(f"--stage {stage}: this plan has {count} stage{'s' if count != 1 else ''} (essh show --stages)")
    if stage is None and shard is not None and shard.total > 1 and count > 1:
        raise ShardError(
            f"this plan has {count} stages: some tasks wait for tasks whose steps would run in other shards; "
            f"run one job per stage and shard, stage after stage: essh apply PLAN --stage S --shard {shard} "
            f"for S in 1..{count} (essh show --stages lists them)"
        )
    steps = stage_steps(plan, stage) if stage is not None else list(range(len(plan.steps)))
    return shard_steps(plan, shard, steps) if shard is not None else steps
