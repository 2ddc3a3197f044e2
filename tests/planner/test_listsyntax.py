"""The list syntax `["a", "b"]` becomes Lua's `{"a", "b"}`; everything else keeps Lua's meaning."""

from __future__ import annotations

import re
import time

import lupa.lua54 as lua54
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from essh.planner.listsyntax import translate

# The seed spec's examples, as written there.
SEED_EXAMPLES = [
    """
-- Define a basic system update task that runs on multiple hosts
task "update" {
    description = "Update system packages",
    -- Use glob pattern to match multiple hosts
    -- Here it will match 'web-1', 'web-prod', etc.
    targets = ["web-*"],

    -- Multi-line script using heredoc syntax
    -- Commands will run sequentially
    script = [[
        sudo apt update
        sudo apt upgrade -y
    ]]
}
""",
    """
-- Define a deployment task that depends on other tasks
task "deploy" {
    description = "Deploy application",
    -- These tasks must complete successfully before
    -- this task will run, in the order specified
    depends = ["build", "backup"],

    -- Only run on hosts tagged as 'production'
    targets = ["production"],

    -- Run sequentially on each target host
    -- (false means don't run in parallel)
    parallel = false
}
""",
    """
-- Define a task that runs simultaneously on all hosts
task "check-status" {
    description = "Check service status across all servers",
    -- Special target 'all' means run on every defined host
    targets = ["all"],

    -- parallel = true means run on all targets simultaneously
    -- This is good for independent operations like status checks
    parallel = true,

    -- Single command execution
    script = "systemctl status nginx"
}
""",
]

SEED_VALUES = [
    {
        "update": {
            "description": "Update system packages",
            "targets": ["web-*"],
            "script": "        sudo apt update\n        sudo apt upgrade -y\n    ",
        }
    },
    {
        "deploy": {
            "description": "Deploy application",
            "depends": ["build", "backup"],
            "targets": ["production"],
            "parallel": False,
        }
    },
    {
        "check-status": {
            "description": "Check service status across all servers",
            "targets": ["all"],
            "parallel": True,
            "script": "systemctl status nginx",
        }
    },
]

_STUBS = """
local defined = {}
function task(name) return function(t) defined[name] = t end end
return defined
"""


def lua_to_python(value):
    """A Lua value as plain Python: sequences become lists, other tables dicts."""
    if lua54.lua_type(value) != "table":
        return value
    items = {k: lua_to_python(v) for k, v in value.items()}
    if all(isinstance(k, int) for k in items) and sorted(items) == list(range(1, len(items) + 1)):
        return [items[i] for i in range(1, len(items) + 1)]
    return items


def run_config(source: str) -> dict:
    """Execute `source` with a stub `task` and return what it defined."""
    lua = lua54.LuaRuntime()
    defined = lua.execute(_STUBS)
    lua.execute(translate(source))
    return lua_to_python(defined)


def lua_error(source: str) -> str:
    """Lua's compile error for `source` (named "config.lua"), or "" if it compiles."""
    lua = lua54.LuaRuntime()
    check = lua.eval("function(s) local f, e = load(s, '@config.lua'); return f and '' or e end")
    return check(source)


@pytest.mark.parametrize("example, expected", list(zip(SEED_EXAMPLES, SEED_VALUES)))
def test_seed_examples_load_with_the_values_written(example, expected):
    assert "unexpected symbol near '['" in lua_error(example)
    assert run_config(example) == expected


@pytest.mark.parametrize(
    "source, expected",
    [
        ('x = ["a", "b"]', 'x = {"a", "b"}'),
        ("x = []", "x = {}"),
        ("f([1], [2])", "f({1}, {2})"),
        ("return [1]", "return {1}"),
        ("x = a or [1]", "x = a or {1}"),
        ("x = not [1]", "x = not {1}"),
        ("x = a .. [1]", "x = a .. {1}"),
        ("x = a == [1]", "x = a == {1}"),
        ("x = #[1]", "x = #{1}"),
        ("x = [ [1], [ [2] ] ]", "x = { {1}, { {2} } }"),
        ("x = {1, [2]; [3]}", "x = {1, {2}; {3}}"),
        ("x = {a = [1], b = {c = [2]}}", "x = {a = {1}, b = {c = {2}}}"),
        ("x = [{a = [1]}]", "x = {{a = {1}}}"),
        ("x = { [ [1] ] = 2 }", "x = { [ {1} ] = 2 }"),
        ("x = -- note\n  [1]", "x = -- note\n  {1}"),
        ("x = --[[ [ ]] [1]", "x = --[[ [ ]] {1}"),
        ("x = [1 --[[ ] ]] , 2]", "x = {1 --[[ ] ]] , 2}"),
        ('x = ["]", "[", "\\"]"]', 'x = {"]", "[", "\\"]"}'),
        ("for _, v in ipairs([1, 2]) do end", "for _, v in ipairs({1, 2}) do end"),
    ],
)
def test_lists_in_value_position_become_tables(source, expected):
    assert translate(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "x = t[1]",
        'x = t["k"]',
        "x = f()[1]",
        "x = t.x[1]",
        "x = t[1][2]",
        "x = {1}[1]",
        'x = f"s"[1]',
        "x = f[[s]][1]",
        "x = t --[[c]] [1]",
        "x = t -- c\n[1]",
        'x = { ["k"] = 1, [2] = 3; [f(1)] = [=[v]=] }',
        "x = [[long [1] string]]",
        "x = [==[ ]] [1] ]==]",
        "x = [[a]] .. [=[b]=]",
        "-- [1]\nx = 1",
        "--[[ x = [1] ]] y = 2",
        "--[==[ x = [1] ]] ]==] y = 2",
        "x = 'a[1]' .. \"b]\"",
        "x = \"\\z\n   [1]\"",
        "x = t[a[b[c]]]",
        "x = t [ 1 ]",
        "t[1] = 2",
        "x = 1 --[[ unfinished long comment [1]",
        "x = [[ unfinished long string [1]",
    ],
)
def test_plain_lua_is_untouched(source):
    assert translate(source) == source


