"""Properties of the loader over many generated configurations (hypothesis).

- `essh.select_hosts(q):filter(f)` picks the hosts Python's fnmatch rules pick
  (a name or tag matching an entry; `all` matches every host), sorted by name.
- SSH options come out sorted by keyword, lists keeping their order, and the
  same configuration always loads to the same values.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from essh.planner.loader import load_config

# Host names start with h, tags with t: ESSH forbids a tag named like a host.
NAMES = st.text(alphabet="ab-1.", max_size=3).map(lambda rest: "h" + rest)
TAGS = st.text(alphabet="ab-1.", max_size=3).map(lambda rest: "t" + rest)
CLASS = st.builds(
    lambda negate, chars: "[" + ("!" if negate else "") + chars + "]",
    st.booleans(),
    st.sampled_from(["a", "ab", "a-c", "h1", "-a", "0-9", ".b", "ht", "s-u"]),
)
PATTERN = st.lists(st.one_of(st.sampled_from(list("htab-1.")), st.just("*"), st.just("?"), CLASS),
                   min_size=1, max_size=4).map("".join)
QUERY = st.one_of(PATTERN, st.just("all"), st.lists(PATTERN, min_size=1, max_size=3))
HOSTS = st.dictionaries(NAMES, st.lists(TAGS, max_size=3), max_size=8)


def _lua(value: str | list[str]) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return "{" + ", ".join(f'"{item}"' for item in value) + "}"


def _selects(hosts: dict[str, list[str]], query: str | list[str]) -> set[str]:
    entries = [query] if isinstance(query, str) else query
    return {
        name
        for name, tags in hosts.items()
        for entry in entries
        if entry == "all" or fnmatch.fnmatchcase(name, entry) or any(fnmatch.fnmatchcase(t, entry) for t in tags)
    }


def _load(tmp_path: Path, text: str):
    path = tmp_path / "config.lua"
    path.write_text(text)
    return load_config([str(path)])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hosts=HOSTS, query=QUERY, narrow=st.one_of(st.none(), QUERY))
def test_select_hosts_matches_fnmatch(tmp_path, hosts, query, narrow):
    lines = [f'host "{name}" {{ tags = {_lua(tags)} }}' for name, tags in hosts.items()]
    selection = f"essh.select_hosts({_lua(query)})"
    if narrow is not None:
        selection += f":filter({_lua(narrow)})"
    lines += [
        "local names = {}",
        f"for _, h in ipairs({selection}:get()) do names[#names + 1] = h.name end",
        'essh.debug(table.concat(names, " "))',
        f"local first = {selection}:first()",
        'essh.debug(first and first.name or "")',
    ]
    config = _load(tmp_path, "\n".join(lines) + "\n")
    expected = _selects(hosts, query)
    if narrow is not None:  # every filter narrows (ESSH's HostQuery.AppendFilters: an intersection)
        for entry in [narrow] if isinstance(narrow, str) else narrow:
            expected &= _selects(hosts, entry)
    assert config.notices[0].split() == sorted(expected)
    assert config.notices[1] == (min(expected) if expected else "")


OPTION_VALUE = st.one_of(
    st.text(alphabet="abc 19:/", max_size=6),
    st.integers(min_value=0, max_value=70000),
    st.booleans(),
)
OPTIONS = st.dictionaries(
    # HostName, Port and User must be one non-empty word: tested in test_loader_hardening.
    st.sampled_from(["IdentityFile", "ForwardAgent", "LocalForward", "SendEnv", "Ciphers", "ProxyCommand"]),
    st.one_of(OPTION_VALUE, st.lists(OPTION_VALUE, min_size=1, max_size=3)),
    max_size=7,
)


def _lua_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "{" + ", ".join(_lua_value(item) for item in value) + "}"
    return f'"{value}"'


def _text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(options=OPTIONS)
def test_ssh_options_sorted_stringified_and_stable(tmp_path, options):
    body = ", ".join(f"{key} = {_lua_value(value)}" for key, value in options.items())
    text = f'host "h" {{ {body} }}\n'
    first = _load(tmp_path, text).hosts["h"].ssh_options
    expected = [
        (key, _text(item))
        for key in sorted(options)
        for item in (options[key] if isinstance(options[key], list) else [options[key]])
    ]
    assert first == expected
    assert _load(tmp_path, text).hosts["h"].ssh_options == first


DETERMINISM = """
host "web02" { HostName = "b", Port = 22, User = "u", SendEnv = {"A", "B"}, tags = {"web", "prod"}, props = {z = 1, a = 2, m = 3} }
host "web01" { HostName = "a", ForwardAgent = true, IdentityFile = "k", tags = {"web"}, props = {k = "v", b = "c"} }
group {
    User = "grouped", Compression = "yes", tags = {"db"},
    host "db01" { Port = 5432 },
    host "db02" {},
}
for _, h in pairs(essh.select_hosts("web"):get()) do h.ServerAliveInterval = 30 end
task "deploy" { targets = "web", env = {B = 1, A = 2, C = 3}, props = {y = 1, x = 2}, script = {"a", "b", "c"} }
task "backup" { targets = "db", depends = {"deploy"}, parallel = 2, script = "b" }
"""


def test_the_same_configuration_loads_the_same_every_time(tmp_path):
    path = tmp_path / "config.lua"
    path.write_text(DETERMINISM)
    # Each load is a fresh Lua state with its own hash seed, so pairs() orders differ between them.
    loads = [load_config([str(path)]) for _ in range(8)]
    for config in loads[1:]:
        assert config.hosts == loads[0].hosts
        assert list(config.hosts) == list(loads[0].hosts)
        assert [list(h.props) for h in config.hosts.values()] == [list(h.props) for h in loads[0].hosts.values()]
        assert config.tasks == loads[0].tasks
        assert [(list(t.env), list(t.props)) for t in config.tasks.values()] == [
            (list(t.env), list(t.props)) for t in loads[0].tasks.values()
        ]


# Any value a configuration may put anywhere: loading succeeds or raises ConfigError, nothing else.
SCALAR_LUA = st.one_of(
    st.sampled_from(['"x"', '""', '"\\xff"', "0", "-1", "3", "2.5", "1/0", "0/0", "true", "false", "nil",
                     "io.stdout", "function() return 1 end", "function() error('no') end", "print",
                     "coroutine.create(print)", '"web"', '"local"', '"remote"', "{}"]),
)
LUA_VALUE = st.recursive(
    SCALAR_LUA,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: "{" + ", ".join(items) + "}"),
        st.dictionaries(st.sampled_from(["code", "description", "a", "B", "x_1"]), inner, max_size=3).map(
            lambda pairs: "{" + ", ".join(f"{k} = {val}" for k, val in pairs.items()) + "}"
        ),
    ),
    max_leaves=6,
)
ANY_KEY = st.sampled_from(
    ["description", "hidden", "private", "tags", "props", "hooks_before_connect", "script", "script_file",
     "targets", "filters", "backend", "driver", "depends", "parallel", "prefix", "env", "privileged", "user",
     "pty", "on_error", "timeout", "retries", "prepare", "disabled", "engine", "HostName", "Port", "colour"]
)
FIELDS = st.dictionaries(ANY_KEY, LUA_VALUE, max_size=4).map(
    lambda pairs: "{" + ", ".join(f"{k} = {val}" for k, val in pairs.items()) + "}"
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["host", "task", "driver"]), fields=FIELDS)
def test_any_value_anywhere_loads_or_is_a_config_error(tmp_path, kind, fields):
    from essh.planner.model import ConfigError

    try:
        config = _load(tmp_path, f'{kind} "x" {fields}\n')
        for task in config.tasks.values():
            if task.prepare is not None:
                task.prepare({"task": {"name": "x"}, "args": []})
        for driver in config.drivers.values():
            driver.engine({"name": "x", "props": {}})
    except ConfigError as error:
        assert error.message and "\n" not in error.message
