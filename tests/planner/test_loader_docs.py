"""The configuration examples of ESSH's documentation and of the seed spec load as written.

ESSH: kohkimakimoto/essh website/content/docs/en/{hosts,tasks,groups,drivers,
configuration-files,lua-vm}.md. Seed: docs/spec/seed-task-management.md.
"""

from __future__ import annotations

from pathlib import Path


from essh.planner.loader import load_config
from essh.planner.model import ScriptPart

HOSTS_MD = """
host "web01.localhost" {
    -- SSH config properties.
    HostName = "192.168.0.11",
    Port = "22",
    User = "kohkimakimoto",

    -- Essh config properties.
    description = "web01 development server",
    hidden = false,
    private = false,
    props = {},
    tags = {},
    hooks_before_connect = {},
    hooks_after_connect = {},
    hooks_after_disconnect = {},
}

private_host "example" {
    HostName = "192.168.0.11",
    Port = "22",
    User = "kohkimakimoto",
}

host "tagged" {
    tags = {
        "web",
        "production",
    },
    props = {
        foo = "bar",
    },
}
"""

TASKS_MD = """
task "example" {
    description = "example task",

    targets = {
        "web",
    },

    filters = {
        "production",
    },

    backend = "local",

    parallel = true,

    prefix = true,

    script = {
        "echo foo",
        "echo bar"
    },
}

task "prepared" {
    prepare = function (t)
        -- override task config
        t.targets = "web"
        -- cancel the task execution by returns false.
        return false
    end,
    props = {
        foo = "bar",
    },
    script = [=[
        echo aaa
        echo bbb
        echo ccc
    ]=],
}
"""

GROUPS_MD = """
group {
    -- Define default parameters.
    hidden = true,
    privileged = true,
    backend = "remote",
    targets = {"web"},

    task "foo" {
        script = "echo foo"
    },

    task "foo" {
        -- You can override parameters.
        hidden = false,
        script = "echo foo"
    },
}

group {
    User = "kohkimakimoto",

    -- You can define only one type resource in a group.
    host "web01" {
        -- ...
    },

    host "web02" {
        -- ...
    },
}
"""

DRIVERS_MD = """
driver "my_driver" {
    engine = [=[
        {{template "environment" .}}

        set -e
        indent() {
            local n="${1:-4}"
            local p=""
            for i in `seq 1 $n`; do
                p="$p "
            done;

            local c="s/^/$p/"
            case $(uname) in
              Darwin) sed -l "$c";;
              *)      sed -u "$c";;
            esac
        }

        {{range $i, $script := .Scripts -}}
        echo '==> step {{$i}}:{{if $script.description}} {{$script.description}}{{end}}'
        {
            {{$script.code}}
        } | indent; __essh_exit_status=${PIPESTATUS[0]}
        if [ $__essh_exit_status -ne 0 ]; then
            exit $__essh_exit_status
        fi
        {{end}}
    ]=],
}

task "example" {
    driver = "my_driver",
    script = {
        {
            description = "output aaa",
            code = "echo aaa",
        },
        {
            description = "output bbb",
            code = "echo bbb",
        },
    }
}

driver "default" {
    engine = [=[
        {{template "environment" .}}

        --- ... your driver
    ]=],
}
"""

CONFIGURATION_FILES_MD = """
host "web01.localhost" {
    HostName = "192.168.0.11",
    Port = "22",
    User = "kohkimakimoto",
    description = "web01 development server",
    tags = {
        "web",
    },
}

host("web02.localhost", {
    HostName = "192.168.0.12",
    Port = "22",
    User = "kohkimakimoto",
    description = "web02 development server",
    tags = {
        "web",
    },
})

local web03 = host "web03.localhost"
web03.HostName = "192.168.0.13"
web03.Port = "22"
web03.User = "kohkimakimoto"
web03.description = "web03 development server"
web03.tags = {
    "web",
}

task "uptime" {
    backend = "remote",
    targets = "web",
    script = "uptime",
}
"""

LUA_VM_OVERRIDE = """
-- ~/.essh/config_override.lua
for _, h in pairs(essh.select_hosts():get()) do
    if h.ForwardAgent == nil then
        h.ForwardAgent = "yes"
    end
end

for _, h in pairs(essh.select_hosts({"web", "db"}):get()) do
    if h.Compression == nil then
        h.Compression = "yes"
    end
end

for _, h in pairs(essh.select_hosts("web"):filter("production"):get()) do
    if h.ServerAliveInterval == nil then
        h.ServerAliveInterval = 30
    end
end

local h = essh.select_hosts("web"):first()
if h.ForwardAgent == nil then
    h.ForwardAgent = "yes"
end

essh.debug("foo")
"""


