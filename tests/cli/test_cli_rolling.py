"""Rolling limits on real sshd hosts: `batch` waves end before the next starts, and `max_failures`
closes the task past its limit. The report's step times order what happened."""

from __future__ import annotations

import json

import pytest

from cli_workspace import Workspace

pytestmark = pytest.mark.sshd


def _hosts(sshd) -> str:
    return "\n".join(
        f'host "{name}" {{ HostName = "127.0.0.1", Port = {port}, User = "{sshd.user}", '
        f'IdentityFile = "{sshd.key_path}", IdentitiesOnly = "yes", UserKnownHostsFile = "{sshd.known_hosts}" }}'
        for name, port in sshd.hosts
    )


def test_batches_run_in_waves_on_real_hosts(sshd, tmp_path):
    ws = Workspace(tmp_path)
    (tmp_path / "home").mkdir()
    ws.write(".esshconfig.lua", _hosts(sshd) + """
task "roll" { targets = "all", parallel = true, batch = {1, "50%"}, script = "sleep 0.3; echo done" }
""")
    result = ws.essh("apply", "--auto-approve", "roll", "--report", "r.json")
    assert result.returncode == 0, result.stderr
    steps = json.loads((tmp_path / "r.json").read_text())["steps"]
    assert [s["host"] for s in steps] == sorted(name for name, _ in sshd.hosts)
    sizes = [1, len(steps) // 2]  # waves of 1, then 50%, which repeats
    waves, first = [], 0
    while first < len(steps):
        size = sizes[min(len(waves), 1)]
        waves.append(steps[first:first + size])
        first += size
    for wave, following in zip(waves, waves[1:]):
        assert max(s["ended_at"] for s in wave) <= min(s["started_at"] for s in following)
    if len(waves[-1]) > 1:  # within a wave, parallel = true starts them together
        starts = [s["started_at"] for s in waves[-1]]
        assert max(starts) - min(starts) < 0.3


def test_max_failures_closes_the_task_past_its_limit_on_real_hosts(sshd, tmp_path):
    ws = Workspace(tmp_path)
    (tmp_path / "home").mkdir()
    names = sorted(name for name, _ in sshd.hosts)
    failing = " ".join(names[:2])
    ws.write(".esshconfig.lua", _hosts(sshd) + f"""
task "roll" {{
    targets = "all", max_failures = 1, on_error = "continue",
    script = "for h in {failing}; do test $ESSH_HOSTNAME = $h && exit 7; done; echo ok",
}}
task "next" {{ depends = "roll", backend = "local", script = "echo next" }}
""")
    result = ws.essh("apply", "--auto-approve", "next", "--report", "r.json")
    assert result.returncode == 1
    report = json.loads((tmp_path / "r.json").read_text())
    roll = [(s["host"], s["status"]) for s in report["steps"] if s["task"] == "roll"]
    assert roll == [(names[0], "failed"), (names[1], "failed")] + [(n, "skipped") for n in names[2:]]
    assert report["steps"][2]["error"] == "not run: task 'roll' failed on 2 hosts, more than max_failures=1"
    assert report["steps"][-1]["status"] == "succeeded"  # on_error = "continue": the run went on
