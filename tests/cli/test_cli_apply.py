"""`essh apply`, `run` and `exec` through the real command: local steps, then real sshd hosts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from cli_workspace import Workspace, one_error_line, with_terminal

LOCAL = """
task "greet" {
    description = "say hello with the task's arguments",
    script = "echo hello $ESSH_TASK_ARGS_1 $ESSH_TASK_ARGS_2",
}
task "fail" { script = "echo about to fail; exit 3" }
task "after-fail" { depends = ["fail"], script = "echo never" }
"""


def _report(ws: Workspace, name: str = "report.json") -> dict:
    return json.loads((ws.path / name).read_text())


def test_run_passes_arguments_and_writes_the_default_report(ws):
    ws.write(".esshconfig.lua", LOCAL)
    result = ws.essh("run", "greet", "big", "world")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello big world\n"  # one step, no prefix: output passes through untouched
    reports = list((ws.path / "state" / "essh" / "reports").glob("*.json"))
    assert len(reports) == 1
    assert f"Report: {reports[0]}" in result.stderr
    report = json.loads(reports[0].read_text())
    assert report["exit_code"] == 0 and report["totals"]["succeeded"] == 1
    assert report["steps"][0]["stdout_tail"] == "hello big world\n"


def test_arguments_after_double_dash(ws):
    ws.write(".esshconfig.lua", LOCAL)
    result = ws.essh("run", "greet", "--", "a", "--b")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello a --b\n"


def test_failure_exits_1_skips_dependents_and_reports(ws):
    ws.write(".esshconfig.lua", LOCAL)
    result = ws.essh("run", "after-fail", "--report", "report.json")
    assert result.returncode == 1
    assert "never" not in result.stdout
    report = _report(ws)
    statuses = {(s["task"], s["status"]) for s in report["steps"]}
    assert statuses == {("fail", "failed"), ("after-fail", "skipped")}
    failed = next(s for s in report["steps"] if s["task"] == "fail")
    assert failed["exit_code"] == 3 and failed["stdout_tail"] == "about to fail\n"
    assert "failed: fail on local" in result.stderr


def test_apply_with_task_names_refuses_to_prompt_without_a_terminal(ws):
    ws.write(".esshconfig.lua", LOCAL)
    result = ws.essh("apply", "greet")
    assert result.returncode == 2
    assert "--auto-approve" in result.stderr.splitlines()[-1]
    approved = ws.essh("apply", "greet", "--auto-approve", "--report", "report.json", "--", "x")
    assert approved.returncode == 0, approved.stderr
    assert "hello x" in approved.stdout and "# greet" in approved.stdout
    assert _report(ws)["totals"]["succeeded"] == 1


def test_exec_local_backend_runs_once_per_selected_host(ws):
    ws.write(".esshconfig.lua", 'host "a" { tags = ["t"] }\nhost "b" { tags = ["t"] }\nhost "c" {}\n')
    result = ws.essh("exec", "--target", "t", "--backend", "local", "--report", "report.json", "echo on $ESSH_HOSTNAME")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[local:a] on a", "[local:b] on b"]


def test_exec_with_no_matching_host_is_a_usage_error(ws):
    ws.write(".esshconfig.lua", 'host "a" {}\n')
    result = ws.essh("exec", "--target", "nothing-*", "true")
    assert result.returncode == 2
    assert "nothing-*" in one_error_line(result)


def _fleet_config(sshd) -> str:
    lines = []
    for name, port in sshd.hosts:
        tag = name.split("-")[0]
        lines.append(
            f'host "{name}" {{ HostName = "127.0.0.1", Port = {port}, User = "{sshd.user}", '
            f'IdentityFile = "{sshd.key_path}", IdentitiesOnly = "yes", '
            f'UserKnownHostsFile = "{sshd.known_hosts}", tags = ["{tag}"] }}'
        )
    lines.append(
        """
