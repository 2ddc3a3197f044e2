"""Scheduler invariants for random plans and random outcome sequences (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from essh.executor.scheduler import Scheduler
from essh.schema import STEP_STATUSES, Host, Plan

from driven import Driven
from plans import PlanBuilder

HOSTS = ["h1", "h2", "h3", "h4"]
ENDINGS = ["succeeded", "succeeded", "succeeded", "failed", "timed_out", "unreachable", "cancelled"]


@st.composite
def plans(draw) -> Plan:
    b = PlanBuilder([Host(name=n) for n in HOSTS])
    n = draw(st.integers(1, 6))
    specs = []
    for i in range(n):
        kind = draw(st.sampled_from(["remote", "remote", "remote", "local", "composite"]))
        after = tuple(draw(st.sets(st.integers(0, i - 1))) if i else ())
        on_error = draw(st.sampled_from(["stop", "continue", "handler"])) if kind != "composite" else "stop"
        specs.append((kind, after, on_error))
    n_handlers = 0
    for i, (kind, after, on_error) in enumerate(specs):
        if kind == "composite":
            b.composite(f"t{i}", after=after)
            continue
        hosts = sorted(draw(st.sets(st.sampled_from(HOSTS), min_size=1))) if kind == "remote" else None
        extra = {"handler": n + n_handlers} if on_error == "handler" else {}
        n_handlers += on_error == "handler"
        b.task(f"t{i}", "x", hosts=hosts, after=after, parallel=draw(st.integers(0, 3)), on_error=on_error, **extra)
    for i, (_, _, on_error) in enumerate(specs):
        if on_error == "handler":
            hosts = draw(st.one_of(st.none(), st.sets(st.sampled_from(HOSTS), min_size=1).map(sorted)))
            b.task(f"h{i}", "y", hosts=hosts, role="handler", handles=i, parallel=draw(st.integers(0, 2)))
    return b.build()


def note_unreachable(s: Scheduler, plan: Plan, ended: dict[int, str], ever_started: set[int], fail_fast: bool) -> bool:
    """Record steps the scheduler ended itself (their host was unreachable); True if one stopped the run."""
    stops = False
    for i, step in enumerate(plan.steps):
        outcome = s.outcome(i)
        if i not in ended and outcome is not None and outcome.status == "unreachable":
            assert step.host is not None and i not in ever_started
            ended[i] = "unreachable"
            task = plan.tasks[step.task]
            stops = stops or (task.role != "handler" and (fail_fast or task.on_error != "continue"))
    return stops


@settings(max_examples=300, deadline=None)
@given(plan=plans(), fail_fast=st.booleans(), data=st.data())
def test_invariants_hold_for_random_runs(plan: Plan, fail_fast: bool, data) -> None:
    s = Driven(Scheduler(plan, fail_fast=fail_fast))
    tasks, steps = plan.tasks, plan.steps
    ended: dict[int, str] = {}
    running: set[int] = set()
    ever_started: set[int] = set()
    released: set[int] = set()
    stopping = False  # a failure under stop/handler/fail-fast, or an interrupt
    for _ in range(10 * len(steps) + 10):
        if s.done():
            break
        offered = s.startable()
        stopping = note_unreachable(s, plan, ended, ever_started, fail_fast) or stopping
        for step in offered:
            task = tasks[steps[step].task]
            assert step not in ever_started
            if task.role == "handler":
                assert stopping and not any(tasks[steps[r].task].role != "handler" for r in running)
            else:
                assert not stopping, "started a step after the run stopped"
                for dep in task.after:
                    if tasks[dep].role != "handler":
                        dep_steps = [i for i, st_ in enumerate(steps) if st_.task == dep]
                        assert all(s.outcome(i) is not None for i in dep_steps), "started before its after finished"
            s.started(step)
            running.add(step)
            ever_started.add(step)
        for t, task in enumerate(tasks):
            if task.parallel:
                assert sum(1 for r in running if steps[r].task == t) <= task.parallel
        for h in s.hosts_done():
            assert h not in released
            assert not any(steps[r].host == h for r in running)
            released.add(h)
        if data.draw(st.integers(0, 30)) == 0:
            stopping = True
            if s.interrupt():
                for step in sorted(s.to_cancel()):
                    s.finished(step, "cancelled", s.cancel_reason())
                    running.discard(step)
                    ended[step] = "cancelled"
            continue
        if not running:
            assert s.done() or s.startable(), "stuck: nothing running, nothing startable, not done"
            continue
        step = data.draw(st.sampled_from(sorted(running)))
        status = data.draw(st.sampled_from(ENDINGS))
        s.finished(step, status, None if status == "succeeded" else "why")
        running.discard(step)
        ended[step] = status
        task = tasks[steps[step].task]
        if task.role != "handler" and status in ("failed", "timed_out", "unreachable"):
            stopping = stopping or fail_fast or task.on_error != "continue"
        for c in sorted(s.to_cancel()):
            s.finished(c, "cancelled", s.cancel_reason())
            running.discard(c)
            ended[c] = "cancelled"
    assert s.done(), "the run never ended"
    stopping = note_unreachable(s, plan, ended, ever_started, fail_fast) or stopping
    results = s.results()
    assert len(results) == len(steps)
    for i, outcome in enumerate(results):
        assert outcome is not None and outcome.status in STEP_STATUSES
        if i in ended:
            assert outcome.status == ended[i]
        elif outcome.status != "unreachable":
            assert outcome.status == "skipped" and outcome.error
    assert not s.startable() and not s.to_cancel()
    if not stopping:  # nothing stopped the run: every ordinary step had its turn
        assert all(r.status != "skipped" for r, st_ in zip(results, steps) if tasks[st_.task].role != "handler")
