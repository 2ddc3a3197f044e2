"""The loader's DSL: hosts, tasks, drivers, groups, the essh table, require, several files."""

from __future__ import annotations

from essh.planner.loader import load_config
from essh.planner.model import ScriptPart, Source


def test_host_ssh_options_are_stringified_and_sorted(load, write):
    config = load(
        """
        host "web01" {
            User = "deploy",
            Port = 2222,
            ForwardAgent = true,
            Compression = false,
            LocalForward = {"8080 localhost:80", "8443 localhost:443"},
            HostName = "192.168.0.11",
            ServerAliveInterval = 1.5,
        }
        """
    )
    assert config.hosts["web01"].ssh_options == [
        ("Compression", "no"),
        ("ForwardAgent", "yes"),
        ("HostName", "192.168.0.11"),
        ("LocalForward", "8080 localhost:80"),
        ("LocalForward", "8443 localhost:443"),
        ("Port", "2222"),
        ("ServerAliveInterval", "1.5"),
        ("User", "deploy"),
    ]
    assert config.hosts["web01"].defined_at == Source(write("config.lua", ""), 2)


def test_host_essh_properties(load):
    host = load(
        """
        host "web01" {
            description = "web server",
            hidden = true,
            tags = {"web", "production", "web"},
            props = {role = "frontend", weight = 3, canary = false},
        }
        """
    ).hosts["web01"]
    assert host.description == "web server"
    assert host.hidden is True
    assert host.tags == ["web", "production"]
    assert host.props == {"canary": "false", "role": "frontend", "weight": "3"}


def test_hosts_come_out_in_name_order_and_tasks_in_definition_order(load):
    config = load(
        """
        host "b" {}
        host "a" {}
        host "c" {}
        task "zeta" { script = "z" }
        task "alpha" { script = "a" }
        """
    )
    assert list(config.hosts) == ["a", "b", "c"]
    assert list(config.tasks) == ["zeta", "alpha"]


def test_function_form_object_form_and_aliases(load):
    config = load(
        """
        host("a", { HostName = "1.1.1.1" })
        local b = host "b"
        b.HostName = "2.2.2.2"
        b.tags = {"web"}
        essh.host "c" { HostName = "3.3.3.3" }
        private_host "d" { HostName = "4.4.4.4" }
        task("t1", { script = "one" })
        local t2 = essh.task "t2"
        t2.script = "two"
        t2.targets = "web"
        essh.driver "d1" { engine = "x" }
        """
    )
    assert [h.ssh_options for h in config.hosts.values()] == [
        [("HostName", "1.1.1.1")], [("HostName", "2.2.2.2")], [("HostName", "3.3.3.3")], [("HostName", "4.4.4.4")]
    ]
    assert config.hosts["b"].tags == ["web"]
    assert config.hosts["d"].private and not config.hosts["a"].private
    assert config.tasks["t2"].script == [ScriptPart("two")] and config.tasks["t2"].targets == ["web"]
    assert config.tasks["t1"].script == [ScriptPart("one")]
    assert config.drivers["d1"].engine({}) == "x"


def test_object_name_is_readable(load):
    config = load(
        """
        local h = host "web01" {}
        essh.debug(h.name)
        """
    )
    assert config.notices == ["web01"]


def test_every_task_field(load, write):
    write("scripts/deploy.sh", "echo deploying\n")
    task = load(
        """
        task "deploy" {
            description = "Deploy",
            script_file = "scripts/deploy.sh",
            targets = {"web-*", "db"},
            filters = "production",
            backend = "remote",
            driver = "mine",
            depends = {"build", "test"},
            parallel = 5,
            prefix = "[{{.Host.Name}}]",
            props = {version = 2},
            env = {APP_ENV = "prod", DEBUG = false},
            privileged = true,
            user = "www",
            pty = true,
            hidden = true,
            on_error = "rollback",
            timeout = 30,
            retries = 2,
        }
        """
    ).tasks["deploy"]
    assert task.script == [ScriptPart("echo deploying\n")]
    assert task.script_file == write("scripts/deploy.sh", "echo deploying\n")
    assert task.targets == ["web-*", "db"] and task.filters == ["production"]
    assert task.backend == "remote" and task.driver == "mine" and task.depends == ["build", "test"]
    assert task.parallel == 5 and task.prefix == "[{{.Host.Name}}]"
    assert task.props == {"version": "2"} and task.env == {"APP_ENV": "prod", "DEBUG": "false"}
    assert task.privileged and task.user == "www" and task.pty and task.hidden
    assert task.on_error == "rollback" and task.timeout == 30.0 and task.retries == 2


