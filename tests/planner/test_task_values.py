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
