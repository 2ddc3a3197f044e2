"""The scheduler driven by event sequences only: no SSH, no trio, no time."""

from __future__ import annotations

import msgspec
import pytest

from essh.executor.scheduler import Outcome, Scheduler, SchedulerMisuse
from essh.schema import Host

from driven import Driven
from plans import PlanBuilder

HOSTS = ["web-1", "web-2", "web-3", "web-4"]


def builder() -> PlanBuilder:
    return PlanBuilder([Host(name=n) for n in HOSTS])


def run_all(s: Driven, status: dict[int, str] | None = None) -> list[list[int]]:
    """Start everything startable, finish it (default: succeeded), until done; the waves started."""
    waves = []
    while not s.done():
        wave = s.startable()
        assert wave, "not done but nothing startable and nothing running"
        for step in wave:
            s.started(step)
        waves.append(wave)
        for step in wave:
            result = (status or {}).get(step, "succeeded")
            s.finished(step, result, None if result == "succeeded" else "boom")
    return waves


def test_sequential_runs_one_host_after_another():
    b = builder()
    b.task("a", "x", hosts=HOSTS, parallel=1)
    assert run_all(Driven(Scheduler(b.build()))) == [[0], [1], [2], [3]]


def test_parallel_n_and_unlimited():
    b = builder()
    b.task("a", "x", hosts=HOSTS, parallel=3)
    b.task("b", "x", hosts=HOSTS, parallel=0, after=(0,))
    assert run_all(Driven(Scheduler(b.build()))) == [[0, 1, 2], [3], [4, 5, 6, 7]]


def test_after_waits_for_every_step_and_composites_pass_through():
    b = builder()
    a = b.task("a", "x", hosts=["web-1", "web-2"], parallel=0)
    c = b.composite("c", after=(a,))
    b.task("d", "x", hosts=["web-3"], after=(c,))
    b.task("e", "x", hosts=["web-4"])  # independent: starts at once
    s = Driven(Scheduler(b.build()))
    assert s.startable() == [0, 1, 3]
    for step in (0, 1, 3):
        s.started(step)
    s.finished(0, "succeeded")
    assert s.startable() == []
    s.finished(1, "succeeded")
    assert s.startable() == [2]


def test_stop_policy_skips_the_rest_with_the_reason():
    b = builder()
    b.task("build", "x", hosts=["web-1", "web-2"], parallel=0)
    b.task("deploy", "x", hosts=["web-1"], after=(0,))
    s = Driven(Scheduler(b.build()))
    s.started(0)
    s.started(1)
    s.finished(0, "failed", "exit status 1")
    assert s.startable() == [] and not s.done()
    s.finished(1, "succeeded")
    assert s.done()
    assert s.results() == [
        Outcome("failed", "exit status 1"),
        Outcome("succeeded", None),
        Outcome("skipped", "not run: task 'build' failed on web-1 (on_error=stop)"),
    ]


def test_continue_policy_goes_on_with_dependents():
    b = builder()
    b.task("a", "x", hosts=["web-1", "web-2"], on_error="continue")
    b.task("b", "x", hosts=["web-1"], after=(0,))
    s = Driven(Scheduler(b.build()))
    run_all(s, {0: "timed_out"})
    assert [r.status for r in s.results()] == ["timed_out", "succeeded", "succeeded"]


def test_handler_runs_on_failed_hosts_then_the_run_ends():
    b = builder()
    b.task("deploy", "x", hosts=HOSTS, parallel=2, on_error="handler", handler=1)
    b.task("rollback", "y", hosts=HOSTS, parallel=0, role="handler", handles=0)
    b.task("after", "z", hosts=["web-1"], after=(0,))
    s = Driven(Scheduler(b.build()))
    assert s.startable() == [0, 1]
    s.started(0)
    s.started(1)
    s.finished(0, "succeeded")
    s.finished(1, "failed", "exit status 3")
    # web-1's handler step is not needed; web-2's waits for running steps: none left
    assert s.startable() == [5]
    assert s.extra_env(5) == (("ESSH_FAILED_TASK", "deploy"), ("ESSH_FAILED_HOSTS", "web-2"))
    assert s.extra_env(0) == ()
    s.started(5)
    s.finished(5, "succeeded")
    assert s.done()
    statuses = [(r.status, r.error) for r in s.results()]
    assert statuses == [
        ("succeeded", None),
        ("failed", "exit status 3"),
        ("skipped", "not run: task 'deploy' failed on web-2 (on_error=handler)"),
        ("skipped", "not run: task 'deploy' failed on web-2 (on_error=handler)"),
        ("skipped", "handler not needed"),
        ("succeeded", None),
        ("skipped", "handler not needed"),
        ("skipped", "handler not needed"),
        ("skipped", "not run: task 'deploy' failed on web-2 (on_error=handler)"),
    ]


