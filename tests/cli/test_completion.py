"""Completion of tasks, hosts and tags: the names (hidden ones left out), the cache and
when it is renewed, the bash script at work, and the time budget of a TAB."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

CONFIG = """
host "web-1" { description = "front", tags = {"web"} }
host "secret" { hidden = true, tags = {"hidden-tag"} }
task "deploy" { description = "ship it", script = "true" }
task "internal" { hidden = true, script = "true" }
"""


def complete(ws, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESSH_")}
    env.update(HOME=str(ws.path / "home"), XDG_CACHE_HOME=str(ws.path / "cache"))
    return subprocess.run([sys.executable, "-m", "essh.completion", *args], cwd=ws.path, env=env,
                          capture_output=True, text=True)


def test_names_with_descriptions_hidden_left_out(ws):
    ws.write(".esshconfig.lua", CONFIG)
    assert complete(ws, "tasks").stdout == "deploy\tship it\n"
    assert complete(ws, "hosts").stdout == "web-1\tfront\n"
    assert complete(ws, "targets").stdout == "web-1\tfront\nweb\ttag\n"


def test_the_cache_is_renewed_when_a_file_changes_or_appears(ws):
    ws.write(".esshconfig.lua", CONFIG)
    assert complete(ws, "tasks").stdout == "deploy\tship it\n"
    ws.write(".esshconfig.lua", CONFIG + 'task "rollback" { script = "true" }\n')
    assert complete(ws, "tasks").stdout == "deploy\tship it\nrollback\n"
    ws.write(".esshconfig_override.lua", 'task "late" { script = "true" }\n')
    assert "late" in complete(ws, "tasks").stdout
    ws.write("other.lua", 'task "elsewhere" { script = "true" }\n')
    assert complete(ws, "tasks", "--config", "other.lua").stdout.startswith("elsewhere\n")


def test_a_broken_configuration_completes_nothing(ws):
    ws.write(".esshconfig.lua", "host (")
    done = complete(ws, "hosts")
    assert done.returncode == 1 and done.stdout == ""


def test_the_bash_script_completes_each_position(ws):
    ws.write(".esshconfig.lua", CONFIG)
    script = ws.essh("completion", "bash")
    assert script.returncode == 0, script.stderr
    ws.write("c.bash", script.stdout)
    probe = (
        "source c.bash\n"
        'show() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _essh; echo "${COMPREPLY[*]}"; }\n'
        "show essh run d\nshow essh ssh w\nshow essh exec -t w\nshow essh hosts --select ''\nshow essh pl\n"
    )
    env = {**os.environ, "HOME": str(ws.path / "home"), "XDG_CACHE_HOME": str(ws.path / "cache")}
    done = subprocess.run(["bash", "-c", probe], cwd=ws.path, env=env, capture_output=True, text=True)
    assert done.stdout.splitlines() == ["deploy", "web-1", "web-1 web", "web-1 web", "plan"]
    for shell in ("zsh", "fish"):
        text = ws.essh("completion", shell).stdout
        assert "essh.completion" in text and "deploy" not in text
    assert ws.essh("completion", "tcsh").returncode == 2
    assert ws.essh("--bash-completion").stdout == script.stdout


def test_a_cached_answer_for_1000_hosts_is_under_150_ms_of_cpu(ws):
    ws.write(".esshconfig.lua", "".join(f'host "web-{i:04d}" {{ tags = {{"web"}} }}\n' for i in range(1000)))
    assert complete(ws, "hosts").stdout.count("\n") == 1000  # loads, writes the cache
    costs = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        complete(ws, "hosts")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        costs.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    assert min(costs) < 0.150, costs
