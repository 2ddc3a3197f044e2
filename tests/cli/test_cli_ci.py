"""The CI commands through the real `essh`: --junit, report summary/junit/merge, --shard, --stage, --resume,
--limit, GITHUB_STEP_SUMMARY and annotations. Local tasks with hosts: no sshd needed here."""

from __future__ import annotations

import json

from cli_workspace import Workspace, one_error_line

FLEET = """
host "db-1" { tags = ["db"] }
host "web-1" { tags = ["web"] }
host "web-2" { tags = ["web"] }
host "web-3" { tags = ["web"] }
task "backup" { targets = ["db"], backend = "local", script = "echo backup $ESSH_HOSTNAME" }
task "deploy" {
    targets = ["web"], backend = "local", depends = ["backup"], on_error = "continue",
    script = "test -e fail-$ESSH_HOSTNAME && exit 5; echo deployed $ESSH_HOSTNAME",
}
task "web-only" { targets = ["web"], backend = "local", parallel = true, script = "echo hi" }
"""


def _plan(ws: Workspace, *tasks: str) -> None:
    ws.write(".esshconfig.lua", FLEET)
    result = ws.essh("plan", *tasks, "-o", "plan.bin")
    assert result.returncode == 0, result.stderr


def _json(ws: Workspace, name: str) -> dict:
    return json.loads((ws.path / name).read_text())


def test_shards_of_stages_merge_into_one_report_with_junit(ws):
    _plan(ws, "deploy")
    ws.write("fail-web-2", "")
    show = ws.essh("show", "--stages", "plan.bin")
    assert show.returncode == 0 and "stage 1: backup" in show.stdout and "stage 2: deploy" in show.stdout
    refused = ws.essh("apply", "plan.bin", "--shard", "1/2")
    assert refused.returncode == 2 and "this plan has 2 stages" in one_error_line(refused)
    codes = {}
    for stage in (1, 2):
        for k in (1, 2):
            result = ws.essh("apply", "plan.bin", "--stage", str(stage), "--shard", f"{k}/2", "--report", f"r{stage}{k}.json")
            codes[stage, k] = result.returncode
            assert f"stage {stage}; shard {k}/2" in result.stderr
    assert codes[1, 1] == codes[1, 2] == 0 and sorted([codes[2, 1], codes[2, 2]]) == [0, 1]
    merged = ws.essh("report", "merge", *[f"r{s}{k}.json" for s in (1, 2) for k in (1, 2)], "-o", "all.json")
    assert merged.returncode == 0, merged.stderr
    report = _json(ws, "all.json")
    assert [s["step"] for s in report["steps"]] == [0, 1, 2, 3] and report["exit_code"] == 1
    assert report["totals"] == {**report["totals"], "succeeded": 3, "failed": 1}
    junit = ws.essh("report", "junit", "all.json")
    assert junit.returncode == 0 and 'failures="1"' in junit.stdout and 'name="web-2"' in junit.stdout
    missing = ws.essh("report", "merge", "r11.json", "r12.json", "r21.json")
    assert missing.returncode == 2 and "in none of the reports" in one_error_line(missing)


def test_resume_reruns_only_the_failed_step(ws):
    _plan(ws, "deploy")
    ws.write("fail-web-2", "")
    first = ws.essh("apply", "plan.bin", "--report", "first.json", "--junit", "first.xml")
    assert first.returncode == 1 and "<failure" in (ws.path / "first.xml").read_text()
    (ws.path / "fail-web-2").unlink()
    second = ws.essh("apply", "plan.bin", "--resume", "first.json", "--report", "second.json")
    assert second.returncode == 0, second.stderr
    assert second.stdout == "[local:web-2] deployed web-2\n"
    report = _json(ws, "second.json")
    assert report["carried_over"] == [0, 1, 3] and report["totals"]["succeeded"] == 4


def test_limit_is_loud_and_recorded(ws):
    _plan(ws, "web-only")
    result = ws.essh("apply", "plan.bin", "--limit", "web-[12]", "--report", "r.json")
    assert result.returncode == 0, result.stderr
    assert "LIMITED to hosts matching web-[12]" in result.stderr
    report = _json(ws, "r.json")
    assert report["limit"] == ["web-[12]"]
    assert [(s["host"], s["status"]) for s in report["steps"]] == [("web-1", "succeeded"), ("web-2", "succeeded"), ("web-3", "skipped")]