def test_handler_waits_for_running_steps_and_collects_every_failed_host():
    b = builder()
    b.task("deploy", "x", hosts=["web-1", "web-2"], parallel=0, on_error="handler", handler=1)
    b.task("rollback", "y", hosts=None, role="handler", handles=0)
    s = Driven(Scheduler(b.build()))
    s.started(0)
    s.started(1)
    s.finished(0, "failed")
    assert s.startable() == []
    s.finished(1, "unreachable", "connection refused")
    assert s.startable() == [2]
    assert dict(s.extra_env(2))["ESSH_FAILED_HOSTS"] == "web-1 web-2"


def test_handler_not_needed_when_the_task_succeeds():
    b = builder()
    b.task("deploy", "x", hosts=["web-1"], on_error="handler", handler=1)
    b.task("rollback", "y", hosts=["web-1"], role="handler", handles=0)
    s = Driven(Scheduler(b.build()))
    run_all(s)
    assert s.results() == [Outcome("succeeded"), Outcome("skipped", "handler not needed")]


def test_unreachable_host_resolves_its_later_steps_at_their_turn():
    b = builder()
    b.task("a", "x", hosts=["web-1", "web-2"], parallel=0, on_error="continue")
    b.task("b", "x", hosts=["web-1", "web-2"], parallel=0, on_error="continue", after=(0,))
    s = Driven(Scheduler(b.build()))
    s.started(0)
    s.started(1)
    s.finished(0, "unreachable", "connection refused")
    s.finished(1, "succeeded")
    assert s.startable() == [3]  # step 2 (web-1) resolved without a new attempt
    assert s.outcome(2) == Outcome("unreachable", "connection refused")


def test_steps_resolved_unreachable_finish_their_task_and_free_its_dependents():
    b = builder()
    b.task("a", "x", hosts=["web-1"], on_error="continue")
    b.task("b", "x", hosts=["web-1"], on_error="continue", after=(0,))
    b.task("c", "x", hosts=["web-2"], after=(1,))
    s = Driven(Scheduler(b.build()))
    s.started(0)
    s.finished(0, "unreachable", "timeout")
    assert s.startable() == [2]
    assert s.outcome(1) == Outcome("unreachable", "timeout")


def test_unreachable_host_under_stop_skips_with_the_host_reason():
    b = builder()
    b.task("a", "x", hosts=["web-1", "web-2"], parallel=0)
    b.task("b", "x", hosts=["web-1", "web-2"], after=(0,))
    s = Driven(Scheduler(b.build()))
    run_all(s, {0: "unreachable"})
    r = s.results()
    assert r[2] == Outcome("skipped", "not run: host web-1 was unreachable: boom")
    assert r[3] == Outcome("skipped", "not run: task 'a' could not reach web-1 (on_error=stop)")


def test_fail_fast_cancels_running_steps():
    b = builder()
    b.task("a", "x", hosts=HOSTS, parallel=0, on_error="continue")
    s = Driven(Scheduler(b.build(), fail_fast=True))
    for step in s.startable():
        s.started(step)
    assert s.to_cancel() == set()
    s.finished(2, "failed")
    assert s.to_cancel() == {0, 1, 3}
    assert s.cancel_reason() == "cancelled: task 'a' failed on web-3 (--fail-fast)"
    for step in (0, 1, 3):
        s.finished(step, "cancelled", s.cancel_reason())
    assert s.done() and s.to_cancel() == set()


