"""What runs for a step: environment precedence, quoting that survives bash, argv = command line."""

from __future__ import annotations

import shlex
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import msgspec
from plan_strategies import plans, stored_plan_generator

from essh.schema.command import delivery_of
from essh.schema import (
    BOOTSTRAPS,
    sudo_prefix,
    PlanFileInvalid,
    Step,
    decode_plan,
    encode_plan,
    encode_program,
    env_prelude,
    step_command,
    step_env,
    step_script,
    task_argv,
)

PLAN = stored_plan_generator(3).build_plan()
# Values as bash can hold them: any text without NUL.
# Prefixed: bash gives some names meaning of its own (`_`, `RANDOM`) or refuses them (`UID`, `PPID`).
_NAMES = st.from_regex(r"T_[A-Za-z0-9_]{0,8}", fullmatch=True)
_VALUES = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)


def test_later_sources_win():
    step = PLAN.steps[1]  # backup on db-1
    env = step_env(PLAN, step, extra=[("ESSH_TASK_NAME", "override"), ("ESSH_FAILED_HOSTS", "db-1")])
    assert env["ESSH_HOSTNAME"] == "db-1"
    assert env["ESSH_TASK_PROPS_KEEP"] == "7"
    assert env["ESSH_TASK_NAME"] == "override"
    assert list(env)[-1] == "ESSH_FAILED_HOSTS"
    # Host first, then task, then extra; a later value keeps the earlier place of its name.
    assert list(env)[:3] == ["ESSH_HOSTNAME", "ESSH_HOST_HOSTNAME", "ESSH_HOST_TAGS_DB"]


def test_a_local_step_without_host_has_only_the_task_environment():
    step = PLAN.steps[0]
    assert step.host is None
    assert step_env(PLAN, step) == {"ESSH_TASK_NAME": "build"}


@pytest.mark.parametrize("name", ["1A", "A-B", "", "A B", "A=B", "Ä"])
def test_invalid_variable_names_are_refused(name):
    with pytest.raises(ValueError, match="not a valid environment variable name"):
        env_prelude({name: "x"})


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_NAMES, _VALUES, min_size=1, max_size=4))
def test_exported_values_reach_bash_unchanged(env):
    names = list(env)
    script = env_prelude(env) + "".join(f'printf "%s\\0" "${name}"\n' for name in names)
    out = subprocess.run(["bash", "-c", script], capture_output=True, check=True, env={}).stdout
    assert out.decode("utf-8", "surrogateescape").split("\0")[:-1] == [env[n] for n in names]


@settings(max_examples=100)
@given(plans())
def test_the_command_line_carries_no_program(plan):
    for step in plan.steps:
        task = plan.tasks[step.task]
        delivery = delivery_of(task)
        argv = task_argv(task, delivery)
        assert shlex.split(step_command(plan, step)) == argv
        # the same fixed words for every step: nothing of its environment or script
        assert argv == [*sudo_prefix(task), *task.shell, BOOTSTRAPS[delivery]]
        assert (argv[0] == "sudo") == (task.run_as is not None)


def _run(argv, data, **kwargs):
    return subprocess.run(argv, input=data, capture_output=True, check=True, env={"PATH": "/usr/bin:/bin"}, **kwargs)


def test_the_program_runs_with_its_environment_from_stdin():
    step = PLAN.steps[1]
    plan = msgspec.structs.replace(PLAN, scripts=('echo "$ESSH_HOSTNAME:$ESSH_TASK_NAME"',), steps=())
    s = Step(step.task, step.host, 0)
    argv = task_argv(plan.tasks[s.task], "stdin")
    out = _run(argv, encode_program(step_script(plan, s), "stdin")).stdout
    assert out == b"db-1:backup\n"


@pytest.mark.parametrize("delivery", ["stdin", "terminal"])
def test_the_program_is_the_script_exactly(delivery):
    script = "set -e\nf() { printf '%s|' \"$@\"; }\nf 'a b' \"$0\" \"${__essh_program-unset}\"\ncat\nexit 3\n"
    argv = task_argv(PLAN.tasks[1], delivery)
    done = subprocess.run(argv, input=encode_program(script, delivery), capture_output=True, env={"PATH": "/usr/bin:/bin"})
    # the program's variable is gone, and its standard input is at its end (cat reads nothing)
    assert (done.returncode, done.stdout) == (3, b"a b|bash|unset|")


def test_a_plan_with_an_invalid_environment_name_is_refused_when_read():
    host = msgspec.structs.replace(PLAN.hosts[0], env=(("NOT VALID", "x"),))
    plan = msgspec.structs.replace(PLAN, hosts=(host, *PLAN.hosts[1:]))
    with pytest.raises(PlanFileInvalid, match=r"\$\.hosts\[0\]\.env"):
        decode_plan(encode_plan(plan))


def test_env_value_problem_names_what_a_shell_variable_cannot_hold():
    from essh.schema.command import env_value_problem

    assert env_value_problem("plain ascii, quotes ' \" and $vars") is None
    assert env_value_problem("ünïcode and \udc80 an undecodable byte kept by surrogateescape") is None
    assert "NUL" in env_value_problem("a\0b")
    assert "cannot be encoded" in env_value_problem("lone \ud800 surrogate")
