"""The engine with an in-memory transport and trio's MockClock: timeouts, retries,
failures, signals and the event stream, in milliseconds of real time."""

from __future__ import annotations

import signal
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from essh.executor.apply import Engine
from essh.executor.errors import ConnectionLost, HostUnreachable, LocalError
from essh.executor.events import AttemptEnded, EventBus, RunEnded, StepEnded
from essh.executor.report_builder import ReportBuilder
from essh.schema import Host, Plan

from memory_transport import Act, MemoryTransport
from plans import PlanBuilder
from test_scheduler_properties import plans

HOSTS = ["h1", "h2", "h3"]


class Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def handle(self, event: Any) -> None:
        self.events.append(event)


def drive(plan: Plan, acts=None, *, fail_fast: bool = False, during=None):
    """Run the engine to its end under MockClock; returns (report, events, transport, end time)."""
    transport = MemoryTransport(plan, acts)
    recorder = Recorder()
    builder = ReportBuilder(plan, "0" * 64, "test")
    bus = EventBus([builder, recorder])
    engine = Engine(plan, transport, bus, fail_fast=fail_fast, clock=trio.current_time)

    async def main() -> float:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(engine.run)
            if during is not None:
                await during(engine)
        return trio.current_time()

    ended = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return builder.report(), recorder.events, transport, ended


def builder() -> PlanBuilder:
    return PlanBuilder([Host(name=n) for n in HOSTS])


def statuses(report) -> list[tuple[str, str | None, str]]:
    return [(r.task, r.host, r.status) for r in report.steps]


def test_a_timeout_ends_the_step_and_kills_it_at_its_deadline():
    b = builder()
    b.task("slow", "x", hosts=["h1"], timeout=5)
    report, _, transport, ended = drive(b.build(), {("slow", "h1"): [Act(sleep=3600)]})
    step = report.steps[0]
    assert (step.status, step.kind, step.error) == ("timed_out", "timeout", "timed out after 5s")
    assert step.duration == pytest.approx(5)
    assert transport.killed == [("slow", "h1")]
    assert ended == pytest.approx(5)


def test_retries_run_again_and_every_attempt_is_recorded():
    b = builder()
    b.task("flaky", "x", hosts=["h1"], retries=2, timeout=1)
    acts = {("flaky", "h1"): [Act(code=3), Act(sleep=10), Act(code=0, out=[("stdout", b"ok\n")])]}
    report, events, transport, _ = drive(b.build(), acts)
    step = report.steps[0]
    assert step.status == "succeeded" and step.stdout_tail == "ok\n"
    assert [(a.number, a.status, a.kind) for a in step.attempts] == [
        (1, "failed", "exit_status"), (2, "timed_out", "timeout"), (3, "succeeded", None),
    ]
    assert [e.retrying for e in events if isinstance(e, AttemptEnded)] == [True, True, False]


def test_retries_stop_at_their_count():
    b = builder()
    b.task("bad", "x", hosts=["h1"], retries=1)
    report, _, transport, _ = drive(b.build(), {("bad", "h1"): [Act(code=2)]})
    assert (report.steps[0].status, report.steps[0].exit_code, len(report.steps[0].attempts)) == ("failed", 2, 2)
    assert transport.attempts["bad", "h1"] == 2


def test_an_unreachable_host_is_not_retried_and_ends_its_later_steps_without_connecting():
    b = builder()
    first = b.task("a", "x", hosts=HOSTS, parallel=0, retries=3, on_error="continue")
    b.task("b", "x", hosts=HOSTS, parallel=0, after=(first,), on_error="continue")
    refused = HostUnreachable("authentication failed for deploy: no key was accepted", "auth")
    report, _, transport, _ = drive(b.build(), {("a", "h2"): [Act(connect=refused)]})
    assert statuses(report) == [
        ("a", "h1", "succeeded"), ("a", "h2", "unreachable"), ("a", "h3", "succeeded"),
        ("b", "h1", "succeeded"), ("b", "h2", "unreachable"), ("b", "h3", "succeeded"),
    ]
    assert report.steps[1].kind == report.steps[4].kind == "auth"
    assert transport.attempts["a", "h2"] == 1 and ("b", "h2") not in transport.attempts


