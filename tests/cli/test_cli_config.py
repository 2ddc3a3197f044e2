"""`essh plan`, `hosts`, `tasks`, `tags`, `validate` on real Lua files, through the real command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_workspace import Workspace, one_error_line

SEED = (Path(__file__).parents[1] / "planner" / "golden" / "seed.lua").read_text()


def test_seed_examples_plan_as_written(ws):
    ws.write(".esshconfig.lua", SEED)
    result = ws.essh("plan", "update", "deploy", "check-status")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "# update" in out and "hosts (2): web-1, web-prod" in out
    assert "# deploy" in out and "mode: sequential" in out
    assert "# check-status" in out and "hosts (3): db-1, web-1, web-prod" in out
    # depends run first, in the order listed
    assert out.index("# build") < out.index("# backup") < out.index("# deploy")
    assert "Plan: " in out.splitlines()[-1]


def test_plan_file_is_byte_identical_with_source_date_epoch(ws):
    ws.write(".esshconfig.lua", SEED)
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    first = ws.essh("plan", "deploy", "check-status", "-o", "a.bin", env=env)
    second = ws.essh("plan", "deploy", "check-status", "-o", "b.bin", env=env)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert (ws.path / "a.bin").read_bytes() == (ws.path / "b.bin").read_bytes()
    assert "essh apply a.bin" in first.stdout


def test_plan_json_and_show_agree(ws):
    ws.write(".esshconfig.lua", SEED)
    planned = ws.essh("plan", "check-status", "--json", "-o", "plan.bin")
    shown = ws.essh("show", "--json", "plan.bin")
    assert planned.returncode == shown.returncode == 0
    assert json.loads(planned.stdout) == json.loads(shown.stdout)
    doc = json.loads(shown.stdout)
    assert [h["name"] for h in doc["hosts"]] == ["db-1", "web-1", "web-prod"]
    assert len(doc["steps"]) == 3


def test_verbose_shows_the_exact_command(ws):
    ws.write(".esshconfig.lua", SEED)
    result = ws.essh("plan", "check-status", "--verbose")
    assert result.returncode == 0, result.stderr
    assert "export ESSH_TASK_NAME=check-status" in result.stdout
    assert "systemctl status nginx" in result.stdout


@pytest.mark.parametrize(
    "source, expected",
    [
        ('task "a" {\n  script = "x",\n  targets = ,\n}\n', ".esshconfig.lua:3"),
        ('host "h" { tags = ["x"] }\ntask "a" { targets = ["nomatch-*"], script = "x" }\n', ".esshconfig.lua:2"),
        ('task "a" { depends = ["b"] }\ntask "b" { depends = ["a"] }\n', "a -> b -> a"),
        ('task "deploy" { script = "x" }\ntask "b" { depends = ["deplyo"] }\n', "deploy"),
        ('task "a" { scirpt = "x" }\n', "script"),
        ('error("boom")\n', ".esshconfig.lua:1"),
    ],
    ids=["syntax", "no-hosts", "cycle", "typo-depends", "unknown-key", "lua-error"],
)
def test_config_errors_are_one_line_with_location_and_exit_2(ws, source, expected):
    ws.write(".esshconfig.lua", source)
    result = ws.essh("plan", "a") if "deploy" not in source else ws.essh("plan", "b")
    assert result.returncode == 2, result.stdout + result.stderr
    line = one_error_line(result)
    assert line.startswith("essh: configuration error: ")
    assert expected in line


def test_no_task_and_no_default_lists_the_tasks(ws):
    ws.write(".esshconfig.lua", 'task "a" { script = "x" }\ntask "b" { script = "y" }\n')
    result = ws.essh("plan")
    assert result.returncode == 2
    line = one_error_line(result)
    assert "a" in line and "b" in line


def test_no_configuration_found(ws):
    result = ws.essh("plan", "x")
    assert result.returncode == 2
    assert "no configuration found" in one_error_line(result)


def test_config_option_and_essh_config_variable(ws):
    ws.write("conf/main.lua", 'task "hello" { script = "echo hi" }\n')
    by_option = ws.essh("plan", "hello", "--config", "conf/main.lua")
    by_env = ws.essh("plan", "hello", env={"ESSH_CONFIG": "conf/main.lua"})
    assert by_option.returncode == by_env.returncode == 0, by_option.stderr + by_env.stderr
    assert "# hello" in by_option.stdout and "# hello" in by_env.stdout


def test_hosts_tasks_tags_validate(ws):
    ws.write(
        ".esshconfig.lua",
        SEED + '\nhost "secret" { hidden = true, tags = ["ops"] }\ntask "internal" { hidden = true, script = "x" }\n',
    )
    hosts = ws.essh("hosts")
    assert hosts.returncode == 0, hosts.stderr
    assert hosts.stdout.splitlines()[0].split() == ["NAME", "DESCRIPTION", "TAGS", "REGISTRY"]
    assert "secret" not in hosts.stdout and "web-prod" in hosts.stdout
    assert "secret" in ws.essh("hosts", "--all", "--quiet").stdout.split()
    assert ws.essh("hosts", "--select", "web-*", "--quiet").stdout.split() == ["web-1", "web-prod"]
    assert ws.essh("hosts", "--select", "production", "--filter", "web-1", "-q").stdout.split() == ["web-1"]
    ssh_config = ws.essh("hosts", "--select", "web-1", "--ssh-config").stdout
    assert "Host web-1\n" in ssh_config and "    HostName 192.168.0.11" in ssh_config
    tasks = ws.essh("tasks", "--quiet").stdout.split()
    assert "update" in tasks and "internal" not in tasks
    assert "internal" in ws.essh("tasks", "--all", "-q").stdout.split()
    assert ws.essh("tags").stdout.split() == ["db", "ops", "production", "web"]
    valid = ws.essh("validate")
    assert valid.returncode == 0, valid.stderr
    assert "Configuration is valid" in valid.stdout


def test_validate_reports_the_first_broken_task(ws):
    ws.write(".esshconfig.lua", 'task "ok" { script = "x" }\ntask "bad" { targets = "nowhere", script = "x" }\n')
    result = ws.essh("validate")
    assert result.returncode == 2
    assert "bad" in one_error_line(result)


def test_version_and_help(ws):
    assert ws.essh("--version").stdout.startswith("essh ")
    help_text = ws.essh("--help").stdout
    for command in ("plan", "show", "apply", "run", "exec", "hosts", "tasks", "tags", "validate"):
        assert command in help_text


def test_the_review_says_when_host_keys_are_not_verified(ws):
    ws.write(
        ".esshconfig.lua",
        'host "lab" { HostName = "10.0.0.9", StrictHostKeyChecking = "no" }\n'
        'host "new" { StrictHostKeyChecking = "accept-new" }\n'
        'task "t" { targets = "all", script = "true" }\n',
    )
    result = ws.essh("plan", "t")
    assert result.returncode == 0, result.stderr
    assert "warning: host lab: host keys are NOT verified (StrictHostKeyChecking no)" in result.stdout
    assert "note: host new: an unknown host key is accepted" in result.stdout
    verbose = ws.essh("plan", "t", "--verbose").stdout
    assert "    lab: HostName=10.0.0.9 StrictHostKeyChecking=no" in verbose


def test_the_same_checkout_in_two_places_gives_the_same_plan_file(tmp_path):
    files = []
    for place in ("runner-a/checkout", "elsewhere/b"):
        side = Workspace(tmp_path / place)
        (side.path / "home").mkdir(parents=True)
        side.write(".esshconfig.lua", SEED)
        result = side.essh("plan", "deploy", "-o", "plan.bin", env={"SOURCE_DATE_EPOCH": "1"})
        assert result.returncode == 0, result.stderr
        files.append((side.path / "plan.bin").read_bytes())
    assert files[0] == files[1]
    shown = Workspace(tmp_path / "elsewhere/b").essh("show", "plan.bin").stdout
    assert "(.esshconfig.lua:" in shown
