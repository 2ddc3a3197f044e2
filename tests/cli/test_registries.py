"""ESSH's registries through the real command: `global` (ESSH_SYSTEM_DIR standing in for
/etc/essh, ~/.essh) and `local` (.esshconfig.lua), ESSH 3's default rule, `--with-global`,
the REGISTRY column, a task scoped to its own registry's hosts (on real sshd), the plan's
record of registries and modules, and modules installed in each registry's folder."""

from __future__ import annotations

import json

from cli_workspace import one_error_line
from test_modules import git, make_repo

GLOBAL = 'host "g1" { tags = ["web"], description = "global host" }\ntask "gt" { targets = "web", backend = "local", script = "echo global $ESSH_HOSTNAME" }\n'
LOCAL = 'host "l1" { tags = ["web"] }\ntask "lt" { targets = "web", backend = "local", script = "echo local $ESSH_HOSTNAME" }\n'


def _rows(result) -> list[list[str]]:
    assert result.returncode == 0, result.stderr
    return [line.split() for line in result.stdout.splitlines()]


def test_default_rule_loads_one_registry_as_essh_3(ws):
    ws.write("home/.essh/config.lua", GLOBAL)
    alone = _rows(ws.essh("hosts", "--config", "home/.essh/config.lua"))
    assert alone == [["NAME", "DESCRIPTION", "TAGS", "REGISTRY"], ["g1", "global", "host", "web", "global"]]
    ws.write(".esshconfig.lua", LOCAL)
    assert _rows(ws.essh("hosts")) == [["NAME", "DESCRIPTION", "TAGS", "REGISTRY"], ["l1", "web", "local"]]
    assert _rows(ws.essh("tasks")) == [["NAME", "DESCRIPTION", "TARGETS", "REGISTRY"], ["lt", "web", "local"]]


def test_without_a_local_file_the_user_file_is_the_global_registry(ws, tmp_path):
    ws.write("home/.essh/config.lua", GLOBAL)
    sub = ws.path / "elsewhere"
    sub.mkdir()
    result = ws.essh("--working-dir", str(sub), "hosts")
    assert _rows(result)[1][-1] == "global"


def test_with_global_loads_both_and_scopes_tasks_to_their_registry(ws):
    ws.write("home/.essh/config.lua", GLOBAL)
    ws.write("etc/config.lua", 'host "sys" { tags = ["web"] }\n')
    ws.write(".esshconfig.lua", LOCAL)
    env = {"ESSH_SYSTEM_DIR": str(ws.path / "etc")}
    hosts = _rows(ws.essh("--with-global", "hosts", env=env))
    assert [row[0] for row in hosts[1:]] == ["g1", "l1", "sys"]
    assert {row[0]: row[-1] for row in hosts[1:]} == {"g1": "global", "l1": "local", "sys": "global"}
    tasks = _rows(ws.essh("tasks", env={**env, "ESSH_WITH_GLOBAL": "1"}))
    assert {row[0]: row[-1] for row in tasks[1:]} == {"gt": "global", "lt": "local"}
    # ESSH's rule: hosts used by a task are its own registry's.
    global_run = ws.essh("--with-global", "run", "gt", env=env)
    assert global_run.returncode == 0, global_run.stderr
    assert global_run.stdout.splitlines() == ["[local:g1]  global g1", "[local:sys] global sys"]
    local_run = ws.essh("--with-global", "run", "lt", env=env)
    assert local_run.returncode == 0, local_run.stderr
    assert local_run.stdout.splitlines() == ["local l1"]
    planned = ws.essh("--with-global", "plan", "gt", "lt", "--json", env=env)
    assert planned.returncode == 0, planned.stderr
    doc = json.loads(planned.stdout)
    assert {h["name"]: h.get("registry", "local") for h in doc["hosts"]} == {"g1": "global", "l1": "local", "sys": "global"}
    assert {t["name"]: t.get("registry", "local") for t in doc["tasks"]} == {"gt": "global", "lt": "local"}
    shown = ws.essh("--with-global", "plan", "gt", env=env)
    assert "from the global registry: g1, sys" in shown.stdout
    assert "registry: global" in shown.stdout


def test_a_global_task_cannot_reach_a_local_host(ws):
    ws.write("home/.essh/config.lua", 'task "gt" { targets = "l1", backend = "local", script = "true" }\n')
    ws.write(".esshconfig.lua", LOCAL)
    result = ws.essh("--with-global", "plan", "gt")
    assert result.returncode == 2
    assert 'task gt: target "l1" matches no host name or tag' in one_error_line(result)


def test_a_name_in_both_registries_is_refused_with_both_places(ws):
    ws.write("home/.essh/config.lua", GLOBAL)
    ws.write(".esshconfig.lua", LOCAL + 'host "g1" {}\n')
    result = ws.essh("--with-global", "hosts")
    assert result.returncode == 2
    line = one_error_line(result)
    assert "host 'g1' is defined in two registries" in line and ".essh/config.lua:1" in line


