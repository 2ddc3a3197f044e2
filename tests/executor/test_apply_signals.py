"""Ctrl-C, SIGTERM, SIGHUP and SIGKILL sent to a process running apply_plan against the real sshd fleet."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from essh.schema import decode_report_json, write_plan

from plans import PlanBuilder, digest
from test_apply import gone, shared  # noqa: F401 - shared is a fixture

pytestmark = pytest.mark.sshd

ALL = ["db-1", "db-2", "web-1", "web-2"]
RUNNER = """
import sys
from essh.executor.apply import ApplyOptions, apply_plan
from essh.schema import read_plan
plan_path, digest, report_path = sys.argv[1:]
report = apply_plan(read_plan(plan_path), digest, ApplyOptions(report_path=report_path)).report
sys.exit(report.exit_code)
"""


def python_runner(plan_path: Path, plan_digest: str, report_path: Path) -> list[str]:
    return [sys.executable, "-c", RUNNER, str(plan_path), plan_digest, str(report_path)]


def cli_runner(plan_path: Path, plan_digest: str, report_path: Path) -> list[str]:
    return [sys.executable, "-m", "essh", "apply", str(plan_path), "--report", str(report_path)]


def start_apply(sshd, shared: Path, sleep: str, runner=python_runner) -> subprocess.Popen[bytes]:
    b = PlanBuilder([sshd.schema_host(name) for name, _ in sshd.hosts])
    first = b.task("long", f"touch {shared}/started-$ESSH_HOSTNAME; sleep {sleep}", hosts=ALL, parallel=0)
    b.task("next", "true", hosts=ALL, after=(first,))
    plan = b.build()
    write_plan(str(shared / "plan.bin"), plan)
    process = subprocess.Popen(
        runner(shared / "plan.bin", digest(plan), shared / "report.json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while len(list(shared.glob("started-*"))) < len(ALL):
        assert time.monotonic() < deadline and process.poll() is None, "the steps never started"
        time.sleep(0.05)
    return process


@pytest.mark.parametrize("runner", [python_runner, cli_runner], ids=["apply_plan", "essh-apply"])
def test_second_sigint_cancels_running_steps_and_ends_remote_processes(sshd, shared, runner):
    marker = "41.4213"
    process = start_apply(sshd, shared, marker, runner)
    process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert process.poll() is None  # the first only stops new starts
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert b"interrupt again to cancel" in err and b"cancelling the running steps" in err
    report = decode_report_json((shared / "report.json").read_bytes())
    assert report.interrupted and report.exit_code == 130
    assert [r.status for r in report.steps] == ["cancelled"] * 4 + ["skipped"] * 4
    assert {r.error for r in report.steps} == {"cancelled: interrupted", "not run: interrupted"}
    assert gone(f"sleep {marker}")

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("runner", [python_runner, cli_runner], ids=["apply_plan", "essh-apply"])
def test_sigterm_and_sighup_cancel_at_once_and_clean_up_in_bounded_time(sshd, shared, signum, runner):
    marker = "43.4213" if signum == signal.SIGTERM else "47.4213"
    process = start_apply(sshd, shared, marker, runner)
    sent = time.monotonic()
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    assert time.monotonic() - sent < 8  # docker stop waits 10 s before its SIGKILL
    assert process.returncode == 130, err
    report = decode_report_json((shared / "report.json").read_bytes())
    assert report.complete and report.interrupted
    assert [r.status for r in report.steps] == ["cancelled"] * 4 + ["skipped"] * 4
    assert gone(f"sleep {marker}")


def test_sigkill_leaves_a_usable_report_of_what_had_ended(sshd, shared):
    b = PlanBuilder([sshd.schema_host(name) for name, _ in sshd.hosts])
    quick = b.task("quick", "true", hosts=ALL, parallel=0)
    b.task("long", f"touch {shared}/started-$ESSH_HOSTNAME; sleep 53.4213", hosts=ALL, parallel=0, after=(quick,))
    plan = b.build()
    write_plan(str(shared / "plan.bin"), plan)
    process = subprocess.Popen(python_runner(shared / "plan.bin", digest(plan), shared / "report.json"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while len(list(shared.glob("started-*"))) < len(ALL):
        assert time.monotonic() < deadline and process.poll() is None, "the steps never started"
        time.sleep(0.05)
    time.sleep(1.2)  # the report is rewritten at most once a second
    process.kill()
    process.wait()
    report = decode_report_json((shared / "report.json").read_bytes())
    assert not report.complete
    assert [r.status for r in report.steps] == ["succeeded"] * 4 + ["running"] * 4
    subprocess.run(["pkill", "-f", "sleep 53.4213"], check=False)