def test_long_string_in_value_position_keeps_luas_meaning():
    # `[["a"]]` is a long string in Lua: write `[ ["a"] ]` for a nested list.
    assert run_config('task "t" { targets = [["a"]] }') == {"t": {"targets": '"a"'}}
    assert run_config('task "t" { targets = [ ["a"] ] }') == {"t": {"targets": [["a"]]}}


def test_table_keys_followed_by_comments_stay_keys():
    source = 'x = { ["k"] --[[ c ]] -- d\n = [1] }'
    assert translate(source) == 'x = { ["k"] --[[ c ]] -- d\n = {1} }'


def test_unclosed_list_leaves_luas_error_at_the_list_line():
    source = 'task "t" {\n    description = "d",\n    targets = ["a", "b",\n    script = "x",\n}\n'
    out = translate(source)
    assert out == source
    assert "config.lua:3: unexpected symbol near '['" in lua_error(out)


def test_mismatched_brackets_are_not_turned_into_valid_code():
    source = "x = { a = [1, 2 }, b = 3 ]"
    assert lua_error(translate(source))


def test_errors_after_lists_keep_their_line():
    source = 'x = ["a",\n  "b"]\ny = {\n  [1] = 2,\n  z = ,\n}\n'
    assert "config.lua:5:" in lua_error(translate(source))


# --- properties -----------------------------------------------------------------------------

_NAMES = st.sampled_from(["t", "x", "self", "_ENV", "endx", "andy", "v1"])
_STRING_TEXT = st.text(alphabet="ab[]{}=-'\" \\n", max_size=8)


def _short_string(text: str, quote: str) -> str:
    body = text.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("\n", "\\n")
    return quote + body + quote


@st.composite
def _long_string(draw) -> str:
    text = draw(st.text(alphabet="ab[]=\n ", max_size=10))
    level = 0
    while "]" + "=" * level + "]" in text + "]":
        level += 1
    return "[" + "=" * level + "[" + text + "]" + "=" * level + "]"


_SPACES = st.sampled_from([" ", "  ", "\n", " --[[ [c] ]] ", " -- [c]\n", "\t", " --[==[ ]] ]==]\n"])


def _exprs():
    strings = st.one_of(
        st.builds(_short_string, _STRING_TEXT, st.sampled_from(["'", '"'])),
        _long_string(),
    )
    atoms = st.one_of(st.integers(0, 99).map(str), strings, _NAMES, st.sampled_from(["true", "nil", "..."]))

    def extend(inner):
        field = st.one_of(
            inner,
            st.tuples(_NAMES, inner).map(lambda kv: f"{kv[0]} = {kv[1]}"),
            st.tuples(_SPACES, inner, _SPACES, inner).map(lambda p: f"[{p[0]}{p[1]}{p[2]}] = {p[3]}"),
        )
        return st.one_of(
            st.tuples(_NAMES, _SPACES, inner).map(lambda p: f"{p[0]}{p[1]}[ {p[2]} ]"),
            st.tuples(_NAMES, inner).map(lambda p: f"{p[0]}.k[ {p[1]} ]"),
            st.tuples(_NAMES, inner).map(lambda p: f"{p[0]}({p[1]})[1]"),
            st.tuples(_NAMES, strings).map(lambda p: f"{p[0]}{p[1]}[1]"),
            st.lists(field, max_size=4).map(lambda fs: "{" + ", ".join(fs) + "}"),
            st.tuples(inner, st.sampled_from(["..", "+", "==", "and", "or", "<="]), _SPACES, inner).map(
                lambda p: f"{p[0]} {p[1]}{p[2]}{p[3]}"
            ),
            inner.map(lambda e: f"({e})"),
        )

    return st.recursive(atoms, extend, max_leaves=12)


_EXPRS = _exprs()