def test_github_step_summary_and_annotations(ws):
    _plan(ws, "deploy")
    ws.write("fail-web-3", "")
    summary = ws.write("summary.md", "earlier\n")
    result = ws.essh("apply", "plan.bin", "--report", "r.json", env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"})
    assert result.returncode == 1
    assert summary.read_text().startswith("earlier\n### essh apply: failed (exit 1)")
    assert "::error file=.esshconfig.lua,line=7,title=essh%3A deploy failed on web-3::exit status 5" in result.stdout
    markdown = ws.essh("report", "summary", "r.json", "--format", "markdown")
    assert markdown.returncode == 0 and "| deploy | 2 | 1 |" in markdown.stdout


def test_bad_ci_arguments_are_one_line(ws):
    _plan(ws, "deploy")
    for args, text in [
        (["--shard", "3/2"], "K must be between 1 and N"),
        (["--shard", "auto"], "CI_NODE_INDEX"),
        (["--resume", "nothing.json"], "cannot read report nothing.json"),
        (["--limit", "nope"], "matches none of the plan's hosts"),
    ]:
        result = ws.essh("apply", "plan.bin", *args)
        assert result.returncode == 2 and text in one_error_line(result), result.stderr
    ws.write("bad.json", "{}")
    assert "is not an essh report" in one_error_line(ws.essh("report", "junit", "bad.json"))


def test_diff_exits_like_diff1_and_plan_shows_changes(ws):
    _plan(ws, "deploy")
    (ws.path / "plan.bin").rename(ws.path / "old.bin")
    ws.write(".esshconfig.lua", FLEET.replace('targets = ["web"], backend = "local", depends', 'targets = ["web-1"], backend = "local", depends'))
    assert ws.essh("plan", "deploy", "-o", "new.bin").returncode == 0
    same = ws.essh("diff", "old.bin", "old.bin")
    assert same.returncode == 0 and "same steps" in same.stdout
    changed = ws.essh("diff", "old.bin", "new.bin")
    assert changed.returncode == 1 and "task deploy: changed\n    hosts removed: web-2, web-3\n" in changed.stdout
    as_json = json.loads(ws.essh("diff", "old.bin", "new.bin", "--json").stdout)
    assert as_json["equal"] is False and as_json["tasks"][0]["hosts_removed"] == ["web-2", "web-3"]
    shown = ws.essh("plan", "deploy", "--diff-against", "old.bin")
    assert shown.returncode == 0 and "Changes since old.bin:" in shown.stdout and "hosts removed: web-2, web-3" in shown.stdout
    missing = ws.essh("diff", "old.bin", "nope.bin")
    assert missing.returncode == 2 and "cannot read plan file nope.bin" in one_error_line(missing)


def test_a_shards_logs_are_named_by_the_plans_step_numbers_and_the_review_shows_rolling_limits(ws):
    ws.write(".esshconfig.lua", FLEET.replace('parallel = true, script = "echo hi"', 'parallel = true, batch = {1, "50%"}, max_failures = "10%", script = "echo hi"'))
    assert ws.essh("plan", "web-only", "-o", "plan.bin").returncode == 0
    shown = ws.essh("show", "plan.bin")
    assert "    options: batch=1,50%, max_failures=10%" in shown.stdout
    result = ws.essh("apply", "plan.bin", "--shard", "2/2", "--log-dir", "logs", "--report", "r.json")
    assert result.returncode == 0, result.stderr
    steps = [s["step"] for s in _json(ws, "r.json")["steps"]]
    assert sorted(p.name[:5] for p in (ws.path / "logs").iterdir()) == [f"{i:05d}" for i in steps]


def test_merge_fills_the_stages_that_never_ran_from_the_plan(ws):
    _plan(ws, "deploy")
    assert ws.essh("apply", "plan.bin", "--stage", "1", "--report", "stage1.json").returncode == 0
    merged = ws.essh("report", "merge", "stage1.json", "--fill-from", "plan.bin", "-o", "all.json")
    assert merged.returncode == 0, merged.stderr
    report = _json(ws, "all.json")
    assert [s["status"] for s in report["steps"]] == ["succeeded", "skipped", "skipped", "skipped"]
    assert report["exit_code"] == 1
