"""One rule per task value: the loader and the resolver refuse the same values with the same words."""

from __future__ import annotations

import pytest
from essh.planner import ConfigError, make_exec_plan, make_plan
from resolve_build import FILE, config, host, task


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("parallel", 0, "parallel must be a whole number from 1 to 1,000,000, got a number (0)"),
        ("backend", "cloud", 'backend must be "remote" or "local", got a string ("cloud")'),
        ("timeout", 0.0, "timeout must be a positive number of seconds (at most 10^9), got a number (0.0)"),
        ("retries", -1, "retries must be a whole number from 0 to 1,000,000, got a number (-1)"),
    ],
)
def test_a_task_built_in_python_meets_the_loaders_rules(field, value, words):
    with pytest.raises(ConfigError) as caught:
        make_plan(config([host("h")], [task("a", **{field: value})]), ["a"], essh_version="t")
    assert str(caught.value) == f"{FILE}:10: task a: {words}"


def test_the_exec_task_meets_them_too():
    with pytest.raises(ConfigError, match="task exec: parallel must be a whole number"):
        make_exec_plan(config([host("h")]), "true", targets=["h"], parallel=0, essh_version="t")


@pytest.mark.parametrize(("load_text", "words"), [
    ("parallel = 0", "parallel must be a whole number from 1 to 1,000,000, got a number (0)"),
    ('backend = "cloud"', 'backend must be "remote" or "local", got a string ("cloud")'),
])
def test_the_loader_says_the_same(load_error, load_text, words):
    assert load_error(f'task "t" {{ {load_text}, script = "x" }}').message == f"task 't': {words}"


def test_env_names_follow_one_rule_at_load_and_at_plan(load_error):
    assert load_error('task "t" { env = { UID = "1" }, script = "x" }').message == (
        "task 't': env: 'UID' is read-only in bash, so the script could not set it"
    )
    with pytest.raises(ConfigError, match='env name "UID" is read-only in bash, so the script could not set it'):
        make_plan(config([], [task("a", env={"UID": "1"})]), ["a"], essh_version="t")


@pytest.mark.parametrize(("load_text", "words"), [
    ("max_failures = -1", "max_failures must be a whole number from 0 to 1,000,000, got a number (-1)"),
    ('max_failures = "lots"', 'max_failures must be a whole number of hosts or a percentage such as "10%", got a string ("lots")'),
    ('max_failures = "101%"', 'max_failures must be a whole number of hosts or a percentage such as "10%", got a string ("101%")'),
    ("batch = 0", "batch must be a whole number from 1 to 1,000,000, got a number (0)"),
    ('batch = {1, "0%"}', 'batch must be counts of at least 1 or percentages above 0 such as "25%", got a string ("0%")'),
    ("batch = {}", 'batch must be a size or a list of sizes (counts or percentages such as "25%"), got an empty table'),
])
def test_rolling_limits_are_checked_at_load(load_error, load_text, words):
    assert load_error(f'task "t" {{ {load_text}, script = "x" }}').message == f"task 't': {words}"


def test_rolling_limits_reach_the_plan(load):
    from essh.planner import make_plan

    cfg = load('host "h" {}\ntask "a" { targets = "h", max_failures = "10%", batch = {1, 5, "25%"}, script = "x" }\n'
               'task "b" { targets = "h", max_failures = 2, batch = 3, script = "x" }')
    plan = make_plan(cfg, ["a", "b"], essh_version="t")
    a, b = plan.tasks
    assert (a.max_failures, a.max_failures_percent, a.batch) == (None, 10.0, (1, 5, "25%"))
    assert (b.max_failures, b.max_failures_percent, b.batch) == (2, None, (3,))