def test_task_defaults(load):
    task = load('task "t" {}').tasks["t"]
    assert task.script == [] and task.targets == [] and task.backend is None and task.prefix is None
    assert task.parallel is False and task.on_error == "stop" and task.timeout is None and task.prepare is None


def test_script_forms(load):
    config = load(
        """
        task "text" { script = [[
        echo a
        ]] }
        task "list" { script = {"echo a", "echo b"} }
        task "parts" { script = {{code = "echo a", description = "say a"}, {code = "echo b"}, "echo c"} }
        task "flags" { parallel = true, prefix = false }
        """
    )
    assert config.tasks["text"].script == [ScriptPart("echo a\n")]
    assert config.tasks["list"].script == [ScriptPart("echo a"), ScriptPart("echo b")]
    assert config.tasks["parts"].script == [ScriptPart("echo a", "say a"), ScriptPart("echo b"), ScriptPart("echo c")]
    assert config.tasks["flags"].parallel is True and config.tasks["flags"].prefix is False


def test_script_file_is_recorded_with_its_digest(load, write):
    import hashlib

    path = write("run.sh", "uptime\n")
    config = load('task "t" { script_file = "run.sh" }')
    assert (path, hashlib.sha256(b"uptime\n").hexdigest()) in [(f.path, f.sha256) for f in config.files]


def test_disabled_task_is_dropped(load):
    config = load('task "old" { disabled = true, script = "x" }\ntask "new" { disabled = false }')
    assert list(config.tasks) == ["new"]


def test_later_definition_replaces_the_earlier_and_keeps_its_place(load):
    config = load(
        """
        task "a" { script = "first", hidden = true }
        task "b" { script = "b" }
        task "a" { script = "second" }
        """
    )
    assert list(config.tasks) == ["a", "b"]
    assert config.tasks["a"].script == [ScriptPart("second")] and not config.tasks["a"].hidden
    assert config.tasks["a"].defined_at.line == 4


def test_group_defaults_apply_and_members_win(load, write):
    config = load(
        """
        group {
            User = "kohkimakimoto",
            tags = {"web"},
            host "web01" {},
            host "web02" { User = "other" },
        }
        group {
            hidden = true,
            targets = {"web"},
            task "a" { script = "a" },
            task "b" { hidden = false, script = "b" },
        }
        host "alone" {}
        """
    )
    assert config.hosts["web01"].ssh_options == [("User", "kohkimakimoto")]
    assert config.hosts["web02"].ssh_options == [("User", "other")]
    assert config.hosts["web01"].tags == ["web"] and config.hosts["alone"].tags == []
    assert config.tasks["a"].hidden and not config.tasks["b"].hidden
    assert config.tasks["a"].targets == ["web"] == config.tasks["b"].targets


def test_group_defaults_are_copies(load):
    config = load(
        """
        group {
            tags = {"web"},
            host "a" {},
            host "b" {},
        }
        local a = essh.select_hosts("a"):first()
        a.tags[2] = "extra"
        """
    )
    assert config.hosts["a"].tags == ["web", "extra"] and config.hosts["b"].tags == ["web"]


def test_select_hosts_get_first_filter(load):
    config = load(
        """
        host "web02" { tags = {"web", "production"} }
        host "web01" { tags = {"web"} }
        host "db01" { tags = {"db", "production"} }
        local names = {}
        for _, h in ipairs(essh.select_hosts("web"):get()) do names[#names + 1] = h.name end
        essh.debug(table.concat(names, ","))
        essh.debug(essh.select_hosts({"web", "db"}):filter("production"):first().name)
        essh.debug(#essh.select_hosts():get(), #essh.select_hosts("web*"):get(), #essh.select_hosts("all"):get())
        essh.debug(tostring(essh.select_hosts("nothing"):first()))
        host "web03" { tags = {"web"} }
        essh.debug(#essh.select_hosts("web"):get())
        """
    )
    assert config.notices == ["web01,web02", "db01", "3 2 3", "nil", "3"]


def test_edits_through_select_hosts_are_kept(load, write):
    main = write("config.lua", 'host "web01" { HostName = "a", tags = {"web"} }\nhost "db01" { HostName = "b" }\n')
    override = write(
        "override.lua",
        """
        for _, h in pairs(essh.select_hosts("web"):get()) do
            if h.ForwardAgent == nil then h.ForwardAgent = "yes" end
        end
        """,
    )
    config = load_config([main, override])
    assert config.hosts["web01"].ssh_options == [("ForwardAgent", "yes"), ("HostName", "a")]
    assert config.hosts["db01"].ssh_options == [("HostName", "b")]


