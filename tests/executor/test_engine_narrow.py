"""The engine on part of a plan (--shard/--stage, --limit, --resume) under MockClock:
only the chosen steps run, in dependency order, and the report says what was left to whom."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from essh.executor.apply import Engine
from essh.executor.events import EventBus
from essh.executor.narrow import ChoiceError, choose, narrow
from essh.executor.report_builder import ReportBuilder
from essh.executor.shard import Shard
from essh.schema import Host

from memory_transport import Act, MemoryTransport
from plans import PlanBuilder, digest

HOSTS = [Host(name="db-1", tags=("db",)), Host(name="web-1", tags=("web",)), Host(name="web-2", tags=("web",))]


def fleet_plan():
    b = PlanBuilder(HOSTS)
    backup = b.task("backup", "x", hosts=["db-1"])
    deploy = b.task("deploy", "x", hosts=["web-1", "web-2"], after=(backup,), on_error="continue")
    b.task("check", "x", hosts=["db-1", "web-1", "web-2"], after=(deploy,), parallel=0)
    return b.build()


def run_choice(plan, choice, acts=None):
    """Run the narrowed plan as apply_plan does; returns (report, transport, start order)."""
    part = narrow(plan, choice.run).plan
    transport = MemoryTransport(part, acts)
    builder = ReportBuilder(part, digest(plan), "test", choice=choice, plan_steps=len(plan.steps))
    order = []

    class Order:
        def handle(self, event):
            if type(event).__name__ == "StepStarted":
                order.append(choice.run[event.step])

    engine = Engine(part, transport, EventBus([builder, Order()]), clock=trio.current_time)
    trio.run(engine.run, clock=trio.testing.MockClock(autojump_threshold=0))
    return builder.report(), transport, order


def test_a_stage_shard_runs_its_hosts_only_and_reports_only_its_steps():
    plan = fleet_plan()
    choice = choose(plan, digest(plan), shard=Shard(2, 2), stage=2)
    report, transport, order = run_choice(plan, choice)
    assert report.shard == "2/2" and report.stage == 2 and report.plan_steps == 6
    assert {r.status for r in report.steps} == {"succeeded"}
    hosts = {r.host for r in report.steps}
    assert len(hosts) == 1 and set(transport.connects) == hosts  # whole hosts: all of one, nothing of others
    assert order == sorted(order)


def test_limit_skips_other_hosts_with_a_reason_and_keeps_every_step_in_the_report():
    plan = fleet_plan()
    choice = choose(plan, digest(plan), limit=["web-*"])
    report, transport, order = run_choice(plan, choice)
    assert set(transport.connects) == {"web-1", "web-2"}
    by_step = {r.step: (r.host, r.status, r.error) for r in report.steps}
    assert len(by_step) == 6 and report.limit == ("web-*",)
    assert by_step[0] == ("db-1", "skipped", "not run: host db-1 not in --limit")
    assert order[:2] == [1, 2] and sorted(order[2:]) == [4, 5]


def test_limit_by_tag_and_a_limit_matching_nothing():
    plan = fleet_plan()
    assert choose(plan, digest(plan), limit=["db"]).run == (0, 3)
    with pytest.raises(ChoiceError, match="--limit nope matches none of the plan's hosts"):
        choose(plan, digest(plan), limit=["nope"])


def test_resume_runs_only_what_did_not_succeed_in_dependency_order():
    plan = fleet_plan()
    first, _, _ = run_choice(plan, choose(plan, digest(plan)), {("deploy", "web-2"): [Act(code=4)]})
    assert [r.status for r in first.steps] == ["succeeded", "succeeded", "failed", "succeeded", "succeeded", "succeeded"]
    choice = choose(plan, digest(plan), resume=first)
    assert choice.run == (2,) and choice.carried_over == (0, 1, 3, 4, 5)
    second, transport, _ = run_choice(plan, choice)
    assert transport.connects == ["web-2"]
    assert [r.status for r in second.steps] == ["succeeded"] * 6 and second.exit_code == 0
    assert second.carried_over == (0, 1, 3, 4, 5) and second.steps[0] == first.steps[0]


def test_resume_of_a_stopped_run_keeps_the_order_of_what_was_skipped():
    plan = fleet_plan()
    first, _, _ = run_choice(plan, choose(plan, digest(plan)), {("backup", "db-1"): [Act(code=1)]})
    assert [r.status for r in first.steps] == ["failed"] + ["skipped"] * 5
    _, _, order = run_choice(plan, choose(plan, digest(plan), resume=first))
    assert order[0] == 0 and sorted(order[1:3]) == [1, 2] and sorted(order[3:]) == [3, 4, 5]


def test_resume_refuses_a_report_of_another_plan():
    plan = fleet_plan()
    other = run_choice(plan, choose(plan, digest(plan)))[0]
    with pytest.raises(ChoiceError, match="--resume: that report is of another plan"):
        choose(plan, "0" * 64, resume=other)