def _load(tmp_path: Path, *texts: str):
    paths = []
    for number, text in enumerate(texts):
        path = tmp_path / f"config{number}.lua"
        path.write_text(text)
        paths.append(str(path))
    return load_config(paths)


def test_hosts_md(tmp_path):
    config = _load(tmp_path, HOSTS_MD)
    web = config.hosts["web01.localhost"]
    assert web.ssh_options == [("HostName", "192.168.0.11"), ("Port", "22"), ("User", "kohkimakimoto")]
    assert web.description == "web01 development server" and not web.private
    assert config.hosts["example"].private
    assert config.hosts["tagged"].tags == ["web", "production"] and config.hosts["tagged"].props == {"foo": "bar"}


def test_tasks_md(tmp_path):
    config = _load(tmp_path, TASKS_MD)
    example = config.tasks["example"]
    assert example.targets == ["web"] and example.filters == ["production"] and example.backend == "local"
    assert example.parallel is True and example.prefix is True
    assert example.script == [ScriptPart("echo foo"), ScriptPart("echo bar")]
    prepared = config.tasks["prepared"]
    ctx = {"targets": ["db"]}
    assert prepared.prepare(ctx) is False and ctx == {"targets": "web"}
    assert prepared.script[0].code.split() == ["echo", "aaa", "echo", "bbb", "echo", "ccc"]


def test_groups_md(tmp_path):
    config = _load(tmp_path, GROUPS_MD)
    foo = config.tasks["foo"]
    assert not foo.hidden and foo.privileged and foo.backend == "remote" and foo.targets == ["web"]
    assert [h.ssh_options for h in config.hosts.values()] == [[("User", "kohkimakimoto")]] * 2


def test_drivers_md(tmp_path):
    config = _load(tmp_path, DRIVERS_MD)
    assert list(config.drivers) == ["my_driver", "default"]
    assert "{{range $i, $script := .Scripts -}}" in config.drivers["my_driver"].engine({})
    assert config.tasks["example"].script == [ScriptPart("echo aaa", "output aaa"), ScriptPart("echo bbb", "output bbb")]


def test_configuration_files_md_three_syntaxes(tmp_path):
    config = _load(tmp_path, CONFIGURATION_FILES_MD)
    assert [h.tags for h in config.hosts.values()] == [["web"]] * 3
    assert config.hosts["web03.localhost"].ssh_options == [
        ("HostName", "192.168.0.13"), ("Port", "22"), ("User", "kohkimakimoto")
    ]
    assert config.tasks["uptime"].targets == ["web"]


def test_lua_vm_md_override_through_select_hosts(tmp_path):
    main = 'host "web01" { tags = {"web", "production"} }\nhost "db01" { tags = {"db"} }\nhost "x" {}\n'
    config = _load(tmp_path, main, LUA_VM_OVERRIDE)
    assert config.hosts["web01"].ssh_options == [
        ("Compression", "yes"), ("ForwardAgent", "yes"), ("ServerAliveInterval", "30")
    ]
    assert config.hosts["db01"].ssh_options == [("Compression", "yes"), ("ForwardAgent", "yes")]
    assert config.hosts["x"].ssh_options == [("ForwardAgent", "yes")]
    assert config.notices == ["foo"]


# The project keeps its own copy of the spec, so this test never depends on the machine.
SEED = Path(__file__).parents[2] / "docs" / "spec" / "seed-task-management.md"


def _seed_examples() -> list[str]:
    text = SEED.read_text()
    return [block.split("```", 1)[0] for block in text.split("```lua")[1:]]


def test_seed_examples_load_as_written(tmp_path):
    examples = _seed_examples()
    assert len(examples) == 3
    config = _load(tmp_path, *examples)
    update, deploy, status = config.tasks["update"], config.tasks["deploy"], config.tasks["check-status"]
    assert update.targets == ["web-*"] and "sudo apt upgrade -y" in update.script[0].code
    assert deploy.depends == ["build", "backup"] and deploy.targets == ["production"] and deploy.parallel is False
    assert status.targets == ["all"] and status.parallel is True
    assert status.script == [ScriptPart("systemctl status nginx")]
