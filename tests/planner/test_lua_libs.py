"""ESSH's built-in Lua libraries: json, env and fs (read-only), and the impure ones refused with why."""

from __future__ import annotations

import pytest

from essh.planner import load_config


def props_of(write, lua: str) -> dict:
    path = write("config.lua", lua)
    return load_config([path]).tasks["t"].props


def test_json_round_trips_and_sorts_keys(write):
    props = props_of(write, """
local json = require("json")
local v = json.decode('{"b": [1, 2.5, "x\\\\u00e9\\\\n"], "a": {"c": null, "d": true}, "e": {}}')
task "t" { script = "true", props = {
    text = json.encode(v), second = tostring(v.b[2]), third = v.b[3], empty = json.encode(json.decode("{}")),
} }
""")
    assert props == {"text": '{"a":{"d":true},"b":[1,2.5,"x\\u00e9\\n"],"e":{}}'.replace("\\u00e9", "é"),
                     "second": "2.5", "third": "xé\n", "empty": "{}"}


def test_json_errors_say_where(load_error):
    error = load_error('local json = require "json"\nlocal v = json.decode("[1, 2")\n')
    assert error.message.startswith("json.decode: expected ',' or ']' at character")
    assert error.source.line == 2


def test_env_reads_and_refuses_to_set(write, load_error, monkeypatch):
    monkeypatch.setenv("ESSH_LIB_TEST", "from-env")
    assert props_of(write, 'local env = require "env"\ntask "t" { script = "x", props = { v = env.get("ESSH_LIB_TEST") } }')["v"] == "from-env"
    error = load_error('local env = require "env"\nenv.set("A", "b")\n')
    assert error.message.startswith("env.set is not available: a plan must not change essh's environment")
    assert error.source.line == 2


def test_fs_reads_and_records_the_file(write, load_error):
    data = write("data/version.txt", "1.2.3\n")
    path = write("config.lua", f"""
local fs = require "fs"
task "t" {{ script = "x", props = {{ v = fs.read("{data}"), there = fs.exists("{data}"), dir = fs.isdir(fs.dirname("{data}")) }} }}
""")
    cfg = load_config([path])
    assert cfg.tasks["t"].props == {"v": "1.2.3\n", "there": "true", "dir": "true"}
    assert data in [f.path for f in cfg.files]
    error = load_error('local fs = require "fs"\nfs.write("x", "y")\n')
    assert error.message.startswith("fs.write is not available: planning is read-only")


@pytest.mark.parametrize(
    ("name", "why"),
    [("http", "it would reach the network while planning"), ("question", "planning asks nothing"),
     ("sh", "planning runs no commands"), ("yaml", "not available in this essh yet")],
)
def test_impure_libraries_are_refused_with_the_reason(load_error, name, why):
    error = load_error(f'\nlocal m = require "{name}"\n')
    assert why in error.message and error.source.line == 2


def test_require_looks_in_essh_s_lib_folders(write, tmp_path):
    write(".essh/lib/local_helper.lua", 'return { where = "project" }\n')
    home = tmp_path / "home"
    (home / ".essh" / "lib").mkdir(parents=True)
    (home / ".essh" / "lib" / "user_helper.lua").write_text('return { where = "user" }\n')
    (home / ".essh" / "lib" / "local_helper.lua").write_text('return { where = "user, shadowed" }\n')
    path = write("config.lua", 'task "t" { script = "x", props = { a = require("local_helper").where, b = require("user_helper").where } }')
    cfg = load_config([path], home=str(home))
    assert cfg.tasks["t"].props == {"a": "project", "b": "user"}
