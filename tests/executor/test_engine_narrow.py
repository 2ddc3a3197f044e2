"""The engine on part of a plan (--shard/--stage, --limit, --resume) under MockClock:
only the chosen steps run, in dependency order, and the report says what was left to whom."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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


# -- rolling limits: batch and max_failures ---------------------------------------------------

def rolling_plan(n_hosts: int = 6, **fields):
    names = [f"h{i}" for i in range(1, n_hosts + 1)]
    b = PlanBuilder([Host(name=n) for n in names])
    t = b.task("roll", "x", hosts=names, **fields)
    b.task("after", "x", hosts=["h1"], after=(t,))
    return b.build()


def starts_and_ends(plan, acts=None):
    """Run the whole plan; returns (report, [(time, 'start'|'end', step)])."""
    from essh.executor.events import StepEnded, StepStarted

    transport = MemoryTransport(plan, acts)
    builder = ReportBuilder(plan, digest(plan), "test")
    timeline = []

    class Timeline:
        def handle(self, event):
            if isinstance(event, (StepStarted, StepEnded)):
                timeline.append((round(trio.current_time(), 3), "start" if isinstance(event, StepStarted) else "end", event.step))

    engine = Engine(plan, transport, EventBus([builder, Timeline()]), clock=trio.current_time)
    trio.run(engine.run, clock=trio.testing.MockClock(autojump_threshold=0))
    return builder.report(), timeline


def test_batches_run_in_waves_each_ending_before_the_next():
    plan = rolling_plan(parallel=0, batch=(1, 2, "50%"))
    acts = {("roll", f"h{i}"): [Act(sleep=10)] for i in range(1, 7)}
    report, timeline = starts_and_ends(plan, acts)
    started = {step: at for at, what, step in timeline if what == "start"}
    assert [started[i] for i in range(6)] == [0, 10, 10, 20, 20, 20]  # waves of 1, 2, then 50% of 6 = 3
    assert started[6] == 30 and report.exit_code == 0


def test_parallel_still_bounds_a_wave():
    plan = rolling_plan(4, parallel=1, batch=(2,))
    acts = {("roll", f"h{i}"): [Act(sleep=10)] for i in range(1, 5)}
    _, timeline = starts_and_ends(plan, acts)
    assert [at for at, what, step in timeline if what == "start" and step < 4] == [0, 10, 20, 30]


def test_failures_up_to_max_failures_are_tolerated_and_the_next_closes_the_task():
    plan = rolling_plan(parallel=1, max_failures=1, on_error="continue")
    acts = {("roll", "h2"): [Act(code=1)], ("roll", "h3"): [Act(code=1)]}
    report, _ = starts_and_ends(plan, acts)
    assert [r.status for r in report.steps] == ["succeeded", "failed", "failed", "skipped", "skipped", "skipped", "succeeded"]
    assert report.steps[3].error == "not run: task 'roll' failed on 2 hosts, more than max_failures=1"


def test_max_failures_with_on_error_stop_stops_the_run_only_past_the_limit():
    plan = rolling_plan(parallel=1, max_failures_percent=20.0)  # 20% of 6: 1 tolerated
    report, _ = starts_and_ends(plan, {("roll", "h1"): [Act(code=1)]})
    assert report.totals.failed == 1 and report.totals.succeeded == 6  # tolerated: the run went on
    report, _ = starts_and_ends(plan, {("roll", "h1"): [Act(code=1)], ("roll", "h4"): [Act(code=1)]})
    assert [r.status for r in report.steps] == ["failed", "succeeded", "succeeded", "failed", "skipped", "skipped", "skipped"]
    assert report.steps[6].error == "not run: task 'roll' failed on 2 hosts, more than max_failures=1 (on_error=stop)"


def test_a_retried_step_counts_once_with_its_final_status():
    plan = rolling_plan(3, parallel=1, max_failures=0, retries=1)
    report, _ = starts_and_ends(plan, {("roll", "h1"): [Act(code=1), Act(code=0)]})
    assert report.exit_code == 0 and len(report.steps[0].attempts) == 2


def test_waves_and_tolerance_arithmetic():
    from essh.executor.scheduler import tolerated_failures, waves
    from essh.schema import Task

    assert waves((1, 5, "25%"), 20) == [1, 5, 5, 5, 4]
    assert waves(("10%",), 5) == [1, 1, 1, 1, 1]  # at least one
    assert waves((3,), 0) == []
    assert tolerated_failures(Task(name="t", max_failures_percent=25.0), 10) == 2
    assert tolerated_failures(Task(name="t"), 10) is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_waves_and_failure_limits_hold_for_any_fleet(data):
    """Any batch list, max_failures and parallel over up to 8 hosts that fail at random: every step has one
    result, no step of a wave starts before the waves before it have ended, and a task never fails on more
    hosts than its limit plus what was already running when the limit was passed."""
    n = data.draw(st.integers(1, 8))
    names = [f"h{i}" for i in range(n)]
    batch = tuple(data.draw(st.lists(st.one_of(st.integers(1, 4), st.sampled_from(["10%", "50%", "100%"])), min_size=1, max_size=3)))
    parallel = data.draw(st.integers(0, 3))
    limit = data.draw(st.none() | st.integers(0, 3))
    b = PlanBuilder([Host(name=h) for h in names])
    b.task("roll", "x", hosts=names, batch=batch, parallel=parallel, max_failures=limit, on_error="continue")
    plan = b.build()
    failing = data.draw(st.sets(st.sampled_from(names)))
    acts = {("roll", h): [Act(sleep=data.draw(st.integers(1, 5)), code=1 if h in failing else 0)] for h in names}
    report, timeline = starts_and_ends(plan, acts)
    assert [r.step for r in report.steps] == list(range(n))
    assert {r.status for r in report.steps} <= {"succeeded", "failed", "skipped"}
    started = {step: at for at, what, step in timeline if what == "start"}
    ended = {step: at for at, what, step in timeline if what == "end" and step in started}
    from essh.executor.scheduler import waves

    first = 0
    for size in waves(batch, n)[:-1]:
        wave, later = range(first, first + size), range(first + size, n)
        for s in later:
            if s in started:
                assert all(w in ended and ended[w] <= started[s] for w in wave)
        first += size
    failed = sum(r.status == "failed" for r in report.steps)
    if limit is not None:
        bound = limit + 1 + (parallel - 1 if parallel else n)
        assert failed <= bound
        if failed <= limit:
            assert all(r.status != "skipped" for r in report.steps)
    else:
        assert all(r.status != "skipped" for r in report.steps)
