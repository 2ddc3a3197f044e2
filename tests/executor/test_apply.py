"""apply_plan against the real sshd fleet: order, parallelism, failures, timeouts, retries, the report."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from essh.executor.apply import ApplyOptions, apply_plan
from essh.executor.errors import SshOptionError
from essh.schema import Plan, Report, decode_report_json

from plans import PlanBuilder, digest

pytestmark = pytest.mark.sshd

ALL = ["db-1", "db-2", "web-1", "web-2"]


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory the test user (on the 'hosts') and the test (here) both write to."""
    path = Path(tempfile.mkdtemp(prefix="essh-apply-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def fleet_builder(sshd, *extra_hosts) -> PlanBuilder:
    return PlanBuilder([sshd.schema_host(name) for name, _ in sshd.hosts] + list(extra_hosts))


def apply(plan: Plan, **options) -> tuple[Report, bytes, bytes]:
    stdout, stderr = io.BytesIO(), io.BytesIO()
    report = apply_plan(plan, digest(plan), ApplyOptions(**options), stdout=stdout, stderr=stderr).report
    return report, stdout.getvalue(), stderr.getvalue()


def by_host(report: Report, task: str) -> dict[str | None, str]:
    return {r.host: r.status for r in report.steps if r.task == task}


def stamps(path: Path) -> list[tuple[str, int, int]]:
    """Lines 'name start_ns end_ns' written by the steps, sorted by start."""
    rows = [line.split() for line in path.read_text().splitlines()]
    return sorted(((n, int(a), int(b)) for n, a, b in rows), key=lambda r: r[1])


def timed(shared: Path, seconds: float = 0.3) -> str:
    return f"a=$(date +%s%N); sleep {seconds}; echo \"$ESSH_HOSTNAME $a $(date +%s%N)\" >> {shared}/stamps"


def gone(pattern: str, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 1:
            return True
        time.sleep(0.1)
    return False


def test_depends_run_in_order_and_report_has_one_result_per_step(sshd, shared):
    b = fleet_builder(sshd)
    first = b.task("first", f"date +%s%N > {shared}/first-$ESSH_HOSTNAME", hosts=ALL, parallel=0)
    second = b.task("second", f"date +%s%N > {shared}/second-$ESSH_HOSTNAME", hosts=ALL, parallel=0, after=(first,))
    b.task("third", f"date +%s%N > {shared}/third-local", hosts=None, after=(second,))
    plan = b.build()
    report_path = shared / "report.json"
    report, _, _ = apply(plan, report_path=str(report_path))
    assert report.exit_code == 0 and report.totals.succeeded == 9
    assert [r.step for r in report.steps] == list(range(9))
    assert decode_report_json(report_path.read_bytes()) == report
    assert report.plan_digest == digest(plan)
    t = {p.name: int(p.read_text()) for p in shared.iterdir() if p.name != "report.json"}
    assert max(t[f"first-{h}"] for h in ALL) < min(t[f"second-{h}"] for h in ALL)
    assert max(t[f"second-{h}"] for h in ALL) < t["third-local"]


def test_parallel_overlaps_and_sequential_does_not(sshd, shared):
    b = fleet_builder(sshd)
    b.task("par", timed(shared / "p", 1.0), hosts=ALL, parallel=0)
    plan = b.build()
    (shared / "p").mkdir(mode=0o777)
    (shared / "p").chmod(0o777)
    assert apply(plan)[0].exit_code == 0
    rows = stamps(shared / "p" / "stamps")
    assert max(start for _, start, _ in rows) < min(end for _, _, end in rows)

    b = fleet_builder(sshd)
    b.task("seq", timed(shared, 0.1), hosts=ALL, parallel=1)
    assert apply(b.build())[0].exit_code == 0
    rows = stamps(shared / "stamps")
    assert [name for name, _, _ in rows] == ALL
    assert all(rows[i][2] <= rows[i + 1][1] for i in range(len(rows) - 1))


def test_parallel_n_never_exceeds_n(sshd, shared):
    script = (
        f"touch {shared}/run-$ESSH_HOSTNAME; ls {shared} | grep -c '^run-' >> {shared}/counts; "
        f"sleep 0.5; rm {shared}/run-$ESSH_HOSTNAME"
    )
    b = fleet_builder(sshd)
    b.task("two", script, hosts=ALL, parallel=2)
    assert apply(b.build())[0].exit_code == 0
    counts = [int(n) for n in (shared / "counts").read_text().split()]
    assert len(counts) == 4 and max(counts) == 2


def test_on_error_stop_skips_the_rest_with_the_reason(sshd, shared):
    b = fleet_builder(sshd)
    t = b.task("build", 'test "$ESSH_HOSTNAME" != db-2', hosts=ALL, parallel=1)
    b.task("deploy", "true", hosts=ALL, after=(t,))
    report, _, _ = apply(b.build())
    assert report.exit_code == 1
    assert by_host(report, "build") == {"db-1": "succeeded", "db-2": "failed", "web-1": "skipped", "web-2": "skipped"}
    assert set(by_host(report, "deploy").values()) == {"skipped"}
    reasons = {r.error for r in report.steps if r.status == "skipped"}
    assert reasons == {"not run: task 'build' failed on db-2 (on_error=stop)"}
    failed = report.steps[1]
    assert failed.exit_code == 1 and failed.error == "exit status 1" and len(failed.attempts) == 1


def test_on_error_continue_runs_dependents(sshd, shared):
    b = fleet_builder(sshd)
    t = b.task("build", 'test "$ESSH_HOSTNAME" != db-2', hosts=ALL, parallel=0, on_error="continue")
    b.task("deploy", "true", hosts=ALL, after=(t,), parallel=0)
    report, _, _ = apply(b.build())
    assert report.exit_code == 1
    assert report.totals.failed == 1 and report.totals.succeeded == 7


def test_on_error_handler_runs_on_failed_hosts_with_their_names(sshd, shared):
    b = fleet_builder(sshd)
    t = b.task(
        "deploy", 'case "$ESSH_HOSTNAME" in web-*) exit 4;; esac', hosts=ALL, parallel=0, on_error="handler", handler=1
    )
    b.task(
        "rollback",
        f'echo "$ESSH_FAILED_TASK:$ESSH_FAILED_HOSTS" > {shared}/rolled-$ESSH_HOSTNAME',
        hosts=ALL,
        parallel=0,
        role="handler",
        handles=t,
    )
    b.task("after", "true", hosts=ALL, after=(t,))
    report, _, _ = apply(b.build())
    assert report.exit_code == 1
    assert by_host(report, "rollback") == {"db-1": "skipped", "db-2": "skipped", "web-1": "succeeded", "web-2": "succeeded"}
    assert sorted(p.name for p in shared.iterdir()) == ["rolled-web-1", "rolled-web-2"]
    assert (shared / "rolled-web-1").read_text() == "deploy:web-1 web-2\n"
    assert set(by_host(report, "after").values()) == {"skipped"}


def test_timeout_ends_the_remote_process(sshd, shared):
    marker = "31.4159"
    b = fleet_builder(sshd)
    b.task("slow", f"sleep {marker} & sleep {marker}; wait", hosts=["web-1"], timeout=0.5)
    started = time.monotonic()
    report, _, _ = apply(b.build())
    assert time.monotonic() - started < 10
    step = report.steps[0]
    assert step.status == "timed_out" and step.error == "timed out after 0.5s"
    assert gone(f"sleep {marker}")


def test_timeout_counts_from_the_start_of_the_command_not_the_wait_for_a_connection(sshd, shared):
    b = fleet_builder(sshd)
    b.task("busy", "sleep 1.2", hosts=["db-1", "db-2", "web-1"], parallel=0, timeout=2.5)
    report, _, _ = apply(b.build(), max_connections=1)
    assert [r.status for r in report.steps] == ["succeeded"] * 3
    assert report.wall_seconds > 3.6  # one at a time: the later ones waited longer than their timeout


def test_local_timeout(shared):
    b = PlanBuilder([])
    b.task("slow", "sleep 30", hosts=None, timeout=0.5)
    report, _, _ = apply(b.build())
    assert (report.steps[0].status, report.steps[0].error) == ("timed_out", "timed out after 0.5s")


def test_retries_record_every_attempt(sshd, shared):
    script = f"echo x >> {shared}/tries; test $(wc -l < {shared}/tries) -ge 3"
    b = fleet_builder(sshd)
    b.task("flaky", script, hosts=["db-1"], retries=3)
    report, _, err = apply(b.build())
    step = report.steps[0]
    assert step.status == "succeeded" and report.exit_code == 0
    assert [(a.number, a.status) for a in step.attempts] == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    assert b"attempt 1 of 4: exit status 1; trying again" in err


def test_unreachable_host_and_the_others_go_on(sshd, shared):
    b = fleet_builder(sshd, sshd.closed_port_host("down-1"))
    t = b.task("one", "true", hosts=["down-1", "web-1"], parallel=0, on_error="continue")
    b.task("two", "true", hosts=["down-1", "web-1"], parallel=0, after=(t,), on_error="continue")
    report, _, _ = apply(b.build())
    assert report.exit_code == 1
    assert by_host(report, "one") == {"down-1": "unreachable", "web-1": "succeeded"}
    assert by_host(report, "two") == {"down-1": "unreachable", "web-1": "succeeded"}
    down = [r for r in report.steps if r.host == "down-1"]
    assert down[0].error and down[0].error == down[1].error
    assert len(down[0].attempts) == 1 and down[1].attempts == ()  # no second connection attempt


def test_a_connection_lost_mid_step_does_not_give_up_on_the_host(sshd, shared):
    b = fleet_builder(sshd)
    t = b.task("reboot", "kill -KILL $PPID; sleep 5", hosts=["web-1"], on_error="continue")
    b.task("after", "echo back", hosts=["web-1"], after=(t,))
    report, out, _ = apply(b.build())
    assert [(r.task, r.status) for r in report.steps] == [("reboot", "unreachable"), ("after", "succeeded")]
    assert "connection lost" in report.steps[0].error
    assert out == b"back\n"


def test_unreachable_counts_as_a_failure_for_stop(sshd, shared):
    b = fleet_builder(sshd, sshd.closed_port_host("down-1"))
    t = b.task("one", "true", hosts=["down-1", "web-1"], parallel=1)
    b.task("two", "true", hosts=["web-1"], after=(t,))
    report, _, _ = apply(b.build())
    assert [r.status for r in report.steps] == ["unreachable", "skipped", "skipped"]
    assert report.steps[1].error == "not run: task 'one' could not reach down-1 (on_error=stop)"


def test_fail_fast_cancels_running_steps_and_their_remote_processes(sshd, shared):
    marker = "27.1828"
    b = fleet_builder(sshd)
    b.task("t", f'if [ "$ESSH_HOSTNAME" = db-1 ]; then sleep 0.5; exit 2; fi; sleep {marker}', hosts=ALL, parallel=0)
    started = time.monotonic()
    report, _, _ = apply(b.build(), fail_fast=True)
    assert time.monotonic() - started < 10
    assert by_host(report, "t") == {"db-1": "failed", "db-2": "cancelled", "web-1": "cancelled", "web-2": "cancelled"}
    assert report.steps[1].error == "cancelled: task 't' failed on db-1 (--fail-fast)"
    assert gone(f"sleep {marker}")


def test_output_prefixes_log_files_and_tails(sshd, shared):
    b = fleet_builder(sshd)
    b.task("out", "echo one; echo two >&2", hosts=["db-1", "web-1"], parallel=0, prefix=True)
    report, out, err = apply(b.build(), log_dir=str(shared / "logs"))
    assert sorted(out.splitlines()) == [b"[remote:db-1]  one", b"[remote:web-1] one"]
    assert sorted(err.splitlines()) == [b"[remote:db-1]  two", b"[remote:web-1] two"]
    first = report.steps[0]
    assert first.stdout_tail == "one\n" and first.stderr_tail == "two\n"
    assert first.log_file == str(shared / "logs" / "00000-out-db-1.log")
    assert sorted(Path(first.log_file).read_bytes().splitlines()) == [b"one", b"two"]


def test_a_bad_plan_option_makes_its_host_unreachable_and_the_others_go_on(sshd, shared):
    b = fleet_builder(sshd)
    b.task("t", "true", hosts=["db-1", "db-2"], parallel=0, on_error="continue")
    plan = b.build()
    bad = msgspec.structs.replace(plan.hosts[0], ssh_options=(("Port", "not-a-port"),))
    plan = msgspec.structs.replace(plan, hosts=(bad, *plan.hosts[1:]))
    report, _, _ = apply(plan)
    assert [r.status for r in report.steps] == ["unreachable", "succeeded"]
    assert "Port" in report.steps[0].error


def test_the_report_is_written_when_essh_itself_fails(sshd, shared, monkeypatch):
    from essh.executor import terminal
    from essh.executor.events import StepStarted

    def broken(self, event):
        if isinstance(event, StepStarted) and event.step == 1:
            raise RuntimeError("a bug in a sink")

    monkeypatch.setattr(terminal.TerminalSink, "handle", broken)
    b = fleet_builder(sshd)
    b.task("t", "true", hosts=["db-1"])
    b.task("u", "true", hosts=["db-1"], after=(0,))
    b.task("v", "true", hosts=["db-1"], after=(1,))
    with pytest.raises(RuntimeError, match="a bug in a sink"):
        apply(b.build(), report_path=str(shared / "r.json"))
    report = decode_report_json((shared / "r.json").read_bytes())
    assert report.complete and report.exit_code == 1
    assert [s.status for s in report.steps] == ["succeeded", "cancelled", "skipped"]
    assert report.steps[2].error == "not run: essh stopped: RuntimeError: a bug in a sink"


def test_a_log_folder_others_can_write_is_refused_before_anything_runs(sshd, shared):
    from essh.executor import LogDirError

    b = fleet_builder(sshd)
    b.task("t", f"touch {shared}/ran", hosts=["db-1"])
    (shared / "open").mkdir(mode=0o777)
    (shared / "open").chmod(0o777)
    (shared / "file").write_text("")
    for place, message in [("open", "can be written by other users"), ("file", "File exists|not a folder")]:
        with pytest.raises(LogDirError, match=message):
            apply(b.build(), log_dir=str(shared / place))
    assert not (shared / "ran").exists()


def test_local_steps_run_here_with_the_environment(shared):
    b = PlanBuilder()
    b.task("l", f"echo $FOO > {shared}/local", hosts=None, env=(("FOO", "bar baz"),))
    report, _, _ = apply(b.build())
    assert report.exit_code == 0 and (shared / "local").read_text() == "bar baz\n"


def test_one_connection_per_host_for_several_tasks(sshd, shared):
    before = {name: server.accepted_logins() for name, server in sshd.servers.items()}
    b = fleet_builder(sshd)
    one = b.task("one", "true", hosts=ALL, parallel=0)
    two = b.task("two", "true", hosts=ALL, parallel=0, after=(one,))
    b.task("three", "true", hosts=ALL, parallel=1, after=(two,))
    assert apply(b.build())[0].exit_code == 0
    after = {name: server.accepted_logins() for name, server in sshd.servers.items()}
    assert {name: after[name] - before[name] for name in ALL} == {name: 1 for name in ALL}


def test_a_host_with_no_step_left_is_released_while_others_run(sshd, shared):
    port = sshd.port("db-1")
    count = f"ss -Htn state established '( dport = :{port} )' | wc -l"
    b = fleet_builder(sshd)
    b.task("quick", "true", hosts=["db-1"])
    b.task("long", f"sleep 0.5; {count} > {shared}/db1-connections", hosts=["web-1"])
    assert apply(b.build())[0].exit_code == 0
    assert (shared / "db1-connections").read_text().strip() == "0"


def test_pty_steps_get_a_terminal_and_others_do_not(sshd, shared):
    b = fleet_builder(sshd)
    b.task("tty", "test -t 1 && echo tty || echo no-tty", hosts=["web-1"], pty=True)
    b.task("plain", "test -t 1 && echo tty || echo no-tty", hosts=["web-1"])
    report, _, _ = apply(b.build())
    assert [r.stdout_tail.strip() for r in report.steps] == ["tty", "no-tty"]


def test_a_local_handler_learns_what_failed_where(sshd, shared):
    b = fleet_builder(sshd)
    t = b.task("deploy", "exit 1", hosts=["db-2", "web-1"], parallel=0, on_error="handler", handler=1)
    b.task("notify", 'echo "$ESSH_FAILED_TASK failed on $ESSH_FAILED_HOSTS"', hosts=None, role="handler", handles=t)
    report, out, _ = apply(b.build())
    assert [r.status for r in report.steps] == ["failed", "failed", "succeeded"]
    assert out == b"deploy failed on db-2 web-1\n"  # one step, no prefix: passed through


def test_fewer_connections_than_hosts_still_runs_everything(sshd, shared):
    b = fleet_builder(sshd)
    first = b.task("one", "sleep 0.1", hosts=ALL, parallel=0)
    b.task("two", "true", hosts=ALL, parallel=0, after=(first,))
    report, _, _ = apply(b.build(), max_connections=1)
    assert report.exit_code == 0 and report.totals.succeeded == 8
