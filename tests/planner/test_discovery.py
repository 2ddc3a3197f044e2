"""Which configuration files are found, in which order (temporary folders, a fake HOME)."""

from __future__ import annotations

from pathlib import Path

import pytest

from essh.planner.discovery import discover_config_files
from essh.planner.model import ConfigError


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    cwd, home = tmp_path / "project", tmp_path / "home"
    (cwd).mkdir()
    (home / ".essh").mkdir(parents=True)
    return cwd, home


def _touch(path: Path) -> str:
    path.write_text("-- config\n")
    return str(path)


def _find(dirs: tuple[Path, Path], config: str | None = None, environ: dict[str, str] | None = None) -> list[str]:
    cwd, home = dirs
    return discover_config_files(config, cwd=str(cwd), home=str(home), environ=environ or {})


def test_local_config_wins_over_the_user_one(dirs):
    cwd, home = dirs
    local = _touch(cwd / ".esshconfig.lua")
    _touch(home / ".essh" / "config.lua")
    assert _find(dirs) == [local]


def test_user_config_when_there_is_no_local_one(dirs):
    _, home = dirs
    user = _touch(home / ".essh" / "config.lua")
    assert _find(dirs) == [user]


def test_overrides_follow_in_order(dirs):
    cwd, home = dirs
    main = _touch(cwd / ".esshconfig.lua")
    user_override = _touch(home / ".essh" / "config_override.lua")
    local_override = _touch(cwd / ".esshconfig_override.lua")
    assert _find(dirs) == [main, local_override, user_override]


def test_explicit_config_relative_to_cwd_then_overrides(dirs):
    cwd, home = dirs
    _touch(cwd / ".esshconfig.lua")
    chosen = _touch(cwd / "other.lua")
    override = _touch(home / ".essh" / "config_override.lua")
    assert _find(dirs, "other.lua") == [chosen, override]


def test_essh_config_variable(dirs, tmp_path):
    chosen = _touch(tmp_path / "from-env.lua")
    assert _find(dirs, environ={"ESSH_CONFIG": chosen}) == [chosen]
    explicit = _touch(tmp_path / "explicit.lua")
    assert _find(dirs, explicit, environ={"ESSH_CONFIG": chosen}) == [explicit]


def test_missing_explicit_config_is_an_error(dirs):
    with pytest.raises(ConfigError, match=r"configuration file .*missing.lua \(from --config\) does not exist"):
        _find(dirs, "missing.lua")
    with pytest.raises(ConfigError, match=r"\(from ESSH_CONFIG\)"):
        _find(dirs, environ={"ESSH_CONFIG": "gone.lua"})


def test_nothing_found_is_an_error_naming_where_it_looked(dirs):
    cwd, home = dirs
    with pytest.raises(ConfigError) as caught:
        _find(dirs)
    message = str(caught.value)
    assert message.startswith("no configuration found: looked for ")
    assert str(cwd / ".esshconfig.lua") in message and str(home / ".essh" / "config.lua") in message


def test_an_override_alone_is_enough(dirs):
    cwd, _ = dirs
    override = _touch(cwd / ".esshconfig_override.lua")
    assert _find(dirs) == [override]


def test_the_same_file_is_listed_once(dirs):
    cwd, _ = dirs
    override = _touch(cwd / ".esshconfig_override.lua")
    assert _find(dirs, override) == [override]


def test_paths_are_absolute(dirs, monkeypatch):
    cwd, _ = dirs
    _touch(cwd / ".esshconfig.lua")
    monkeypatch.chdir(cwd.parent)
    found = discover_config_files(None, cwd="project", home="home", environ={})
    assert found == [str(cwd / ".esshconfig.lua")]
