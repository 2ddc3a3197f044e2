"""The scheduler's one consuming call, `next_actions()`, and its queries that change nothing."""

from __future__ import annotations

import copy

from essh.executor.scheduler import Scheduler
from essh.schema import Host

from plans import PlanBuilder

HOSTS = ["h1", "h2"]


def plan(on_error: str = "stop"):
    b = PlanBuilder([Host(name=n) for n in HOSTS])
    first = b.task("a", "x", hosts=HOSTS, parallel=0, on_error=on_error)
    b.task("b", "x", hosts=HOSTS, parallel=0, after=(first,))
    return b.build()


def test_starts_stay_offered_until_taken_and_other_answers_come_once():
    s = Scheduler(plan(), fail_fast=True)
    assert s.next_actions().start == [0, 1]
    assert s.next_actions().start == [0, 1]  # asking again is not taking
    s.started(0)
    s.started(1)
    assert s.next_actions().start == []
    s.finished(0, "failed", "exit status 1", "exit_status")
    first = s.next_actions()
    assert (first.cancel, first.cancel_reason) == ([1], "cancelled: task 'a' failed on h1 (--fail-fast)")
    assert first.release == [0]
    again = s.next_actions()
    assert (again.cancel, again.release, again.done) == ([], [], False)  # each said once
    s.finished(1, "cancelled", first.cancel_reason)
    last = s.next_actions()
    assert last.release == [1] and last.done


def test_steps_the_scheduler_ends_itself_are_named_once():
    s = Scheduler(plan(on_error="continue"))
    s.next_actions()
    s.started(0)
    s.started(1)
    s.finished(0, "unreachable", "connection refused", "refused")
    s.finished(1, "succeeded")
    actions = s.next_actions()
    assert actions.ended == [2]  # b on h1: its host is down; ended without running
    assert s.outcome(2) == ("unreachable", "connection refused", "refused")
    assert s.next_actions().ended == []


def test_queries_change_nothing():
    s = Scheduler(plan())
    s.next_actions()
    s.started(0)
    before = copy.deepcopy(s.__dict__)
    for _ in range(3):
        s.results()
        s.outcome(0)
        s.extra_env(0)
        assert not s.interrupted
    assert s.__dict__ == before


def test_sigterm_cancels_at_once():
    s = Scheduler(plan())
    s.next_actions()
    s.started(0)
    assert s.interrupt(cancel_running=True)
    actions = s.next_actions()
    assert (actions.cancel, actions.cancel_reason, actions.start) == ([0], "cancelled: interrupted", [])