def test_a_lost_connection_ends_only_its_step():
    b = builder()
    first = b.task("reboot", "x", hosts=["h1"], on_error="continue")
    b.task("after", "x", hosts=["h1"], after=(first,))
    lost = ConnectionLost("connection lost while the step ran: reset")
    report, _, _, _ = drive(b.build(), {("reboot", "h1"): [Act(fail=lost)]})
    assert [(r.status, r.kind) for r in report.steps] == [("unreachable", "connection_lost"), ("succeeded", None)]


def test_a_local_error_is_a_failed_step_never_an_unreachable_host():
    b = builder()
    b.task("t", "x", hosts=["h1", "h2"], parallel=0, on_error="continue")
    local = LocalError("cannot open a connection on this machine: Too many open files")
    report, _, _, _ = drive(b.build(), {("t", "h1"): [Act(connect=local)]})
    assert [(r.status, r.kind) for r in report.steps] == [("failed", "local_error"), ("succeeded", None)]


def test_fail_fast_cancels_the_running_steps_and_kills_them():
    b = builder()
    b.task("t", "x", hosts=HOSTS, parallel=0)
    acts = {("t", "h1"): [Act(sleep=1, code=1)], ("t", "h2"): [Act(sleep=100)], ("t", "h3"): [Act(sleep=100)]}
    report, _, transport, ended = drive(b.build(), acts, fail_fast=True)
    assert [r.status for r in report.steps] == ["failed", "cancelled", "cancelled"]
    assert report.steps[1].error == "cancelled: task 't' failed on h1 (--fail-fast)"
    assert sorted(transport.killed) == [("t", "h2"), ("t", "h3")]
    assert ended == pytest.approx(1)


@pytest.mark.parametrize("signals", [[signal.SIGINT], [signal.SIGINT, signal.SIGINT], [signal.SIGTERM], [signal.SIGHUP]])
def test_signals(signals):
    b = builder()
    first = b.task("long", "x", hosts=HOSTS, parallel=0)
    b.task("next", "x", hosts=HOSTS, after=(first,))

    async def during(engine: Engine) -> None:
        await trio.sleep(10)
        for signum in signals:
            engine.on_signal(signum)

    report, _, transport, ended = drive(b.build(), {("long", h): [Act(sleep=60)] for h in HOSTS}, during=during)
    cancel = signals != [signal.SIGINT]
    assert [r.status for r in report.steps] == ["cancelled" if cancel else "succeeded"] * 3 + ["skipped"] * 3
    assert report.interrupted and report.exit_code == 130
    assert ended == pytest.approx(10 if cancel else 60)
    assert len(transport.killed) == (3 if cancel else 0)


def test_handlers_see_what_failed_where():
    b = builder()
    b.task("deploy", "x", hosts=HOSTS, parallel=0, on_error="handler", handler=1)
    b.task("rollback", "x", hosts=None, role="handler", handles=0)
    report, _, transport, _ = drive(b.build(), {("deploy", "h2"): [Act(code=1)], ("deploy", "h3"): [Act(code=1)]})
    assert [r.status for r in report.steps] == ["succeeded", "failed", "failed", "succeeded"]
    assert "export ESSH_FAILED_HOSTS='h2 h3'\n" in transport.programs[-1]


def test_at_most_parallel_steps_of_a_task_at_once():
    b = builder()
    b.task("t", "x", hosts=HOSTS, parallel=2)
    _, _, transport, ended = drive(b.build(), {("t", h): [Act(sleep=1)] for h in HOSTS})
    assert transport.peak_total == 2 and ended == pytest.approx(2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans(), data=st.data(), fail_fast=st.booleans())
def test_every_step_ends_once_and_the_report_is_a_function_of_the_events(plan, data, fail_fast):
    acts = {}
    for step in plan.steps:
        task = plan.tasks[step.task].name
        host = None if step.host is None else plan.hosts[step.host].name
        acts[task, host] = [
            data.draw(st.sampled_from([
                Act(), Act(code=1), Act(sleep=5), Act(sleep=2, code=2),
                Act(connect=HostUnreachable("refused", "refused")), Act(fail=ConnectionLost("lost")),
                Act(connect=LocalError("no fds")),
            ]))
        ]
    report, events, _, _ = drive(plan, acts, fail_fast=fail_fast)
    ends = [e.step for e in events if isinstance(e, StepEnded)]
    assert sorted(ends) == list(range(len(plan.steps)))
    assert isinstance(events[-1], RunEnded)
    assert report.complete and all(r.status not in ("running", "pending") for r in report.steps)
    again = ReportBuilder(plan, "0" * 64, "test")
    for event in events:
        again.handle(event)
    assert again.report() == report
