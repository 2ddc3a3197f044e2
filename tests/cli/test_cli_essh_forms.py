"""ESSH's command-line forms: `essh --hosts`, global `--config`/`--debug`/`--working-dir`
before the command, `essh TASK`, ESSH_DEBUG; the rewriting alone, then through the real command."""

from __future__ import annotations

import pytest

from essh.essh_forms import FormError, rewrite

COMMANDS = {
    "run": {"--config", "--debug"},
    "hosts": {"--config", "--debug", "--select"},
    "show": {"--debug"},
    "ssh": {"--config", "--debug", "--print"},
    "exec": {"--config", "--debug"},
}


def kinds(word, config):
    return {"deploy": "task", "web-1": "host"}.get(word)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--hosts", "--select", "web"], ["hosts", "--select", "web"]),
        (["--config", "x.lua", "--debug", "deploy", "a"], ["run", "--config", "x.lua", "--debug", "deploy", "a"]),
        (["--config=x.lua", "hosts", "-q"], ["hosts", "--config", "x.lua", "-q"]),
        (["web-1", "-p", "22"], ["ssh", "web-1", "-p", "22"]),
        (["--debug", "show", "p.bin"], ["show", "--debug", "p.bin"]),
        (["--no-color", "--exec", "--target", "web", "uptime"], ["exec", "--target", "web", "uptime"]),
        (["--print"], ["ssh", "--print"]),
        (["--version"], ["--version"]),
        (["run", "deploy"], ["run", "deploy"]),
    ],
)
def test_essh_forms_become_essh_s(argv, words):
    assert rewrite(argv, COMMANDS, {}, kinds).words == words


def test_essh_debug_and_working_dir():
    form = rewrite(["--working-dir", "/srv", "run", "x"], COMMANDS, {"ESSH_DEBUG": "1"}, kinds)
    assert form.words == ["run", "--debug", "x"] and form.working_dir == "/srv"


def test_a_word_that_is_nothing_known_is_one_error():
    with pytest.raises(FormError, match="'nope' is not an essh command, nor a task or a host"):
        rewrite(["nope"], COMMANDS, {}, kinds)
    with pytest.raises(FormError, match="essh show takes no --config"):
        rewrite(["--config", "x", "show", "p.bin"], COMMANDS, {}, kinds)


def test_through_the_real_command(ws, tmp_path):
    ws.write("sub/conf.lua", 'host "web-1" { tags = {"web"} }\ntask "hello" { script = "echo hi $ESSH_TASK_ARGS_1" }\n')
    hosts = ws.essh("--working-dir", "sub", "--config", "conf.lua", "--hosts", "--quiet")
    assert hosts.returncode == 0, hosts.stderr
    assert hosts.stdout == "web-1\n"
    ran = ws.essh("--config", "sub/conf.lua", "hello", "there", "--report", "r.json")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "hi there\n"
    tags = ws.essh("--tags", env={"ESSH_CONFIG": "sub/conf.lua", "ESSH_DEBUG": "1"})
    assert tags.stdout == "web\n"
    unknown = ws.essh("--config", "sub/conf.lua", "nope")
    assert unknown.returncode == 2 and unknown.stderr.startswith("essh: 'nope' is not an essh command")
