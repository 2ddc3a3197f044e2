"""`essh report summary --format markdown` and the GitHub annotations: compact, escaped, pointing at the task."""

from __future__ import annotations

from essh.ci_report import MAX_ROWS, github_annotations, markdown_summary
from essh.schema import Location, Plan, PlanMeta, Task

from reports import mixed, report, result


def test_the_markdown_has_the_outcome_a_row_per_task_and_the_steps_that_did_not_succeed():
    text = markdown_summary(mixed())
    lines = text.splitlines()
    assert lines[0] == "### essh apply: failed (exit 1)"
    assert "| deploy | 1 | 1 | 1 | 0 | 0 | 0 |" in lines
    assert "| migrate &lt;db&gt; | db\\|1 | timed out | timeout | timed out after 5s |" in lines
    assert "<details open><summary>4 steps did not succeed</summary>" in lines
    assert "\x1b" not in text


def test_shard_stage_limit_and_carried_steps_are_said():
    text = markdown_summary(
        report([result(0, "t", "h", "succeeded")], shard="2/3", stage=1, limit=("web-*",), carried_over=(0,))
    )
    assert "stage 1 · shard 2/3" in text and "limit `web-\\*`" in text and "1 carried over" in text


def test_long_failure_lists_are_cut():
    text = markdown_summary(report([result(i, "t", f"h{i}", "failed", exit_code=1) for i in range(MAX_ROWS + 7)]))
    assert text.count("| failed |  |") == MAX_ROWS and "and 7 more" in text


def test_annotations_point_at_the_task_definition_and_escape_the_workflow_command():
    plan = Plan(
        meta=PlanMeta(essh_version="t", created_at=0, lua_version="none"),
        tasks=(Task(name="deploy", defined_at=Location(file="ci/esshconfig.lua", line=12)),),
    )
    lines = list(github_annotations(plan, mixed()))
    assert lines[0] == "::error file=ci/esshconfig.lua,line=12,title=essh%3A deploy failed on web-2::exit status 3"
    assert lines[1] == "::error file=ci/esshconfig.lua,line=12,title=essh%3A deploy unreachable on web-3::connection refused"
    assert lines[2].startswith("::error title=essh%3A migrate <db> timed out on db|1::")  # no definition known
    assert len(lines) == 3  # cancelled and skipped steps are not annotated
