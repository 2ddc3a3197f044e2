"""Which files make ESSH's `global` and `local` registries (planner/registries.py), and merging them."""

from __future__ import annotations

import pytest

from essh.planner.model import Config, ConfigError, HostDef, Source
from essh.planner.registries import discover_registries, merge


def _tree(tmp_path, *names):
    for name in names:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("-- x\n")
    return tmp_path


def _find(tmp_path, config=None, **kw):
    return discover_registries(config, cwd=str(tmp_path / "cwd"), home=str(tmp_path / "home"), environ=kw.pop("environ", {}),
                               system_dir=str(tmp_path / "etc"), **kw)


def test_with_global_follows_essh_2s_order(tmp_path):
    _tree(tmp_path, "etc/config.lua", "etc/config_override.lua", "home/.essh/config.lua", "home/.essh/config_override.lua",
          "cwd/.esshconfig.lua", "cwd/.esshconfig_override.lua")
    glob, local = _find(tmp_path, with_global=True)
    assert (glob.name, local.name) == ("global", "local")
    assert [p[len(str(tmp_path)) + 1:] for p in glob.paths] == [
        "etc/config.lua", "home/.essh/config.lua", "home/.essh/config_override.lua", "etc/config_override.lua"]
    assert [p[len(str(tmp_path)) + 1:] for p in local.paths] == ["cwd/.esshconfig.lua", "cwd/.esshconfig_override.lua"]
    assert glob.modules_dir == str(tmp_path / "home" / ".essh" / "modules")
    assert local.modules_dir == str(tmp_path / "cwd" / ".essh" / "modules")
    assert local.lock_path == str(tmp_path / "cwd" / ".essh.lock.json")


def test_default_rule_is_one_registry(tmp_path):
    _tree(tmp_path, "etc/config.lua", "home/.essh/config.lua", "cwd/.esshconfig.lua")
    (only,) = _find(tmp_path)
    assert only.name == "local" and only.paths == (str(tmp_path / "cwd" / ".esshconfig.lua"),)
    (tmp_path / "cwd" / ".esshconfig.lua").unlink()
    (only,) = _find(tmp_path)
    assert only.name == "global" and only.modules_dir == str(tmp_path / "home" / ".essh" / "modules")


def test_config_option_is_the_local_registry_and_must_exist(tmp_path):
    _tree(tmp_path, "home/.essh/config.lua", "cwd/other.lua")
    regs = _find(tmp_path, "other.lua", with_global=True)
    assert [(r.name, [p.rsplit("/", 1)[-1] for p in r.paths]) for r in regs] == [("global", ["config.lua"]), ("local", ["other.lua"])]
    with pytest.raises(ConfigError, match="does not exist"):
        _find(tmp_path, "nope.lua", with_global=True)


def test_nothing_anywhere_is_one_clear_error(tmp_path):
    (tmp_path / "cwd").mkdir()
    with pytest.raises(ConfigError, match="no configuration found"):
        _find(tmp_path, with_global=True)


def test_a_local_file_that_is_the_global_one_loads_once(tmp_path):
    _tree(tmp_path, "home/.essh/config.lua")
    regs = _find(tmp_path, str(tmp_path / "home" / ".essh" / "config.lua"), with_global=True)
    assert [r.name for r in regs] == ["global"]


def _config(hosts, registry):
    return Config(files=[], hosts={h: HostDef(h, Source(f"{registry}.lua", 1), registry=registry) for h in hosts},
                  tasks={}, drivers={}, lua_version="Lua 5.4")


def test_merge_keeps_both_and_refuses_a_name_twice():
    merged = merge([_config(["a"], "global"), _config(["b"], "local")])
    assert {n: h.registry for n, h in merged.hosts.items()} == {"a": "global", "b": "local"}
    with pytest.raises(ConfigError, match=r"host 'a' is defined in two registries \(also at global.lua:1\)"):
        merge([_config(["a"], "global"), _config(["a"], "local")])
