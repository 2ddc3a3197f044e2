"""`essh.select_hosts` in Lua and a task's `targets` choose hosts by one rule: `planner/targets.py`'s."""

from __future__ import annotations

import pytest

from essh.planner.loader import load_config
from essh.planner.targets import HostIndex

HOSTS = {"web[1]": ["x[y"], "web1": ["edge"], "a*b": [], "a.b": ["t\\u"], "]x": ["!x"]}


@pytest.mark.parametrize("pattern", ["web[", "web[[]1]", "[!]]x", "a\\*b", "a[*]b", "t\\u", "[!w]*", "all", "edge", "x[y"])
def test_lua_selects_what_targets_select(write, pattern):
    lines = [f'host "{name}" {{ tags = {{{", ".join(repr(t) for t in tags)}}} }}' for name, tags in HOSTS.items()]
    lines.append("local names = {}")
    lines.append(f"for _, h in ipairs(essh.select_hosts({pattern!r}):get()) do names[#names + 1] = h.name end")
    lines.append('essh.debug(table.concat(names, " "))')
    config = load_config([write("config.lua", "\n".join(lines) + "\n")])
    chosen = HostIndex(config.hosts).select([pattern])
    assert config.notices == [" ".join(chosen)]
