"""The Lua sandbox: configuration code reaches no Python object and loads no native code."""

from __future__ import annotations

import pytest

WALK = """
local seen, found = {}, {}
local function walk(v, path)
  local t = type(v)
  if t == "userdata" then
    if not io.type(v) then found[#found + 1] = path end
    return
  end
  if t ~= "table" or seen[v] then return end
  seen[v] = true
  for k, x in next, v do
    walk(k, path .. "[key]")
    walk(x, path .. "." .. tostring(k))
  end
  local mt = getmetatable(v)
  if mt ~= nil then walk(mt, path .. "<mt>") end
end
walk(_G, "_G")
walk(getmetatable(""), "<string mt>")
for _, h in ipairs(essh.select_hosts():get()) do walk(h, "host") end
walk(essh.select_hosts(), "selection")
essh.debug(#found == 0 and "clean" or table.concat(found, " "))
"""


def test_nothing_reachable_from_lua_is_a_python_object(load):
    assert load('host "a" { tags = {"x"} }\n' + WALK).notices == ["clean"]


def test_the_python_bridge_and_debug_library_are_gone(load):
    config = load(
        """
        essh.debug(type(python), type(package.loaded.python), type(debug), type(package.loaded.debug))
        essh.debug(type(package.loadlib), package.cpath, #package.searchers)
        essh.debug(tostring(rawget(_G, "python")), tostring(_G["python"]))
        """
    )
    assert config.notices == ["nil nil nil nil", "nil  0", "nil nil"]


@pytest.mark.parametrize(
    "attempt",
    [
        "python.eval('1')",
        "python.builtins.open('/etc/passwd')",
        "_G.python.import_module('os')",
        "package.loaded.python.eval('1')",
        "debug.getregistry()",
        "require('python')",
        "package.loadlib('liblua.so', 'luaopen_x')",
    ],
)
def test_python_tricks_fail_as_config_errors(load_error, attempt):
    error = load_error(f"\n{attempt}\n")
    assert error.source is not None and error.source.line == 2


def test_binary_chunks_are_refused(load):
    config = load(
        """
        local dumped = string.dump(function() return 1 end)
        local fn, err = load(dumped)
        essh.debug(tostring(fn), err)
        local fn2 = load("return 40 + 2")
        essh.debug(fn2())
        """
    )
    assert config.notices[0].startswith("nil attempt to load a binary chunk")
    assert config.notices[1] == "42"


def test_prepare_sees_lua_tables_not_python_objects(load):
    task = load(
        'task "t" { prepare = function(ctx) return type(ctx) .. " " .. type(ctx.list) .. " " .. type(ctx.map) end }'
    ).tasks["t"]
    assert task.prepare({"list": [1, 2], "map": {"a": (1, 2)}}) == "table table table"


def test_os_exit_cannot_end_essh(load_error):
    error = load_error("\nos.exit(3)\n")
    assert error.source.line == 2 and error.message.startswith("os.exit is not allowed in a configuration")
