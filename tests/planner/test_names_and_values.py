"""Task names hold nothing a terminal or a log would act on; env and prop values hold nothing bash cannot."""

from __future__ import annotations

import pytest
from essh.planner import ConfigError, make_plan
from essh.planner.names import check_host_name, check_task_name
from essh.planner.model import Source
from hypothesis import given
from hypothesis import strategies as st

HERE = Source("config.lua", 3)


@pytest.mark.parametrize(
    "lua_name",
    ["deploy\\nnow", "red\\27[31m", "\\u{202E}kcatta", "c1\\u{85}", "csi\\u{9B}31m", "tab\\tbed"],
)
def test_a_task_name_with_control_bidi_or_escape_characters_is_refused(load_error, lua_name):
    error = load_error(f'task "{lua_name}" {{ script = "true" }}')
    assert "a task name cannot be empty or contain control, bidi or escape characters" in error.message
    assert error.source is not None and error.source.line == 1


def test_a_task_name_may_hold_spaces_and_any_printable_text(load):
    assert list(load('task "deploy web (blue) — ünïcode" { script = "true" }').tasks) == [
        "deploy web (blue) — ünïcode"
    ]


@given(st.text(max_size=12))
def test_host_and_task_names_follow_one_rule(name):
    """A host name is a task name without spaces: one rule, `str.isprintable`."""
    task_ok = host_ok = True
    try:
        check_task_name(name, HERE)
    except ConfigError:
        task_ok = False
    try:
        check_host_name(name, HERE)
    except ConfigError:
        host_ok = False
    assert task_ok == (bool(name) and name.isprintable())
    assert host_ok == (task_ok and not any(c.isspace() for c in name))


@pytest.mark.parametrize(
    ("definition", "blamed_line", "words"),
    [
        ('host "h" { props = { rack = "a\\0b" } }\ntask "t" { targets = "h", script = "true" }', 1,
         "host h: the value of ESSH_HOST_PROPS_RACK contains a NUL"),
        ('host "h" {}\n\ntask "t" { targets = "h", props = { v = "1\\0" }, script = "true" }', 3,
         "task t: the value of ESSH_TASK_PROPS_V contains a NUL"),
        ('host "h" {}\n\ntask "t" { targets = "h", env = { MODE = "\\0" }, script = "true" }', 3,
         "task t: the value of MODE contains a NUL"),
    ],
)
def test_a_nul_in_a_prop_or_env_value_is_a_config_error_at_plan_time(load, definition, blamed_line, words):
    config = load(definition)  # loads: the value is only wrong for a shell
    with pytest.raises(ConfigError) as caught:
        make_plan(config, ["t"], essh_version="t")
    assert caught.value.source.line == blamed_line
    assert words in caught.value.message


def test_a_nul_set_by_prepare_is_caught_too(load):
    config = load(
        """
        host "h" {}
        task "t" {
            targets = "h", script = "true",
            prepare = function(t) t.props = { v = "x\\0y" } end,
        }
        """
    )
    with pytest.raises(ConfigError, match="task t: the value of ESSH_TASK_PROPS_V contains a NUL"):
        make_plan(config, ["t"], essh_version="t")
