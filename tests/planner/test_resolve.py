"""Resolution of a Config and a request into a Plan (planner/resolve.py and friends)."""

from __future__ import annotations

import pytest
from essh.planner import ConfigError, make_exec_plan, make_plan
from essh.schema import encode_plan, step_script
from essh.schema.ssh_options import APPLIED_SSH_OPTIONS
from hypothesis import given, settings
from hypothesis import strategies as st
from resolve_build import FILE, config, driver, host, round_trip, task

WEB = [host("web-2", "web"), host("web-1", "web", "prod"), host("db-1", "db", "prod")]


def plan_of(tasks, requested=(), args=(), hosts=WEB, drivers=()):
    return round_trip(make_plan(config(hosts, tasks, drivers), requested, args, created_at=7, essh_version="9.9"))


def test_meta_records_the_request_and_the_files():
    plan = plan_of([task("a")], ["a"], ["x", "y"])
    meta = plan.meta
    assert (meta.essh_version, meta.created_at, meta.lua_version) == ("9.9", 7, "Lua 5.4")
    assert [(f.path, f.sha256) for f in meta.config_files] == [(FILE, "ab" * 32)]
    assert (meta.requested, meta.args, meta.warnings) == (("a",), ("x", "y"), ())


def test_created_at_defaults_to_now():
    plan = make_plan(config(tasks=[task("a")]), ["a"], essh_version="t")
    assert plan.meta.created_at > 1_600_000_000


def test_same_inputs_give_identical_bytes():
    tasks = [task("a", targets=["web"], props={"b": "2", "a": "1"}, env={"Z": "1", "A": "2"}), task("b", depends=["a"])]
    first = encode_plan(make_plan(config(WEB, tasks), ["b"], ["q"], created_at=1, essh_version="v"))
    again = encode_plan(make_plan(config(list(reversed(WEB)), tasks), ["b"], ["q"], created_at=1, essh_version="v"))
    assert first == again


def test_remote_steps_one_per_host_sorted_and_only_used_hosts_in_the_plan():
    plan = plan_of([task("a", targets=["web"])], ["a"])
    assert [h.name for h in plan.hosts] == ["web-1", "web-2"]
    assert [(s.task, plan.hosts[s.host].name) for s in plan.steps] == [(0, "web-1"), (0, "web-2")]
    assert plan.tasks[0].backend == "remote" and plan.tasks[0].requested


def test_a_task_without_targets_runs_once_locally():
    plan = plan_of([task("a")], ["a"])
    assert plan.tasks[0].backend == "local"
    assert [(s.host, s.prefix) for s in plan.steps] == [(None, None)]
    assert plan.hosts == ()


def test_a_local_task_with_targets_runs_once_per_host_with_its_env():
    plan = plan_of([task("a", targets=["web"], backend="local")], ["a"])
    assert plan.tasks[0].backend == "local"
    assert [plan.hosts[s.host].name for s in plan.steps] == ["web-1", "web-2"]
    assert [s.prefix for s in plan.steps] == ["[local:web-1]", "[local:web-2]"]
    assert "export ESSH_HOSTNAME=web-1\n" in step_script(plan, plan.steps[0])


def test_a_remote_task_selecting_no_host_names_task_patterns_and_place():
    with pytest.raises(ConfigError) as err:
        plan_of([task("a", targets=["web-*", "web-2"], filters=["db"], line=12)], ["a"])
    assert str(err.value) == f"{FILE}:12: task a: targets web-*, web-2 filtered by db select no host"


def test_a_remote_task_without_targets_is_refused():
    with pytest.raises(ConfigError, match="backend is remote but no targets are set"):
        plan_of([task("a", backend="remote")], ["a"])


def test_filters_without_targets_are_refused():
    with pytest.raises(ConfigError, match="has filters but no targets"):
        plan_of([task("a", filters=["prod"])], ["a"])


def test_no_task_named_runs_default_or_lists_the_tasks():
    assert [t.name for t in plan_of([task("x"), task("default")]).tasks] == ["default"]
    with pytest.raises(ConfigError, match='no task "default" is defined; tasks: x, y'):
        plan_of([task("y"), task("x")])


def test_composites_have_no_steps():
    plan = plan_of([task("a"), task("all-of-it", None, depends=["a"], targets=["web"])], ["all-of-it"])
    assert [(t.name, t.role, t.after) for t in plan.tasks] == [("a", "task", ()), ("all-of-it", "composite", (0,))]
    assert [s.task for s in plan.steps] == [0]


