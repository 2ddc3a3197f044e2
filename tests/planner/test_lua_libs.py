"""ESSH's built-in Lua libraries: json, env and fs (read-only), re, template, yaml, and the impure ones refused with why."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
     ("sh", "planning runs no commands")],
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


def test_re_has_gluares_functions_with_gos_syntax(write):
    props = props_of(write, r"""
local re = require "re"
local s, n = re.gsub("a1b22c333", "\\d+", "<%0>")
local first, last, word, num = re.find("hello world 42", "(\\w+) (\\d+)")
local words = {}
for w in re.gmatch("one two  three", "\\w+") do words[#words + 1] = w end
task "t" { script = "x", props = {
    gsub = s .. " " .. n, find = table.concat({first, last, word, num}, ","),
    match = table.concat({re.match("key=value", "(?P<k>\\w+)=(\\w+)")}, ","),
    whole = re.match("abc123", "[0-9]+"), none = tostring(re.match("abc", "\\d")),
    split = table.concat(re.split("a, b,c", ",\\s*"), "|"), gmatch = table.concat(words, "+"),
    quote = re.quote("a.b*c"), fn = (re.gsub("x-y", "(\\w)", function(c) return c:upper() end)),
    plain = tostring(re.find("a.b", ".", 1, true)) .. tostring(re.find("xa.b", ".", 2, true)),
} }
""")
    assert props == {
        "gsub": "a<1>b<22>c<333> 3", "find": "7,14,world,42", "match": "key,value", "whole": "123", "none": "nil",
        "split": "a|b|c", "gmatch": "one+two+three", "quote": r"a\.b\*c", "fn": "X-Y", "plain": "23",
    }


def test_re_offsets_are_bytes_as_in_lua(write):
    props = props_of(write, 'local re = require "re"\nlocal a, b = re.find("héllo wörld", "w\\\\S+")\n'
                     'task "t" { script = "x", props = { at = a .. "-" .. b, sub = ("héllo wörld"):sub(a, b) } }')
    assert props == {"at": "8-13", "sub": "wörld"}


def test_re_bad_pattern_is_one_line_at_the_call(load_error):
    error = load_error('local re = require "re"\n\nre.match("x", "a(")\n')
    assert error.message.startswith("re.match: bad regular expression") and error.source.line == 3


def test_re_catastrophic_pattern_runs_in_linear_time(write):
    # (a+)+$ against a's and a '!' backtracks exponentially in a backtracking engine; RE2 does not.
    start = time.process_time()
    props = props_of(write, 'local re = require "re"\ntask "t" { script = "x", props = {'
                     ' v = tostring(re.match(string.rep("a", 200000) .. "!", "(a+)+$")) } }')
    assert props == {"v": "nil"}
    small = time.process_time()
    props_of(write, 'local re = require "re"\ntask "t" { script = "x", props = { v = tostring(re.match("a!", "(a+)+$")) } }')
    assert time.process_time() - small < 5 and small - start < 5  # seconds: a backtracking engine would never end


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab-1 ", max_size=20), st.sampled_from(["a+", "b", "[0-9]", "-", " +", "a|b"]))
def test_re_gsub_agrees_with_python(tmp_path_factory, subject, pattern):
    import re as python_re

    folder = tmp_path_factory.mktemp("re")
    path = folder / "config.lua"
    path.write_text(f'local re = require "re"\nlocal s, n = re.gsub({subject!r}, {pattern!r}, "<%0>")\n'
                    'task "t" { script = "x", props = { s = s, n = n } }\n'.replace("'", '"'))
    props = load_config([str(path)]).tasks["t"].props
    expected, count = python_re.subn(pattern, lambda m: f"<{m.group()}>", subject)
    assert props == {"s": expected, "n": str(count)}


def test_template_renders_go_templates_with_values(write, load_error):
    data = write("motd.tmpl", "Welcome to {{.host}}{{range .users}} {{. | ToUpper}}{{end}}\n")
    path = write("config.lua", f"""
local template = require "template"
local text = template.dostring("{{{{.name}}}}: {{{{if .on}}}}on{{{{else}}}}off{{{{end}}}}", {{ name = "web", on = true }})
local file = template.dofile("{data}", {{ host = "web-1", users = {{"ann", "bob"}} }})
local bad, why = template.dostring("{{{{.x", {{}})
task "t" {{ script = "x", props = {{ text = text, file = file, bad = tostring(bad), why = why }} }}
""")
    cfg = load_config([path])
    assert cfg.tasks["t"].props == {"text": "web: on", "file": "Welcome to web-1 ANN BOB\n", "bad": "nil",
                                    "why": "template: line 1: unexpected 'end of template' in action (unclosed action?)"}
    assert data in [f.path for f in cfg.files]  # a template file is recorded with its digest


def test_yaml_parses_plain_data_and_dumps_sorted(write):
    props = props_of(write, r"""
local yaml = require "yaml"
local doc = yaml.parse("key1: value1\nkey2:\n  - value2\n  - 3\nwhen: 2024-01-02\nobj: !!python/object:os.system {}\n")
""".replace("obj: !!python/object:os.system {}\\n", "") + r"""
local bad, why = yaml.parse("a: [b")
local evil, refused = yaml.parse("x: !!python/object/apply:os.system ['true']\n")
task "t" { script = "x", props = {
    key1 = doc.key1, first = doc.key2[1], second = math.type(doc.key2[2]), when = doc.when,
    dump = yaml.dump({ b = 1, a = { "x" } }), bad = tostring(bad), why = why, evil = tostring(evil), refused = refused,
} }
""")
    assert props["key1"] == "value1" and props["first"] == "value2" and props["second"] == "integer"
    assert props["when"] == "2024-01-02"
    assert props["dump"] == "a:\n- x\nb: 1\n"
    assert props["bad"] == "nil" and props["why"].startswith("yaml.parse: while parsing a flow sequence")
    assert props["evil"] == "nil" and "could not determine a constructor" in props["refused"]  # safe_load: no Python objects
