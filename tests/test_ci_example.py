"""examples/ci: the pipelines' commands (ci.sh plan / apply STAGE SHARD / merge) run here as CI would run
them, against the test sshd hosts; and the two pipeline files call exactly those commands, one job per
stage the plan has."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import xmlschema

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "ci"

pytestmark = pytest.mark.sshd


def _hosts_lua(sshd) -> str:
    lines = ["return {", f'  user = "{sshd.user}",', f'  key = "{sshd.key_path}",', f'  known_hosts = "{sshd.known_hosts}",', "  hosts = {"]
    for name, port in sshd.hosts:
        lines.append(f'    {{ name = "{name}", port = {port}, tags = {{ "{name.split("-")[0]}" }} }},')
    return "\n".join([*lines, "  },", "}", ""])


def _job(work: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ESSH_", "CI_", "GITHUB_"))}
    full.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{full.get('PATH', '')}", HOME=str(work), **env)
    return subprocess.run(["sh", str(work / "ci.sh"), *args], cwd=work, env=full, capture_output=True, text=True, timeout=180)


def test_the_pipeline_commands_run_end_to_end(sshd, tmp_path):
    work = tmp_path / "job"
    work.mkdir()
    for name in ("ci.sh", "esshconfig.lua"):
        shutil.copy(EXAMPLE / name, work / name)
    (work / ".esshconfig.lua").write_text((work / "esshconfig.lua").read_text())
    (work / "hosts.lua").write_text(_hosts_lua(sshd))

    planned = _job(work, "plan", "r42")
    assert planned.returncode == 0, planned.stderr
    stages = re.findall(r"^stage (\d+): ", planned.stdout, re.M)
    assert stages == ["1", "2", "3"]

    for stage in stages:
        for k in (1, 2):
            # stage 2 as a GitLab `parallel: 2` job would run it, the others with an explicit K/N
            env = {"CI_NODE_INDEX": str(k), "CI_NODE_TOTAL": "2"} if stage == "2" else {}
            applied = _job(work, "apply", stage, "auto" if env else f"{k}/2", **env)
            assert applied.returncode == 0, applied.stderr
            assert f"stage {stage}; shard {k}/2" in applied.stderr

    summary = work / "step-summary.md"
    merged = _job(work, "merge", GITHUB_STEP_SUMMARY=str(summary))
    assert merged.returncode == 0, merged.stderr
    report = json.loads((work / "report.json").read_text())
    assert report["exit_code"] == 0 and report["totals"]["succeeded"] == len(report["steps"]) == report["plan_steps"]
    assert len(report["merged_from"]) == 6
    deployed = [s["stdout_tail"] for s in report["steps"] if s["task"] == "deploy"]
    assert deployed and all(line.startswith("deployed r42 to web-") for line in deployed)
    xmlschema.XMLSchema(str(REPO / "tests" / "data" / "junit.xsd")).validate(str(work / "junit.xml"))
    assert summary.read_text().startswith("### essh apply: succeeded (exit 0)")

    shutil.copy(work / "plan.bin", work / "released.bin")
    again = _job(work, "plan", "r43", OLD_PLAN="released.bin")
    assert again.returncode == 0, again.stderr
    assert "Changes since released.bin:" in again.stdout and 'request args: ["r42"] -> ["r43"]' in again.stdout


@pytest.mark.parametrize("pipeline", ["github-actions.yml", "gitlab-ci.yml"])
def test_each_pipeline_runs_every_stage_with_the_scripts_commands(pipeline):
    text = (EXAMPLE / pipeline).read_text()
    calls = re.findall(r"examples/ci/ci\.sh (plan|apply|merge)\b([^\]\n]*)", text)
    assert [c for c, _ in calls].count("plan") == 1 and [c for c, _ in calls].count("merge") == 1
    applied = sorted(int(args.split()[0]) for c, args in calls if c == "apply")
    assert applied == [1, 2, 3]  # the stages `essh show --stages` lists for the example's plan