def test_environment_of_hosts_and_tasks():
    h = host(
        "web-1.example",
        "front-end",
        "prod",
        ssh_options=[("HostName", "10.0.0.1"), ("Port", "2222"), ("IdentityFile", "a"), ("IdentityFile", "b")],
        props={"rack": "r1", "os-name": "debian"},
    )
    t = task("deploy", targets=["web-1.example"], props={"version": "1.2", "x.y": "z"}, env={"MODE": "fast"})
    plan = plan_of([t], ["deploy"], ["first", "second"], hosts=[h])
    assert dict(plan.hosts[0].env) == {
        "ESSH_HOSTNAME": "web-1.example",
        "ESSH_HOST_HOSTNAME": "web-1.example",  # the host's name, as ESSH sets it
        "ESSH_HOST_SSH_HOSTNAME": "10.0.0.1",
        "ESSH_HOST_SSH_PORT": "2222",
        "ESSH_HOST_SSH_IDENTITYFILE": "b",
        "ESSH_HOST_TAGS_FRONT_END": "1",
        "ESSH_HOST_TAGS_PROD": "1",
        "ESSH_HOST_PROPS_RACK": "r1",
        "ESSH_HOST_PROPS_OS_NAME": "debian",
    }
    assert list(plan.hosts[0].env) == sorted(plan.hosts[0].env)
    assert plan.tasks[0].env == (
        ("ESSH_TASK_NAME", "deploy"),
        ("ESSH_TASK_PROPS_VERSION", "1.2"),
        ("ESSH_TASK_PROPS_X_Y", "z"),
        ("ESSH_TASK_ARGS_1", "first"),
        ("ESSH_TASK_ARGS_2", "second"),
        ("MODE", "fast"),
    )
    assert plan.hosts[0].ssh_options == (("HostName", "10.0.0.1"), ("IdentityFile", "a"), ("IdentityFile", "b"), ("Port", "2222"))


def test_host_hostname_is_the_name():
    plan = plan_of([task("a", targets=["db-1"])], ["a"])
    assert ("ESSH_HOST_HOSTNAME", "db-1") in plan.hosts[0].env


def test_an_invalid_env_name_is_a_config_error():
    with pytest.raises(ConfigError, match='env name "MY-VAR" is not a valid variable name'):
        plan_of([task("a", env={"MY-VAR": "1"})], ["a"])


def test_shells_for_privileged_and_user():
    # ESSH runs them as `sudo -u USER bash -l -c SCRIPT`: a login shell, reading that user's profile.
    plan = plan_of([task("p", privileged=True), task("u", user="deploy"), task("n")], ["p", "u", "n"])
    assert [(t.run_as, t.shell) for t in plan.tasks] == [
        ("root", ("bash", "-l", "-c")),
        ("deploy", ("bash", "-l", "-c")),
        (None, ("bash", "-c")),
    ]


def test_parallel_and_the_copied_options():
    tasks = [
        task("s", parallel=False, pty=True, timeout=5, retries=2, hidden=True, description="d", props={"k": "v"}),
        task("p", parallel=True),
        task("n", parallel=3),
    ]
    plan = plan_of(tasks, ["s", "p", "n"])
    s = plan.tasks[0]
    assert [t.parallel for t in plan.tasks] == [1, 0, 3]
    assert (s.pty, s.timeout, s.retries, s.hidden, s.description, s.props) == (True, 5.0, 2, True, "d", (("k", "v"),))
    assert s.defined_at is not None and str(s.defined_at) == f"{FILE}:10"


@pytest.mark.parametrize("bad", [{"parallel": 0}, {"parallel": -2}, {"timeout": 0}, {"retries": -1}, {"backend": "ssh"}])
def test_bad_option_values_are_config_errors(bad):
    with pytest.raises(ConfigError, match="task a: "):
        plan_of([task("a", **bad)], ["a"])


def test_prefix_rules():
    tasks = [
        task("auto-many", targets=["web"]),
        task("auto-one", targets=["db-1"]),
        task("on-one", targets=["db-1"], prefix=True),
        task("off-many", targets=["web"], prefix=False),
        task("on-local", prefix=True),
    ]
    plan = plan_of(tasks, [t.name for t in tasks])
    by_task = {}
    for s in plan.steps:
        by_task.setdefault(plan.tasks[s.task].name, []).append(s.prefix)
    assert by_task == {
        "auto-many": ["[remote:web-1]", "[remote:web-2]"],
        "auto-one": [None],
        "on-one": ["[remote:db-1]"],
        "off-many": [None, None],
        "on-local": ["[local]"],
    }


