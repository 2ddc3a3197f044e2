"""`essh report merge`: one plan, every step exactly once, the worst exit code."""

from __future__ import annotations

import pytest

from essh.report_merge import MergeError, merge_reports

from reports import report, result


def shards():
    a = report([result(0, "t", "a", "succeeded"), result(2, "t", "c", "failed", exit_code=1)], plan_steps=4, shard="1/2")
    b = report([result(1, "t", "b", "succeeded"), result(3, "u", None, "succeeded")], plan_steps=4, shard="2/2")
    return [("r1.json", a), ("r2.json", b)]


def test_merging_shards_gives_one_complete_report():
    merged = merge_reports(shards())
    assert [r.step for r in merged.steps] == [0, 1, 2, 3]
    assert (merged.totals.succeeded, merged.totals.failed) == (3, 1)
    assert merged.exit_code == 1 and merged.merged_from == ("shard 1/2", "shard 2/2") and merged.shard is None


def test_the_worst_exit_code_wins():
    (n1, a), (n2, b) = shards()
    b = report(list(b.steps), plan_steps=4, shard="2/2", exit_code=130, interrupted=True)
    merged = merge_reports([(n1, a), (n2, b)])
    assert merged.exit_code == 130 and merged.interrupted


def test_a_missing_shard_is_named():
    with pytest.raises(MergeError, match=r"2 step\(s\) of the plan are in none of the reports: steps 1, 3 \(reports given: shard 1/2\)"):
        merge_reports(shards()[:1])


def test_an_overlap_is_named():
    with pytest.raises(MergeError, match=r"step 0 \(t on a\) is in both r1.json and again.json"):
        merge_reports([*shards(), ("again.json", shards()[0][1])])


def test_reports_of_another_plan_are_refused():
    other = report([result(1, "t", "b", "succeeded")], digest="cd" * 32, plan_steps=4)
    with pytest.raises(MergeError, match="other.json is a report of another plan"):
        merge_reports([shards()[0], ("other.json", other)])


def test_fill_from_the_plan_reports_missing_steps_as_skipped_and_failed_overall():
    from essh.report_merge import NOT_REPORTED
    from essh.schema import Host, Plan, PlanMeta, Step, Task

    plan = Plan(
        meta=PlanMeta(essh_version="t", created_at=0, lua_version="none"),
        hosts=(Host(name="a"), Host(name="b"), Host(name="c")),
        tasks=(Task(name="t"), Task(name="u", backend="local")),
        scripts=("x",),
        steps=(Step(0, 0, 0), Step(0, 1, 0), Step(0, 2, 0), Step(1, None, 0)),
    )
    (name, first), _ = shards()
    first = report([r for r in first.steps if r.status == "succeeded"], plan_steps=4, shard="1/2")
    merged = merge_reports([(name, first)], (plan, first.plan_digest))
    assert [(r.task, r.host, r.status) for r in merged.steps] == [
        ("t", "a", "succeeded"), ("t", "b", "skipped"), ("t", "c", "skipped"), ("u", None, "skipped")
    ]
    assert merged.steps[1].error == NOT_REPORTED and merged.exit_code == 1
    with pytest.raises(MergeError, match="--fill-from: that plan"):
        merge_reports([(name, first)], (plan, "ef" * 32))