@st.composite
def plain_lua_programs(draw) -> str:
    statements = draw(
        st.lists(
            st.one_of(
                st.tuples(_NAMES, _EXPRS).map(lambda p: f"local {p[0]} = {p[1]}"),
                st.tuples(_NAMES, _EXPRS, _EXPRS).map(lambda p: f"{p[0]}[ {p[1]} ] = {p[2]}"),
                st.tuples(_NAMES, _EXPRS).map(lambda p: f"{p[0]}({p[1]})"),
            ),
            min_size=1,
            max_size=5,
        )
    )
    seps = draw(st.lists(_SPACES, min_size=len(statements), max_size=len(statements)))
    body = "".join(f"{s}{sep}" for s, sep in zip(statements, seps))
    return "local function f(...)\n" + body + "\nend\n"


@settings(max_examples=200, deadline=None)
@given(plain_lua_programs())
def test_plain_lua_programs_are_unchanged(program):
    assert lua_error(program) == "", program  # the generator writes valid Lua
    assert translate(program) == program


def _values():
    scalars = st.one_of(
        st.integers(-1000, 1000),
        st.booleans(),
        st.text(alphabet="ab[]{}'\"\\ ,=-", max_size=6),
    )

    def extend(inner):
        lists = st.tuples(st.booleans(), st.lists(inner, max_size=4)).map(
            lambda p: (
                [v for v, _, _ in p[1]],
                "{" + ", ".join(plain for _, plain, _ in p[1]) + "}",
                ("[ " if p[0] else "{ ") + ", ".join(listy for _, _, listy in p[1]) + (" ]" if p[0] else " }"),
            )
        )
        dicts = st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,4}", fullmatch=True), inner, min_size=1, max_size=3)
        dict_values = dicts.map(
            lambda d: (
                {k: v for k, (v, _, _) in d.items()},
                "{" + ", ".join(f'["{k}"] = {plain}' for k, (_, plain, _) in d.items()) + "}",
                "{" + ", ".join(f'["{k}"] = {listy}' for k, (_, _, listy) in d.items()) + "}",
            )
        )
        return st.one_of(lists, dict_values)

    leaves = scalars.map(lambda v: (v, _lua_literal(v), _lua_literal(v)))
    return st.recursive(leaves, extend, max_leaves=15)


def _lua_literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _short_string(value, '"')


@settings(max_examples=200, deadline=None)
@given(_values())
def test_list_syntax_and_lua_tables_evaluate_equal(case):
    value, plain, listy = case
    lua = lua54.LuaRuntime()
    assert translate(plain) == plain
    from_plain = lua_to_python(lua.execute("return " + plain))
    from_listy = lua_to_python(lua.execute(translate("return " + listy)))
    expected = [] if value in ({}, []) else value
    assert from_plain == from_listy == expected


@settings(max_examples=300)
@given(st.text(alphabet="[]{}()=,;-'\"\\ \nabz1.", max_size=60))
def test_only_brackets_change_and_lines_stay(source):
    out = translate(source)
    assert len(out) == len(source)
    assert out.count("\n") == source.count("\n")
    for a, b in zip(source, out):
        assert a == b or (a, b) in {("[", "{"), ("]", "}")}
    assert out.count("{") - source.count("{") == out.count("}") - source.count("}")


def test_a_10000_host_config_translates_quickly():
    hosts = "".join(
        f'host "web-{i:05d}" {{\n    HostName = "10.0.{i // 256}.{i % 256}",\n    Port = 22,\n'
        f'    -- rack [{i % 40}]\n    tags = ["web", "zone-{i % 3}"],\n'
        f'    props = {{ ["rack"] = "r{i % 40}" }},\n}}\n'
        for i in range(10_000)
    )
    assert len(hosts) > 1_000_000
    best = min(_timed(translate, hosts) for _ in range(5))
    # Against a same-run baseline (one regex pass over the text finding what translate looks at),
    # not a number of seconds: machines differ and CI shares its CPU. Measured: about 5x.
    baseline = min(_timed(_SCAN.findall, hosts) for _ in range(5))
    assert best < 12 * baseline, f"{best:.3f} s, {best / baseline:.1f}x a regex scan of the text"
    assert re.search(r'tags = \{"web", "zone-0"\}', translate(hosts))


_SCAN = re.compile(r'"[^"]*"|--[^\n]*|\[|\]|\{|\}')


def _timed(fn, arg) -> float:
    """CPU seconds of `fn(arg)`: other processes on a busy machine do not count."""
    start = time.process_time()
    fn(arg)
    return time.process_time() - start


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "x = " + "(" * n + "]" * n,
        lambda n: "x = " + "[ " * n + ")" * n,
        lambda n: "x = " + "[ " * n + "]" * n,
        lambda n: "x = " + "t[" * n + "--[[c]]" * (n // 50) + "]" * n,
    ],
    ids=["stray closers", "unclosed lists", "deep lists", "deep indexing"],
)
def test_pathological_brackets_stay_linear(make):
    small, large = make(10_000), make(40_000)
    ratio = min(_timed(translate, large) for _ in range(3)) / min(_timed(translate, small) for _ in range(3))
    assert ratio < 8, f"4x the input took {ratio:.1f}x the time"
