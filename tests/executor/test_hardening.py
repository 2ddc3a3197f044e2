"""Defects a hostile host or a bad day could cause, each reproduced on real sshd and closed.

- no value of a step's environment, props or arguments in any process's argv, here or on the host;
- a server allowing few sessions per connection: no host reported unreachable, timed-out steps killed;
- a login shell printing without a newline does not hide the pid line, so cancels still kill;
- logs open only when a step starts: few file descriptors are enough for many hosts;
- a task name too long for a file name, a full disk for the report.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from essh.executor.apply import ApplyOptions, apply_plan
from essh.schema import decode_report_json, write_plan

from plans import PlanBuilder, digest
from sshd import ensure_chatty_user, start_extra_server
from test_apply import apply, fleet_builder, gone, shared  # noqa: F401 - shared is a fixture

pytestmark = pytest.mark.sshd


def cmdlines() -> list[bytes]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                found.append(Path(f"/proc/{pid}/cmdline").read_bytes())
            except OSError:
                pass
    return found


@pytest.mark.parametrize("kind", ["remote", "privileged", "local", "pty"])
def test_no_secret_value_in_any_argv_while_the_step_runs(sshd, shared, kind):
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    prop = f"pr0p-{uuid.uuid4().hex}"
    b = fleet_builder(sshd)
    fields = {"env": (("DB_PASSWORD", secret), ("ESSH_TASK_PROPS_TOKEN", prop), ("ESSH_TASK_ARGS_1", secret + "-arg"))}
    if kind == "privileged":
        fields["run_as"] = "root"
    if kind == "pty":
        fields["pty"] = True
    script = f'touch {shared}/started; sleep 3; test "$DB_PASSWORD" = {secret} && echo seen-$ESSH_TASK_PROPS_TOKEN'
    b.task("t", script, hosts=None if kind == "local" else ["web-1"])
    plan = b.build()
    plan = plan.__class__(**{**{f: getattr(plan, f) for f in plan.__struct_fields__},
                             "tasks": (plan.tasks[0].__class__(**{**{f: getattr(plan.tasks[0], f) for f in plan.tasks[0].__struct_fields__}, **fields}),)})
    write_plan(str(shared / "plan.bin"), plan)
    process = subprocess.Popen(
        [sys.executable, "-m", "essh", "apply", str(shared / "plan.bin"), "--report", str(shared / "report.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while not (shared / "started").exists():
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.02)
    seen = [line for line in cmdlines() if secret.encode() in line or prop.encode() in line]
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"seen-{prop}".encode() in out  # the step had its values...
    assert seen == []  # ...and no process showed them in its command line


def test_few_sessions_per_connection_never_make_a_host_unreachable(sshd, shared):
    server = start_extra_server(sshd, "tight-1", max_sessions=3)
    try:
        host = sshd.schema_host("tight-1", Port=str(server.port))
        b = PlanBuilder([host])
        b.task("many", "sleep 0.5; echo ok", hosts=["tight-1"], parallel=0)
        b.task("also", "sleep 0.5; echo ok", hosts=["tight-1"], parallel=0)
        b.task("more", "sleep 0.5; echo ok", hosts=["tight-1"], parallel=0)
        b.task("again", "sleep 0.5; echo ok", hosts=["tight-1"], parallel=0)
        b.task("stuck", f"sleep 61.{os.getpid()}", hosts=["tight-1"], parallel=0, timeout=1)
        b.task("later", "sleep 0.2", hosts=["tight-1"], parallel=0)
        plan = b.build()
        # Eight steps at once on one host whose server allows three sessions per connection.
        tasks = tuple(t.__class__(**{**{f: getattr(t, f) for f in t.__struct_fields__}, "after": ()}) for t in plan.tasks)
        plan = plan.__class__(**{**{f: getattr(plan, f) for f in plan.__struct_fields__}, "tasks": tasks})
        report, _, _ = apply(plan, max_connections=10)
        assert [s.status for s in report.steps] == ["succeeded"] * 4 + ["timed_out", "succeeded"], [s.error for s in report.steps]
        assert gone(f"sleep 61.{os.getpid()}")  # the timed-out step was killed, sessions or not
    finally:
        server.process.kill()
        server.process.wait()


def test_a_chatty_login_shell_does_not_hide_the_pid_line(sshd, shared):
    user = ensure_chatty_user()
    server = start_extra_server(sshd, "chatty-1", users=(user,))
    marker = f"67.{os.getpid()}"
    try:
        host = sshd.schema_host("chatty-1", Port=str(server.port), User=user)
        b = PlanBuilder([host])
        b.task("hello", "echo out; echo err >&2", hosts=["chatty-1"])
        b.task("stuck", f"sleep {marker}", hosts=["chatty-1"], timeout=1, after=(0,))
        report, _, stderr = apply(b.build())
        hello, stuck = report.steps
        assert hello.status == "succeeded" and hello.stdout_tail == "out\n"
        # The rc file's text stays (the login shell, which runs the step, reads it); only the mark went.
        assert hello.stderr_tail.endswith("Welcome err\n") and "ESSH-PID" not in hello.stderr_tail
        assert stuck.status == "timed_out"
        assert gone(marker)
    finally:
        server.process.kill()
        server.process.wait()


RUNNER = """
import resource, sys
from essh.executor.apply import ApplyOptions, apply_plan
from essh.schema import read_plan
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
plan_path, digest, log_dir = sys.argv[1:]
report = apply_plan(read_plan(plan_path), digest, ApplyOptions(log_dir=log_dir, max_connections=10)).report
print(sorted({(s.status, s.kind) for s in report.steps}))
sys.exit(report.exit_code)
"""


def test_logs_open_when_steps_start_so_few_descriptors_serve_many_hosts(sshd, shared):
    hosts = [sshd.alias_host(f"h{i:03d}", ["db-1", "db-2", "web-1", "web-2"][i % 4]) for i in range(80)]
    b = PlanBuilder(hosts)
    b.task("t", "echo hi", hosts=[h.name for h in hosts], parallel=0)
    plan = b.build()
    write_plan(str(shared / "plan.bin"), plan)
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(shared / "plan.bin"), digest(plan), str(shared / "logs")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[('succeeded', None)]"
    assert len(list((shared / "logs").iterdir())) == 80


def test_a_task_name_too_long_for_a_file_name_still_logs(sshd, shared):
    b = fleet_builder(sshd)
    b.task("x" * 300, "echo hi", hosts=["db-1"])
    report, _, _ = apply(b.build(), log_dir=str(shared / "logs"))
    step = report.steps[0]
    assert step.status == "succeeded"
    assert Path(step.log_file).read_bytes() == b"hi\n" and len(Path(step.log_file).name) < 255


def test_a_report_that_cannot_be_written_loses_nothing_else(sshd, shared):
    b = fleet_builder(sshd)
    b.task("t", "echo hi", hosts=["db-1"])
    plan = b.build()
    result = apply_plan(plan, digest(plan), ApplyOptions(report_path="/dev/full"))
    assert result.report.exit_code == 0 and result.report.steps[0].status == "succeeded"
    assert "No space left on device" in result.report_error


def test_a_full_disk_stops_logging_not_the_run(monkeypatch, tmp_path):
    import errno

    from essh.executor import logs
    from essh.executor.events import AttemptStarted, Notice, OutputChunk, StepEnded

    class Full:
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self):
            raise OSError(errno.ENOSPC, "No space left on device")

    b = PlanBuilder([])
    b.task("t", "x")
    b.task("u", "x")
    events = []
    sink = logs.LogSink(b.build(), str(tmp_path), events.append)
    monkeypatch.setattr(logs, "open", lambda fd, mode: (os.close(fd), Full())[1], raising=False)
    sink.handle(AttemptStarted(0, 1, 0.0))
    sink.handle(AttemptStarted(1, 1, 0.0))
    sink.handle(OutputChunk(0, "stdout", b"x"))
    sink.handle(OutputChunk(1, "stdout", b"y"))
    sink.handle(StepEnded(0, "succeeded", 1.0))
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert notices == [f"logging stopped: No space left on device in {tmp_path}; the run goes on"]
    assert sink.stopped


def test_one_session_per_connection_still_runs_and_kills_every_step(sshd, shared):
    server = start_extra_server(sshd, "single-2", max_sessions=1)
    marker = f"71.{os.getpid()}"
    try:
        host = sshd.schema_host("single-2", Port=str(server.port))
        b = PlanBuilder([host])
        for name in ("a", "b", "c"):
            b.task(name, f"sleep {marker}", hosts=["single-2"], timeout=1)
        plan = b.build()
        report, _, _ = apply(plan, max_connections=10)
        assert [(s.status, s.kind) for s in report.steps] == [("timed_out", "timeout")] * 3
        assert gone(marker)  # each kill found a session: on another connection
    finally:
        server.process.kill()
        server.process.wait()
