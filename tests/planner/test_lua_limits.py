"""Lua limits that hold: no configuration code escapes the time limit, the memory cap or Ctrl-C.

Each case here ran forever (or took the machine's memory) before the limits
were enforced on every call into Lua; see `planner/lua_limits.py`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from essh.planner import ConfigError, Source
from essh.planner.loader import load_config
from essh.planner.lua_limits import Limits

LIMIT = 0.3
ENDLESS = "still running after 0.3 s of CPU time; is there an endless loop?"


def _load_error(write, source: str, **limits) -> ConfigError:
    path = write("config.lua", source)
    with pytest.raises(ConfigError) as caught:
        load_config([path], limits=Limits(cpu_seconds=LIMIT, **limits))
    return caught.value


@pytest.mark.parametrize(
    "source",
    [
        "error(setmetatable({}, {__tostring = function() while true do end end}))",
        "coroutine.wrap(function() while true do end end)()",
        "while true do pcall(function() while true do end end) end",
        "while true do xpcall(function() while true do end end, function() while true do end end) end",
        "while true do load(function() while true do end end) end",
        "while true do coroutine.resume(coroutine.create(function() while true do end end)) end",
        "while true do essh.select_hosts('x') end",
    ],
    ids=["tostring", "wrap", "pcall", "xpcall-handler", "load-reader", "resume", "loader-code"],
)
def test_endless_loops_that_catch_or_hide_the_stop_still_end(write, source):
    started = time.process_time()
    error = _load_error(write, f'host "x" {{}}\n{source}\n')
    assert error.message == ENDLESS and error.source.line == 2, str(error)
    assert time.process_time() - started < LIMIT + 1.0


def test_a_finalizer_is_refused_where_it_is_set(write):
    error = _load_error(write, "\nsetmetatable({}, {__gc = function() while true do end end})\n")
    assert error.source.line == 2 and error.message == "__gc (a finalizer) is not allowed in a configuration"


def test_a_finalizer_added_later_never_runs_and_files_keep_theirs(write):
    path = write(
        "config.lua",
        """
        local mt = {}
        setmetatable({}, mt)
        mt.__gc = function() while true do end end
        collectgarbage()
        essh.debug(tostring(getmetatable(io.stdout)))
        """,
    )
    started = time.process_time()
    assert load_config([path], limits=Limits(cpu_seconds=LIMIT)).notices == ["false"]
    assert time.process_time() - started < LIMIT


def test_the_loader_uses_none_of_the_functions_a_configuration_replaces(write):
    path = write(
        "config.lua",
        """
        local loop = function() while true do end end
        for _, name in ipairs({"find", "gsub", "sub", "gmatch", "format", "byte", "rep"}) do string[name] = loop end
        pcall, xpcall, tostring, type, next, ipairs, rawget = loop, loop, loop, loop, loop, loop, loop
        host "a" { description = "line\\n\\"quoted\\"", tags = {"t"} }
        task "t" { script = "x", prepare = function(ctx) ctx.seen = true end }
        """,
    )
    config = load_config([path], limits=Limits(cpu_seconds=LIMIT))
    assert config.hosts["a"].description == 'line\n"quoted"'
    ctx: dict = {}
    config.tasks["t"].prepare(ctx)
    assert ctx == {"seen": True}


def test_memory_is_capped_with_the_line_that_asked(write):
    error = _load_error(write, 'local t = {}\nfor i = 1, 4 do t[i] = string.rep("x", 2^30) end\n')
    assert error.source.line == 2
    assert error.message == "Lua ran out of memory: a configuration may use 512 MiB"


def test_the_memory_cap_is_a_setting(write):
    error = _load_error(write, 'local s = string.rep("x", 2^21)\n', memory_bytes=2**20)
    assert error.message == "Lua ran out of memory: a configuration may use 1 MiB"


def test_a_prepare_that_loops_in_its_error_handling_ends(write):
    path = write(
        "config.lua",
        'task "t" {\n  prepare = function()\n    while true do pcall(string.rep, "x", 2^40) end\n  end,\n}\n',
    )
    task = load_config([path], limits=Limits(cpu_seconds=LIMIT)).tasks["t"]
    with pytest.raises(ConfigError) as caught:
        task.prepare({})
    assert caught.value.message == ENDLESS and caught.value.source == Source(path, 3)


def _run(script: str, timeout: float = 30) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                            timeout=timeout)
    return result, time.monotonic() - started


def test_c_code_that_never_returns_to_the_hook_ends_the_process(tmp_path):
    """A backtracking pattern runs in C, where no hook fires: the watchdog stops the process."""
    config = tmp_path / "config.lua"
    config.write_text('\nstring.find(string.rep("a", 1e5), ".-.-.-.-.-.-b")\n')
    result, took = _run(
        f"""
        from essh.planner.loader import load_config
        from essh.planner.lua_limits import Limits
        load_config([{str(config)!r}], limits=Limits(cpu_seconds=0.5, grace_seconds=0.5))
        print("not reached")
        """
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        f"essh: configuration error: {config}: still running after 0.5 s of CPU time; is there an endless loop?"
        " (stuck in a Lua library call)\n"
    )
    assert took < 10


def _interrupt_plan(tmp_path, lua: str) -> tuple[subprocess.Popen, str, str, float]:
    """`essh plan` of `lua` (which first writes "started" to stderr), sent SIGINT once it runs."""
    config = tmp_path / "config.lua"
    config.write_text('io.stderr:write("started\\n")\n' + lua)
    env = {**os.environ, "ESSH_CONFIG": str(config)}
    process = subprocess.Popen([sys.executable, "-m", "essh", "plan"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr.readline() == "started\n"  # Lua is running
    time.sleep(0.2)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    return process, out, err, time.monotonic() - sent


def test_ctrl_c_ends_planning_with_130(tmp_path):
    process, out, err, took = _interrupt_plan(tmp_path, "while true do end\n")
    assert took < 3
    assert process.returncode == 130 and err == "essh: interrupted\n" and out == ""


def test_a_command_that_does_not_end_is_stopped_by_the_wall_clock(tmp_path):
    config = tmp_path / "config.lua"
    config.write_text('os.execute("exec sleep 5 >/dev/null 2>&1")\n')  # the pipes close when essh ends
    result, took = _run(
        f"""
        from essh.planner.loader import load_config
        from essh.planner.lua_limits import Limits
        load_config([{str(config)!r}], limits=Limits(wall_seconds=0.5, grace_seconds=0.5))
        """
    )
    assert result.returncode == 2 and "still running after 0.5 s; is it waiting for something" in result.stderr
    assert took < 4


def test_ctrl_c_inside_c_code_ends_planning_with_130(tmp_path):
    process, out, err, took = _interrupt_plan(tmp_path, 'string.find(string.rep("a", 1e5), ".-.-.-.-.-.-b")\n')
    assert took < 4  # the grace (1 s) for the hook to answer, then the watchdog
    assert process.returncode == 130 and err == "essh: interrupted\n" and out == ""