task "stamp" {
    targets = ["web"],
    parallel = true,
    script = "echo stamped $ESSH_HOSTNAME as $(id -un)",
}
task "report-all" {
    depends = ["stamp"],
    targets = ["all"],
    parallel = 2,
    props = { release = "r1" },
    script = "echo $ESSH_HOSTNAME release $ESSH_TASK_PROPS_RELEASE",
}
"""
    )
    return "\n".join(lines)


def test_plan_on_one_side_apply_the_file_on_the_other(sshd, tmp_path):
    planner_side = Workspace(tmp_path / "planner")
    applier_side = Workspace(tmp_path / "applier")
    for side in (planner_side, applier_side):
        (side.path / "home").mkdir(parents=True)
    planner_side.write(".esshconfig.lua", _fleet_config(sshd))
    planned = planner_side.essh("plan", "report-all", "-o", "plan.bin")
    assert planned.returncode == 0, planned.stderr
    shutil.copy(planner_side.path / "plan.bin", applier_side.path / "plan.bin")
    # The applying side has no configuration at all: everything comes from the plan file.
    assert not (applier_side.path / ".esshconfig.lua").exists()
    applied = applier_side.essh("apply", "plan.bin", "--report", "report.json", "--log-dir", "logs")
    assert applied.returncode == 0, applied.stderr
    out = applied.stdout.splitlines()
    assert "[remote:web-1] stamped web-1 as essh-test" in out
    assert "[remote:web-2] stamped web-2 as essh-test" in out
    assert sorted(line for line in out if "release" in line) == [
        "[remote:db-1]  db-1 release r1",
        "[remote:db-2]  db-2 release r1",
        "[remote:web-1] web-1 release r1",
        "[remote:web-2] web-2 release r1",
    ]
    report = _report(applier_side)
    assert report["totals"]["succeeded"] == 6 and report["exit_code"] == 0
    logs = sorted(p.name for p in (applier_side.path / "logs").iterdir())
    assert len(logs) == 6


def test_unreachable_host_exit_1_others_go_on_with_continue(sshd, ws):
    config = _fleet_config(sshd) + (
        '\nhost "gone" { HostName = "127.0.0.1", Port = 1, User = "nobody", tags = ["web"] }\n'
        'task "probe" { targets = ["web"], parallel = true, on_error = "continue", script = "echo alive" }\n'
    )
    ws.write(".esshconfig.lua", config)
    result = ws.essh("run", "probe", "--report", "report.json")
    assert result.returncode == 1
    report = _report(ws)
    status = {s["host"]: s["status"] for s in report["steps"]}
    assert status == {"gone": "unreachable", "web-1": "succeeded", "web-2": "succeeded"}
    assert "unreachable: probe on gone" in result.stderr


def test_apply_with_task_names_asks_on_a_terminal(ws):
    ws.write(".esshconfig.lua", LOCAL)
    code, screen = with_terminal(ws, b"yes\n", "apply", "greet", "--report", "report.json")
    assert code == 0, screen
    assert "# greet" in screen and "hello" in screen and "Apply finished" in screen
    code, screen = with_terminal(ws, b"no\n", "apply", "greet", "--report", "other.json")
    assert code == 1 and "Apply cancelled." in screen  # as Terraform: "no" is not success
    assert not (ws.path / "other.json").exists()


def test_a_reader_that_goes_away_does_not_fail_the_run(ws):
    ws.write(
        ".esshconfig.lua",
        'host "a" {}\nhost "b" {}\nhost "c" {}\n'
        'task "u" { targets = "all", backend = "local", parallel = true, script = "seq 1 20000" }\n',
    )
    shell = f"{sys.executable} -m essh run u --report report.json --log-dir logs | head -1"
    env = {**os.environ, "HOME": str(ws.path / "home")}
    result = subprocess.run(["bash", "-c", shell + "; exit ${PIPESTATUS[0]}"], cwd=ws.path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert _report(ws)["totals"]["succeeded"] == 3
    assert all(len(p.read_text().splitlines()) == 20000 for p in (ws.path / "logs").iterdir())


def test_plan_report_and_log_files_are_private_and_never_follow_a_planted_symlink(ws):
    ws.write(".esshconfig.lua", LOCAL)
    victim = ws.path / "victim"
    victim.write_text("keep me")
    (ws.path / "logs").mkdir(mode=0o700)
    (ws.path / "logs" / "00000-greet-local.log").symlink_to(victim)
    planned = ws.essh("plan", "greet", "-o", "plan.bin")
    applied = ws.essh("apply", "plan.bin", "--report", "report.json", "--log-dir", "logs")
    # The folder is ours alone, so the planted link is ours too: replaced by a fresh private file.
    assert planned.returncode == 0 and applied.returncode == 0, applied.stderr
    assert victim.read_text() == "keep me"
    log = ws.path / "logs" / "00000-greet-local.log"
    assert not log.is_symlink() and log.stat().st_mode & 0o777 == 0o600
    for name in ("plan.bin", "report.json"):
        assert (ws.path / name).stat().st_mode & 0o777 == 0o600
    assert "Traceback" not in applied.stderr