def test_plan_records_modules_and_show_lists_them(ws, tmp_path):
    lib = make_repo(tmp_path / "lib", {"index.lua": 'return { word = "from-lib" }\n'})
    glib = make_repo(tmp_path / "glib", {"index.lua": 'return { word = "from-glib" }\n'})
    ws.write("mod/index.lua", 'return { word = "from-folder" }\n')
    ws.write(".esshconfig.lua", f'local l = import "file://{lib}"\nlocal m = import "./mod"\n'
             'task "lt" { script = "echo " .. l.word .. " " .. m.word }\n')
    ws.write("home/.essh/config.lua", f'local g = import "file://{glib}"\ntask "gt" {{ script = "echo " .. g.word }}\n')
    updated = ws.essh("--with-global", "modules", "update")
    assert updated.returncode == 0, updated.stderr
    assert "(global)" in updated.stdout and "(local)" in updated.stdout
    # Each registry's modules in its own folder: ~/.essh/modules (global), .essh/modules (local).
    assert [p.name[:5] for p in (ws.path / "home" / ".essh" / "modules").iterdir()] == ["glib-"]
    assert [p.name[:4] for p in (ws.path / ".essh" / "modules").iterdir()] == ["lib-"]
    assert (ws.path / "home" / ".essh" / ".essh.lock.json").is_file() and (ws.path / ".essh.lock.json").is_file()

    out = ws.path / "plan.bin"
    planned = ws.essh("--with-global", "plan", "gt", "lt", "-o", str(out))
    assert planned.returncode == 0, planned.stderr
    doc = json.loads(ws.essh("show", str(out), "--json").stdout)
    modules = {m["source"]: m for m in doc["meta"]["modules"]}
    assert set(modules) == {f"file://{lib}", f"file://{glib}", "./mod"}
    assert modules[f"file://{lib}"]["commit"] == git(lib, "rev-parse", "HEAD")
    assert modules[f"file://{glib}"]["registry"] == "global"
    assert modules["./mod"].get("commit", "") == "" and modules["./mod"]["digest"].startswith("sha256:")
    shown = ws.essh("show", str(out))
    assert shown.returncode == 0, shown.stderr
    assert f"file://{lib} commit {git(lib, 'rev-parse', 'HEAD')} sha256:" in shown.stdout
    assert f"file://{glib} commit" in shown.stdout and "(global registry)" in shown.stdout
    assert "./mod (local folder) sha256:" in shown.stdout

    cleaned = ws.essh("--with-global", "modules", "clean")
    assert cleaned.returncode == 0 and not (ws.path / "home" / ".essh" / "modules").exists()
    assert not (ws.path / ".essh" / "modules").exists()


def test_a_global_task_runs_on_its_registry_host_over_real_ssh(sshd, ws):
    name, port = sshd.hosts[0]
    other, other_port = sshd.hosts[1]
    options = f'User = "{sshd.user}", IdentityFile = "{sshd.key_path}", IdentitiesOnly = "yes", UserKnownHostsFile = "{sshd.known_hosts}"'
    ws.write("home/.essh/config.lua", f'host "{name}" {{ HostName = "127.0.0.1", Port = {port}, {options}, tags = ["app"] }}\n'
             'task "where" { targets = "app", script = "echo global-task on $ESSH_HOSTNAME" }\n')
    ws.write(".esshconfig.lua", f'host "{other}" {{ HostName = "127.0.0.1", Port = {other_port}, {options}, tags = ["app"] }}\n')
    result = ws.essh("--with-global", "run", "where")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"global-task on {name}"


def test_completion_offers_both_registries_with_global(ws):
    import os
    import subprocess
    import sys

    ws.write("home/.essh/config.lua", GLOBAL)
    ws.write(".esshconfig.lua", LOCAL)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESSH_")}
    env.update(HOME=str(ws.path / "home"), XDG_CACHE_HOME=str(ws.path / "cache"))

    def names(extra):
        done = subprocess.run([sys.executable, "-m", "essh.completion", "tasks"], cwd=ws.path, env={**env, **extra},
                              capture_output=True, text=True, check=True)
        return [line.split("\t")[0] for line in done.stdout.splitlines()]

    assert names({}) == ["lt"]
    assert sorted(names({"ESSH_WITH_GLOBAL": "1"})) == ["gt", "lt"]


def test_filters_without_select_and_every_filter_must_match(ws):
    # ESSH's HostQuery applies each filter in turn: an intersection.
    ws.write(".esshconfig.lua", 'host "w1" { tags = {"web", "prod"} }\nhost "w2" { tags = {"web"} }\nhost "d1" { tags = {"prod"} }\n'
             'task "t" { targets = "all", filters = {"web", "prod"}, backend = "local", script = "echo $ESSH_HOSTNAME" }\n')
    assert ws.essh("hosts", "--filter", "web", "-q").stdout.split() == ["w1", "w2"]
    assert ws.essh("hosts", "--filter", "web", "--filter", "prod", "-q").stdout.split() == ["w1"]
    run = ws.essh("run", "t")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "w1"
