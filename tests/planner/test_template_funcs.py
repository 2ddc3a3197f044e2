"""ESSH's template helpers in driver engines and prefixes, from real Lua configurations."""

from __future__ import annotations

from pathlib import Path

from essh.planner import load_config, make_plan
from essh.planner.template_funcs import env_key_escape, shell_escape
from essh.schema import step_script


def plan(tmp_path: Path, lua: str, task: str):
    path = tmp_path / "esshconfig.lua"
    path.write_text(lua)
    return make_plan(load_config([str(path)]), [task], ["a b", "it's"], created_at=0, essh_version="t")


HOSTS = 'host "web-1" { tags = {"web"} }\nhost "web-long" { tags = {"web"} }\n'


def test_shell_escape_and_env_key_escape_match_essh():
    assert shell_escape("it's") == "'it'\"'\"'s'"
    assert env_key_escape("a-b.c") == "a_b_c"


def test_a_driver_uses_essh_s_helpers_and_free_keys(tmp_path):
    lua = HOSTS + """
driver "helpers" {
    greeting = "Hello",
    engine = function(driver) return [=[{{template "environment" .}}
{{range $i, $a := .Task.Args}}echo {{Add $i 1}}={{$a | ShellEscape}}
{{end}}echo {{.Driver.Props.greeting | ToUpper}} {{"x-y.z" | ToLower | EnvKeyEscape}}
]=] end,
}
task "t" { driver = "helpers", script = "true" }
"""
    p = plan(tmp_path, lua, "t")
    assert step_script(p, p.steps[0]).endswith("\necho 1='a b'\necho 2='it'\"'\"'s'\necho HELLO x_y_z\n")


def test_a_driver_can_use_the_functions_template(tmp_path):
    lua = 'driver "f" { engine = [=[{{template "functions" .}}escp a b:c]=] }\ntask "t" { driver = "f", script = "x" }\n'
    p = plan(tmp_path, lua, "t")
    script = step_script(p, p.steps[0])
    assert "function escp()" in script and "ESSH_SSH_CONFIG" in script and script.endswith("escp a b:c")


def test_essh_s_default_prefix_template_aligns_host_names(tmp_path):
    lua = HOSTS + """task "t" { targets = "web", prefix = [[[remote:{{.Host.Name}}]{{HostnameAlignString " "}}]], script = "true" }"""
    p = plan(tmp_path, lua, "t")
    assert sorted(s.prefix for s in p.steps) == ["[remote:web-1]    ", "[remote:web-long] "]


def test_a_local_task_without_hosts_prefixed_with_the_host_name_is_local(tmp_path):
    p = plan(tmp_path, 'task "t" { prefix = "{{.Host.Name}}", script = "true" }', "t")
    assert [s.prefix for s in p.steps] == ["[local]"]