def test_built_in_driver_joins_the_parts_and_identical_scripts_are_stored_once():
    tasks = [task("a", ["echo a", "echo b"], targets=["web"]), task("b", ["echo a", "echo b"]), task("c", "echo c")]
    plan = plan_of(tasks, ["a", "b", "c"])
    assert plan.scripts == ("echo a\necho b\n", "echo c\n")
    assert [s.script for s in plan.steps] == [0, 0, 0, 1]


def test_script_file_is_read_once_the_digest_and_the_script_from_the_same_bytes(tmp_path):
    import hashlib

    from essh.planner.loader import load_config

    job = tmp_path / "job.sh"
    job.write_text("echo reviewed\n")
    (tmp_path / "config.lua").write_text('task "a" { script_file = "job.sh" }')
    config = load_config([str(tmp_path / "config.lua")])
    job.write_text("echo swapped in after loading\n")  # where the planner used to read it again
    plan = make_plan(config, ["a"], essh_version="t")
    assert plan.scripts == ("echo reviewed\n\n",)
    digests = {f.path: f.sha256 for f in plan.meta.config_files}
    assert digests[str(job)] == hashlib.sha256(b"echo reviewed\n").hexdigest()


def test_unknown_driver_names_the_closest():
    with pytest.raises(ConfigError, match='uses driver "mydriver", which is not defined; did you mean "my_driver"'):
        plan_of([task("a", driver="mydriver")], ["a"], drivers=[driver("my_driver", "x")])


def test_handler_tasks_follow_the_tasks_and_run_on_the_failing_hosts():
    tasks = [
        task("deploy", targets=["web"], on_error="rollback"),
        task("notify", on_error="alert"),
        task("rollback", "undo", targets=["web"]),
        task("alert", "mail"),
    ]
    plan = plan_of(tasks, ["deploy", "notify"])
    assert [(t.name, t.role, t.on_error, t.handler, t.handles, t.after) for t in plan.tasks] == [
        ("deploy", "task", "handler", 2, None, ()),
        ("notify", "task", "handler", 3, None, (0,)),
        ("rollback", "handler", "stop", None, 0, ()),
        ("alert", "handler", "stop", None, 1, ()),
    ]
    handler_steps = [(s.task, s.host) for s in plan.steps if s.task >= 2]
    assert handler_steps == [(2, 0), (2, 1), (3, None)]
    assert ("ESSH_FAILED_TASK", "deploy") in plan.tasks[2].env


def test_an_unknown_handler_names_the_closest_task():
    with pytest.raises(ConfigError, match='task a has on_error "rolback", which is not defined; did you mean "rollback"'):
        plan_of([task("a", on_error="rolback"), task("rollback")], ["a"])


def test_on_error_modes_are_copied():
    plan = plan_of([task("a", on_error="continue"), task("b")], ["a", "b"])
    assert [t.on_error for t in plan.tasks] == ["continue", "stop"]


def test_prepare_false_is_a_plan_error_as_essh_stops_there():
    seen = []

    def refuse(ctx):
        seen.append(ctx)
        return False

    tasks = [task("a"), task("b", depends=["a"], prepare=refuse, targets=["web"]), task("c", depends=["b"])]
    with pytest.raises(ConfigError, match="task b: its prepare function returned false"):
        plan_of(tasks, ["c"], ["arg"])
    assert seen[0]["task"]["name"] == "b" and seen[0]["task"]["targets"] == ["web"] and seen[0]["args"] == ["arg"]


def test_prepare_may_change_targets_and_keeps_the_task():
    def narrow(ctx):
        ctx["task"]["targets"] = "db-1"

    plan = plan_of([task("a", targets=["web"], prepare=narrow)], ["a"])
    assert [h.name for h in plan.hosts] == ["db-1"]


def test_prepare_errors_name_the_task():
    def broken(ctx):
        raise RuntimeError("boom")

    with pytest.raises(ConfigError, match="task a: prepare failed: boom"):
        plan_of([task("a", prepare=broken)], ["a"])


def test_ssh_options_essh_does_not_apply_are_warned_about_once_per_used_host():
    hosts = [
        host("web-1", ssh_options=[("LocalForward", "8080 localhost:80"), ("LogLevel", "ERROR"), ("port", "22"), ("HostName", "h")]),
        host("web-2", ssh_options=[("Foo", "x")]),
    ]
    plan = plan_of([task("a", targets=["web-1"])], ["a"], hosts=hosts)
    assert plan.meta.warnings == ("host web-1: SSH option LocalForward is not applied by essh",)
    assert "StrictHostKeyChecking" in APPLIED_SSH_OPTIONS


