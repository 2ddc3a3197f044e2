"""Resolution from real Lua: the seed's examples (golden/seed.lua), ESSH's documented forms,
prepare functions and driver engines written in Lua (loader + resolve)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from resolve_build import round_trip

from essh.planner import ConfigError, load_config, make_plan
from essh.schema import encode_plan, step_script

CONFIG = """\
host "web-1" { HostName = "10.0.0.1", tags = ["web", "production"] }
host "web-prod" { tags = {"web", "production"} }
host "db-1" { tags = {"db"}, props = { role = "primary" } }
task "build" { script = "make" }
task "backup" { script = "tar cf /tmp/b.tar /srv" }

task "narrow" {
    prepare = function (ctx) ctx.task.targets = "db" end,
    targets = "web",
    script = "echo $ESSH_HOSTNAME",
}
task "essh-style" {
    prepare = function (t) t.targets = "db-1" end,
    targets = "web",
    script = "echo $ESSH_HOSTNAME",
}
task "skip" {
    prepare = function (ctx) return #ctx.args > 0 end,
    script = "echo only with arguments",
}
task "uses-skip" { depends = {"build", "skip"}, script = "echo after" }

driver "steps" {
    engine = function (driver) return [=[{{template "environment" .}}
set -e
{{range $i, $script := .Scripts}}echo '==> step {{$i}} on {{$.Host.Name}}'
{{$script.code}}
{{end}}]=] end,
}
task "driven" { driver = "steps", targets = "web", script = {"echo a", "echo b"} }
"""


SEED = Path(__file__).parent / "golden" / "seed.lua"  # the seed's examples as written


@pytest.fixture(scope="module")
def seed():
    return load_config([str(SEED)])


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    path = tmp_path_factory.mktemp("lua") / "esshconfig.lua"
    path.write_text(CONFIG)
    return load_config([str(path)])


def plan(cfg, *tasks, args=()):
    return round_trip(make_plan(cfg, list(tasks), args, created_at=0, essh_version="t"))


def steps(p):
    return [(p.tasks[s.task].name, None if s.host is None else p.hosts[s.host].name) for s in p.steps]


def test_seed_update_selects_by_glob(seed):
    p = plan(seed, "update")
    assert steps(p) == [("update", "web-1"), ("update", "web-prod")]
    assert p.scripts == ("        sudo apt update\n        sudo apt upgrade -y\n    \n",)
    assert str(p.tasks[0].defined_at).endswith("seed.lua:10")


def test_seed_deploy_is_a_composite_running_its_depends_in_order(seed):
    p = plan(seed, "deploy")
    assert [(t.name, t.role, t.after) for t in p.tasks] == [
        ("build", "task", ()),
        ("backup", "task", (0,)),
        ("deploy", "composite", (1,)),
    ]


def test_seed_check_status_runs_everywhere_in_parallel(seed):
    p = plan(seed, "check-status")
    assert p.tasks[0].parallel == 0
    assert steps(p) == [("check-status", "db-1"), ("check-status", "web-1"), ("check-status", "web-prod")]
    assert [s.prefix for s in p.steps] == ["[remote:db-1]", "[remote:web-1]", "[remote:web-prod]"]


def test_prepare_written_in_lua_can_narrow_the_targets_both_ways(cfg):
    assert steps(plan(cfg, "narrow")) == [("narrow", "db-1")]
    assert steps(plan(cfg, "essh-style")) == [("essh-style", "db-1")]


def test_prepare_returning_false_stops_planning_as_essh_stops_its_run(cfg):
    # ESSH: "returned false from the prepare function." ends the run; essh: a plan error (exit 2), nothing runs.
    with pytest.raises(ConfigError, match="task skip: its prepare function returned false") as caught:
        plan(cfg, "uses-skip")
    assert caught.value.source is not None and caught.value.source.line == 17  # the task "skip" block
    p = plan(cfg, "uses-skip", args=["go"])
    assert [t.name for t in p.tasks] == ["build", "skip", "uses-skip"]
    assert ("ESSH_TASK_ARGS_1", "go") in p.tasks[1].env


def test_the_whole_request_plans_identically_twice(tmp_path):
    path = tmp_path / "esshconfig.lua"
    path.write_text(CONFIG)
    request = ["uses-skip", "narrow", "essh-style", "driven"]
    first, second = (make_plan(load_config([str(path)]), request, ["go"], created_at=5, essh_version="t") for _ in range(2))
    assert encode_plan(first) == encode_plan(second)


def test_a_custom_driver_renders_per_host_after_the_environment(cfg):
    p = plan(cfg, "driven")
    assert len(p.scripts) == 2  # the template mentions .Host, so one text per host
    full = step_script(p, p.steps[0])
    assert full.startswith("export ESSH_HOSTNAME=web-1\n")
    assert full.endswith(textwrap.dedent("""\
        set -e
        echo '==> step 0 on web-1'
        echo a
        echo '==> step 1 on web-1'
        echo b
        """))


ESSH_DOCS = '''\
host "web-1" { HostName = "192.168.0.11", tags = { "web", "production" } }
host "web-2" { HostName = "192.168.0.12", tags = { "web", "staging" } }

-- tasks.md
task "example" {
    description = "example task",
    targets = { "web" },
    filters = { "production" },
    backend = "local",
    parallel = true,
    prefix = true,
    script = { "echo foo", "echo bar" },
}

-- drivers.md
driver "my_driver" {
    engine = [=[
        {{template "environment" .}}

        set -e
        {{range $i, $script := .Scripts -}}
        echo '==> step {{$i}}:{{if $script.description}} {{$script.description}}{{end}}'
        {
            {{$script.code}}
        } | indent; __essh_exit_status=${PIPESTATUS[0]}
        {{end}}
    ]=],
}

task "driven" {
    driver = "my_driver",
    script = {
        { description = "output aaa", code = "echo aaa" },
        { description = "output bbb", code = "echo bbb" },
    },
}
'''


def test_essh_documented_examples_plan(tmp_path):
    path = tmp_path / "esshconfig.lua"
    path.write_text(ESSH_DOCS)
    p = round_trip(make_plan(load_config([str(path)]), ["example", "driven"], created_at=0, essh_version="t"))
    assert steps(p) == [("example", "web-1"), ("driven", None)]
    assert (p.tasks[0].backend, p.tasks[0].parallel, p.steps[0].prefix) == ("local", 0, "[local:web-1]")
    assert p.scripts[0] == "echo foo\necho bar\n"
    driven = p.scripts[1]
    assert "{{" not in driven and "export" not in driven
    assert "echo '==> step 0: output aaa'" in driven and "echo '==> step 1: output bbb'" in driven
    assert driven.index("echo aaa") < driven.index("echo bbb")
