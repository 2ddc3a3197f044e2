"""Review guards: behaviour an independent review tried to break and found holding.

Each test runs the real `essh` command in a scratch directory with its own HOME
(local-backend steps only: no SSH needed), so a regression shows as the user sees it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from essh.schema import Plan, PlanMeta, Step, Task, encode_plan


def _essh(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ESSH_", "SOURCE_DATE_EPOCH"))}
    full_env.update(HOME=str(cwd / "home"), XDG_STATE_HOME=str(cwd / "state"), **(env or {}))
    (cwd / "home").mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "essh", *args], cwd=cwd, env=full_env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=120,
    )


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


HOSTILE = "it's \"q\" $(touch PWNED) `touch PWNED` ; touch PWNED\nline2 \\ '"


def test_hostile_props_env_and_arguments_reach_the_script_verbatim(tmp_path: Path) -> None:
    lua_hostile = HOSTILE.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    (tmp_path / ".esshconfig.lua").write_text(
        f'host "h" {{ props = {{ p = "{lua_hostile}" }} }}\n'
        f'task "t" {{ targets = "h", backend = "local", props = {{ x = "{lua_hostile}" }}, env = {{ E = "{lua_hostile}" }},\n'
        "  script = 'printf \"%s|\" \"$ESSH_HOST_PROPS_P\" \"$ESSH_TASK_PROPS_X\" \"$E\" \"$ESSH_TASK_ARGS_1\"' }\n"
    )
    result = _essh(tmp_path, "run", "t", HOSTILE, "--report", "r.json")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{HOSTILE}|" * 4
    assert not (tmp_path / "PWNED").exists()


PAIRS_HEAVY = """
for i = 1, 25 do host("h" .. i, { HostName = "10.0.0." .. i, tags = {"t" .. (i % 5), "any"}, props = { a = i, ["z" .. i] = 1 } }) end
local envs = {}
for i = 1, 40 do envs["V" .. i] = tostring(i) end
task "a" { targets = {"t1", "t2", "h1*"}, env = envs, props = { p = 1, q = 2, r = 3 }, script = "echo {{.Host.Name}}" }
local deps = {}
for i = 1, 15 do task("c" .. i, { targets = "t" .. (i % 5), script = "true" }); deps[#deps + 1] = "c" .. i end
task "default" { depends = { "a", "d" } }
task "d" { depends = deps, parallel = true }
"""


def test_plan_bytes_do_not_depend_on_lua_or_python_hash_seeds(tmp_path: Path) -> None:
    (tmp_path / ".esshconfig.lua").write_text(PAIRS_HEAVY)
    digests = set()
    for seed in ("1", "2", "3", "4"):
        out = tmp_path / f"plan{seed}.bin"
        result = _essh(tmp_path, "plan", "-o", str(out), env={"SOURCE_DATE_EPOCH": "1", "PYTHONHASHSEED": seed})
        assert result.returncode == 0, result.stderr
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_lua_cannot_load_binary_chunks_or_reach_debug(tmp_path: Path) -> None:
    (tmp_path / ".esshconfig.lua").write_text(
        'local d = string.dump(function() return 42 end)\n'
        'local f = io.open("chunk.luac", "wb"); f:write(d); f:close()\n'
        'assert(debug == nil and python == nil and package.loadlib == nil)\n'
        'assert(load(d) == nil and loadfile("chunk.luac") == nil)\n'
        'task "t" { script = "true" }\n'
    )
    result = _essh(tmp_path, "plan", "t")
    assert result.returncode == 0, result.stderr


def _meta() -> PlanMeta:
    return PlanMeta(essh_version="review", created_at=0, lua_version="Lua 5.4")


@pytest.mark.parametrize(
    ("plan", "where"),
    [
        (Plan(meta=_meta(), tasks=(Task(name="a", backend="local", after=(1,)), Task(name="b", backend="local", after=(0,))),
              scripts=("true",), steps=(Step(0, None, 0), Step(1, None, 0))), "$.tasks[0].after[0]"),
        (Plan(meta=_meta(), tasks=(Task(name="a", backend="local", shell=()),), scripts=("true",), steps=(Step(0, None, 0),)),
         "$.tasks[0].shell"),
        (Plan(meta=_meta(), tasks=(Task(name="a"),), scripts=("true",), steps=(Step(0, None, 0),)), "$.steps[0].host"),
    ],
    ids=["cycle", "empty-shell", "remote-step-without-host"],
)
def test_crafted_plans_with_a_valid_digest_are_refused_before_anything_runs(tmp_path: Path, plan: Plan, where: str) -> None:
    (tmp_path / "crafted.bin").write_bytes(encode_plan(plan))
    result = _essh(tmp_path, "apply", "crafted.bin", "--report", "r.json")
    assert result.returncode == 2
    assert where in _error_line(result)