def test_exec_plans_a_one_off_task():
    plan = round_trip(
        make_exec_plan(config(WEB), "uptime", targets=["web"], parallel=True, created_at=0, essh_version="t")
    )
    assert [(t.name, t.backend, t.parallel, t.requested) for t in plan.tasks] == [("exec", "remote", 0, True)]
    assert plan.scripts == ("uptime\n",)
    assert [s.prefix for s in plan.steps] == ["[remote:web-1]", "[remote:web-2]"]
    local = make_exec_plan(config(WEB), "date", targets=[], backend="local", created_at=0, essh_version="t")
    assert [(s.host, s.prefix) for s in local.steps] == [(None, None)]
    with pytest.raises(ConfigError, match="needs --target"):
        make_exec_plan(config(WEB), "date", targets=[], created_at=0, essh_version="t")


@pytest.mark.parametrize(
    ("engine", "script"),
    [
        ('{{template "environment" .}}\nset -e\n', "\nset -e\n"),
        ('  {{- template "environment" . -}}\n\nset -e', "set -e"),
        ('a\n{{template "environment" . -}}\n  b', "a\nb"),
    ],
)
def test_the_environment_template_renders_to_nothing_honouring_trims(engine, script):
    plan = plan_of([task("a", targets=["web"], driver="d")], ["a"], drivers=[driver("d", engine)])
    assert plan.scripts == (script,)


def test_a_custom_driver_renders_once_per_task_unless_it_mentions_the_host():
    per_task = driver("plain", '{{template "environment" .}}{{range .Scripts}}run {{.code}}\n{{end}}')
    per_host = driver("hosty", "{{range .Scripts}}{{.code}} # {{$.Host.Name}} {{$.Task.Name}}\n{{end}}")
    tasks = [task("a", ["x", "y"], targets=["web"], driver="plain"), task("b", "z", targets=["web"], driver="hosty")]
    plan = plan_of(tasks, ["a", "b"], drivers=[per_task, per_host])
    assert plan.scripts == ("run x\nrun y\n", "z # web-1 b\n", "z # web-2 b\n")
    assert [s.script for s in plan.steps] == [0, 0, 1, 2]


def test_driver_default_replaces_the_built_in_one():
    plan = plan_of([task("a", "x")], ["a"], drivers=[driver("default", "{{range .Scripts}}>{{.code}}\n{{end}}")])
    assert plan.scripts == (">x\n",)


def test_a_prefix_template_is_rendered_per_host():
    plan = plan_of([task("a", targets=["web"], prefix="{{.Host.Name}} |")], ["a"])
    assert [s.prefix for s in plan.steps] == ["web-1 |", "web-2 |"]


# Property: any configuration that plans gives a valid, ordered, reproducible plan.

_HOST_NAMES = ["a-1", "a-2", "b-1", "b-2", "c"]
_TAGS = ["red", "blue"]


@st.composite
def configs(draw):
    hosts = [host(n, *draw(st.lists(st.sampled_from(_TAGS), unique=True))) for n in _HOST_NAMES]
    names = [f"t{i}" for i in range(draw(st.integers(1, 6)))]
    tasks = []
    for i, name in enumerate(names):
        tasks.append(
            task(
                name,
                draw(st.sampled_from(["echo x", "echo y", None])) if i else "echo x",
                depends=draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=2)) if i else [],
                targets=draw(st.lists(st.sampled_from(["all", "a-*", "red", "blue", "c", "?-2"]), max_size=2)),
                parallel=draw(st.sampled_from([False, True, 2])),
                on_error=draw(st.sampled_from(["stop", "continue", "h"])),
                prefix=draw(st.sampled_from([None, True, False])),
            )
        )
    tasks.append(task("h", "echo failed", backend=draw(st.sampled_from(["local", "remote"]))))
    return config(hosts, tasks), draw(st.lists(st.sampled_from(names), min_size=1, max_size=3))