def test_files_share_one_state_and_later_files_win(write):
    main = write("config.lua", 'shared = "from-main"\nhost "web01" { HostName = "a" }\ntask "t" { script = "1" }\n')
    override = write("config_override.lua", 'host "web01" { HostName = shared }\n')
    config = load_config([main, override])
    assert config.hosts["web01"].ssh_options == [("HostName", "from-main")]
    assert config.hosts["web01"].defined_at == Source(override, 1)
    assert [f.path for f in config.files] == [main, override]


def test_debug_goes_to_notices_and_print_to_stderr(load, capfd):
    config = load('essh.debug("hello", 42)\nprint("printed", 1)')
    assert config.notices == ["hello 42"]
    out, err = capfd.readouterr()
    assert out == "" and "printed\t1" in err


def test_require_finds_modules_next_to_the_file_with_list_syntax(load, write):
    write("lib/util.lua", 'return { tags = ["web", "blue"] }\n')
    write("helpers.lua", 'local util = require "lib.util"\nreturn { tags = util.tags }\n')
    config = load('local helpers = require "helpers"\nhost "a" { tags = helpers.tags }\n')
    assert config.hosts["a"].tags == ["web", "blue"]
    assert [f.path.rsplit("/", 1)[1] for f in config.files] == ["config.lua", "helpers.lua", "util.lua"]


def test_require_caches_modules(load, write):
    write("counter.lua", "count = (count or 0) + 1\nreturn count\n")
    config = load('require "counter"\nrequire "counter"\nessh.debug(count)')
    assert config.notices == ["1"]


def test_standard_libraries_a_config_uses(load, monkeypatch):
    monkeypatch.setenv("ESSH_TEST_VALUE", "from-env")
    config = load('essh.debug(os.getenv("ESSH_TEST_VALUE"), string.upper("x"), math.max(1, 2), #table.pack(1, 2))')
    assert config.notices == ["from-env X 2 2"]


def test_seed_list_syntax_is_accepted(load):
    task = load('task "t" { targets = ["web-*", "db"], depends = ["a"], script = "x" }').tasks["t"]
    assert task.targets == ["web-*", "db"] and task.depends == ["a"]


def test_prepare_is_a_callable_of_a_plain_dict(load):
    task = load(
        """
        task "t" {
            prepare = function(ctx)
                ctx.task.targets = "db"
                ctx.seen = type(ctx) .. "/" .. type(ctx.task) .. "/" .. #ctx.args
                return ctx.args[1] ~= "skip"
            end,
        }
        """
    ).tasks["t"]
    ctx = {"task": {"name": "t", "targets": ["web"], "backend": None, "props": {}}, "args": ["a", "b"]}
    inner = ctx["task"]
    assert task.prepare(ctx) is True
    assert ctx["task"] is inner and inner["targets"] == "db" and inner["backend"] is None and inner["props"] == {}
    assert ctx["seen"] == "table/table/2"
    assert task.prepare({"task": {}, "args": ["skip"]}) is False


def test_function_engine_gets_ctx_and_returns_template_text(load):
    config = load(
        """
        driver "custom" {
            engine = function(ctx)
                return "echo " .. ctx.name .. " " .. ctx.props.greeting
            end,
            props = {greeting = "hi"},
        }
        driver "text" { engine = [=[{{template "environment" .}}]=] }
        """
    )
    custom = config.drivers["custom"]
    assert custom.props == {"greeting": "hi"}
    assert custom.engine({"name": "custom", "props": {"greeting": "hi"}}) == "echo custom hi"
    assert config.drivers["text"].engine({}) == '{{template "environment" .}}'


def test_lua_version_is_recorded(load):
    assert load("").lua_version == "Lua 5.4"


def test_require_inside_the_configurations_own_coroutine(load, write):
    # Read by Lua itself there, so without the list syntax (plain Lua only).
    write("inner.lua", 'return {"from", "inner"}\n')
    config = load(
        """
        local co = coroutine.wrap(function()
            local inner = require "inner"
            coroutine.yield(inner[2])
        end)
        essh.debug(co())
        """
    )
    assert config.notices == ["inner"]


def test_require_from_a_prepare_function_at_plan_time(load, write):
    write("later.lua", "return 7\n")
    task = load('task "t" { prepare = function(ctx) return require("later") end }').tasks["t"]
    assert task.prepare({}) == 7


def test_tables_coming_back_from_lua_are_in_name_order(load):
    task = load('task "t" { prepare = function(ctx) return {c = 1, a = 2, b = 3, d = {z = 1, y = 2}} end }').tasks["t"]
    result = task.prepare({})
    assert list(result) == ["a", "b", "c", "d"] and list(result["d"]) == ["y", "z"]