def test_interrupt_twice():
    b = builder()
    b.task("a", "x", hosts=HOSTS, parallel=2)
    s = Driven(Scheduler(b.build()))
    s.started(0)
    s.started(1)
    assert s.interrupt() is False
    assert s.startable() == [] and s.to_cancel() == set()
    s.finished(0, "succeeded")
    assert s.interrupt() is True
    assert s.to_cancel() == {1}
    s.finished(1, "cancelled", s.cancel_reason())
    assert s.done()
    assert [r.status for r in s.results()] == ["succeeded", "cancelled", "skipped", "skipped"]
    assert s.results()[2].error == "not run: interrupted"


def test_hosts_done_releases_each_host_once_when_nothing_is_left_on_it():
    b = builder()
    b.task("a", "x", hosts=["web-1", "web-2"], parallel=0)
    b.task("b", "x", hosts=["web-2"], after=(0,))
    s = Driven(Scheduler(b.build()))
    s.started(0)
    s.started(1)
    s.finished(0, "succeeded")
    assert s.hosts_done() == [0]
    s.finished(1, "succeeded")
    assert s.hosts_done() == []
    s.started(2)
    s.finished(2, "succeeded")
    assert s.hosts_done() == [1]
    assert s.hosts_done() == []


def test_hosts_done_after_a_stop_releases_idle_hosts_at_once():
    b = builder()
    b.task("a", "x", hosts=HOSTS, parallel=0)
    b.task("b", "x", hosts=HOSTS, after=(0,))
    s = Driven(Scheduler(b.build()))
    for step in s.startable():
        s.started(step)
    s.finished(0, "failed")
    assert s.hosts_done() == [0]
    s.finished(1, "succeeded")
    assert s.hosts_done() == [1]


def test_local_steps_and_misuse_errors():
    b = builder()
    b.task("l", "x", hosts=None)
    s = Driven(Scheduler(b.build()))
    with pytest.raises(SchedulerMisuse, match="call started"):
        s.finished(0, "succeeded")
    with pytest.raises(SchedulerMisuse, match="status must be"):
        s.finished(0, "pending")  # type: ignore[arg-type]
    s.started(0)
    with pytest.raises(SchedulerMisuse, match="not startable"):
        s.started(0)
    s.finished(0, "failed")
    assert s.done() and s.hosts_done() == []


def test_an_interrupt_releases_hosts_waiting_only_for_a_handler():
    b = builder()
    b.task("deploy", "x", hosts=["web-1", "web-2"], parallel=0, on_error="handler", handler=1)
    b.task("rollback", "y", hosts=["web-1", "web-2"], role="handler", handles=0)
    s = Driven(Scheduler(b.build()))
    s.started(0)
    s.started(1)
    s.finished(0, "failed")
    assert s.hosts_done() == []  # web-1 may still need its handler step
    s.interrupt()
    assert s.hosts_done() == [0]
    s.finished(1, "succeeded")
    assert s.hosts_done() == [1] and s.done()
    assert s.results()[2] == Outcome("skipped", "not run: interrupted")


def test_a_started_step_that_ends_skipped_frees_its_dependents():
    """apply --once ends a started step `skipped`: what waits for its task still runs, no handler is needed."""
    b = builder()
    a = b.task("a", "x", hosts=["web-1"], on_error="handler")
    b.task("a-handler", "x", hosts=["web-1"], role="handler", handles=a)
    b.task("b", "x", hosts=["web-1"], after=(a,))
    plan = b.build(check=False)
    plan = msgspec.structs.replace(plan, tasks=(msgspec.structs.replace(plan.tasks[0], handler=1), *plan.tasks[1:]))
    s = Driven(Scheduler(plan))
    assert s.startable() == [0]
    s.started(0)
    s.finished(0, "skipped", "not run: already applied")
    assert s.startable() == [2]
    s.started(2)
    s.finished(2, "succeeded")
    assert s.done()
    assert [o.status for o in s.s.results()] == ["skipped", "skipped", "succeeded"]