@settings(max_examples=200, deadline=None)
@given(configs(), st.lists(st.sampled_from(["1", "two"]), max_size=2))
def test_every_plannable_config_gives_a_valid_ordered_reproducible_plan(cfg_request, args):
    cfg, request = cfg_request
    try:
        plan = make_plan(cfg, request, args, created_at=3, essh_version="t")
    except ConfigError as exc:
        assert any(words in str(exc) for words in ("select no host", "matches no host name or tag", "runs on none"))
        return
    round_trip(plan)
    assert encode_plan(plan) == encode_plan(make_plan(cfg, request, args, created_at=3, essh_version="t"))
    keys = [(s.task, -1 if s.host is None else s.host) for s in plan.steps]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert [h.name for h in plan.hosts] == sorted({plan.hosts[s.host].name for s in plan.steps if s.host is not None})
    roles = [t.role for t in plan.tasks]
    assert roles == sorted(roles, key=lambda r: r == "handler"), "handlers come last"
    for i, t in enumerate(plan.tasks):
        has_steps = any(s.task == i for s in plan.steps)
        assert has_steps == (t.role != "composite")


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ([task("a", on_error="h"), task("h", on_error="g"), task("g")], "cannot have a handler of its own"),
        ([task("a", on_error="h"), task("h", None)], "is an on_error handler and needs a script"),
        ([task("a", on_error="h"), task("h", targets=["web"])], "handles failures on hosts but task a runs on none"),
    ],
)
def test_handler_mistakes_are_config_errors(tasks, message):
    with pytest.raises(ConfigError, match=message):
        plan_of(tasks, ["a"])


def test_a_numeric_parallel_on_a_composite_is_warned_about():
    plan = plan_of([task("a"), task("b"), task("g", None, depends=["a", "b"], parallel=2)], ["g"])
    assert [t.after for t in plan.tasks] == [(), (), (0, 1)]
    assert plan.meta.warnings == ("task g: parallel = 2 runs its depends together without a limit",)


def test_a_prefix_template_without_the_host_is_the_same_everywhere_and_a_local_step_without_a_host_is_local():
    plan = plan_of([task("a", targets=["web"], prefix="{{.Task.Name}}:")], ["a"])
    assert [s.prefix for s in plan.steps] == ["a:", "a:"]
    # As ESSH: a local step without a host is `[local]`, whatever the prefix template says.
    assert [s.prefix for s in plan_of([task("a", prefix="{{.Host.Name}}")], ["a"]).steps] == ["[local]"]
    with pytest.raises(ConfigError, match="task a: cannot render its prefix"):
        plan_of([task("a", targets=["web"], prefix="{{Add .Host.Name 1}}")], ["a"])


def test_env_names_bash_will_not_set_are_refused():
    with pytest.raises(ConfigError, match='env name "UID" is read-only in bash'):
        plan_of([task("a", env={"UID": "0"})], ["a"])


def test_a_script_with_a_nul_byte_is_refused():
    with pytest.raises(ConfigError, match="task a: its script contains a NUL byte"):
        plan_of([task("a", "echo a\0b")], ["a"])


def test_a_bastion_named_by_proxyjump_comes_along_into_the_plan():
    hosts = [
        host("bastion", ssh_options=[("HostName", "b.example")]),
        host("web-1", ssh_options=[("ProxyJump", "bastion")]),
        host("web-2", ssh_options=[("ProxyJump", "user@elsewhere:22")]),
    ]
    plan = plan_of([task("a", targets=["web-*"])], ["a"], hosts=hosts)
    assert [h.name for h in plan.hosts] == ["bastion", "web-1", "web-2"]
    assert sorted(plan.hosts[s.host].name for s in plan.steps) == ["web-1", "web-2"]


def test_a_proxyjump_loop_is_refused_at_the_hosts_definition():
    hosts = [
        host("web", "web", line=3, ssh_options=[("ProxyJump", "bastion-a")]),
        host("bastion-a", line=5, ssh_options=[("ProxyJump", "bastion-b")]),
        host("bastion-b", line=7, ssh_options=[("ProxyJump", "bastion-a")]),
    ]
    with pytest.raises(ConfigError) as caught:
        plan_of([task("a", targets=["web"])], ["a"], hosts=hosts)
    assert str(caught.value) == f"{FILE}:5: host bastion-a: its ProxyJump hosts loop back: bastion-a -> bastion-b -> bastion-a"


def test_a_proxyjump_chain_without_a_loop_brings_its_jump_hosts_into_the_plan():
    hosts = [
        host("web", "web", ssh_options=[("ProxyJump", "inner")]),
        host("inner", ssh_options=[("ProxyJump", "outer")]),
        host("outer", ssh_options=[("ProxyJump", "deploy@outer:2222")]),  # not a plan host: passed to SSH
    ]
    plan = plan_of([task("a", targets=["web"])], ["a"], hosts=hosts)
    assert [h.name for h in plan.hosts] == ["inner", "outer", "web"]
