"""Stages and shards (executor/shard.py): whole hosts, balanced, deterministic, no broken dependency."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from essh.executor.shard import Shard, ShardError, choose_steps, parse_shard, shard_steps, stage_count, task_stages
from essh.schema import Host

from plans import PlanBuilder
from test_scheduler_properties import plans


@st.composite
def fleets(draw):
    """One task per draw over up to 12 hosts, no dependencies: one stage."""
    names = [f"h{i:02}" for i in range(draw(st.integers(1, 12)))]
    b = PlanBuilder([Host(name=n) for n in names])
    for t in range(draw(st.integers(1, 5))):
        b.task(f"t{t}", "x", hosts=sorted(draw(st.sets(st.sampled_from(names), min_size=1))))
    if draw(st.booleans()):
        b.task("local", "x")
    return b.build()


@settings(max_examples=200, deadline=None)
@given(fleets(), st.integers(1, 6))
def test_shards_partition_the_steps_by_whole_hosts_and_balance_them(plan, n):
    everything = list(range(len(plan.steps)))
    parts = [shard_steps(plan, Shard(k, n), everything) for k in range(1, n + 1)]
    assert sorted(i for p in parts for i in p) == everything
    owners = {}
    for k, part in enumerate(parts):
        assert part == sorted(part)
        for i in part:
            assert owners.setdefault(plan.steps[i].host, k) == k  # a host is in one shard only
    sizes = {}
    for s in plan.steps:
        sizes[s.host] = sizes.get(s.host, 0) + 1
    loads = [len(p) for p in parts]
    assert max(loads) - min(loads) <= max(sizes.values())  # greedy, largest first: within one host's share
    assert parts == [shard_steps(plan, Shard(k, n), everything) for k in range(1, n + 1)]  # deterministic


@settings(max_examples=200, deadline=None)
@given(plans())
def test_no_task_waits_for_a_task_of_its_own_stage_or_a_later_one(plan):
    stages = task_stages(plan)
    has_steps = {s.task for s in plan.steps}
    for t, task in enumerate(plan.tasks):
        for dep in task.after:
            if task.role != "handler" and plan.tasks[dep].role != "handler":
                assert stages[dep] < stages[t] if dep in has_steps else stages[dep] <= stages[t]
    n = stage_count(plan)
    chosen = [i for s in range(1, n + 1) for k in (1, 2) for i in choose_steps(plan, Shard(k, 2), s)]
    assert sorted(chosen) == list(range(len(plan.steps)))


def _staged():
    b = PlanBuilder([Host(name=n) for n in ("db-1", "web-1", "web-2")])
    backup = b.task("backup", "x", hosts=["db-1"])
    group = b.composite("group", after=(backup,))
    b.task("deploy", "x", hosts=["web-1", "web-2"], after=(group,))
    return b.build()


def test_a_barrier_makes_stages_and_sharding_across_it_is_refused():
    plan = _staged()
    assert task_stages(plan) == [1, 2, 2]  # a composite adds no stage
    with pytest.raises(ShardError, match=r"this plan has 2 stages.*--stage S --shard 1/2 for S in 1..2"):
        choose_steps(plan, Shard(1, 2), None)
    assert choose_steps(plan, Shard(1, 1), None) == [0, 1, 2]  # one shard: nothing is broken
    assert choose_steps(plan, Shard(1, 2), 2) == [1] and choose_steps(plan, Shard(2, 2), 2) == [2]
    with pytest.raises(ShardError, match="--stage 3: this plan has 2 stages"):
        choose_steps(plan, None, 3)


def test_parse_shard_reads_the_ci_variables():
    assert str(parse_shard("2/4", {})) == "2/4"
    assert str(parse_shard("auto", {"CI_NODE_INDEX": "3", "CI_NODE_TOTAL": "5"})) == "3/5"
    assert str(parse_shard("auto/4", {"JOB_COMPLETION_INDEX": "0"})) == "1/4"
    for bad, message in [("0/2", "between 1 and N"), ("3/2", "between 1 and N"), ("x", "must be K/N"),
                         ("auto", "CI_NODE_INDEX"), ("auto/3", "JOB_COMPLETION_INDEX")]:
        with pytest.raises(ShardError, match=message):
            parse_shard(bad, {})
