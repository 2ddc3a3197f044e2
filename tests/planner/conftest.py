"""Fixtures of the planner tests: configuration files written into a temporary folder, then loaded."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from essh.planner.loader import load_config
from essh.planner.model import Config, ConfigError


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., str]:
    """write(name, text) -> absolute path; the text is dedented."""

    def write(name: str, text: str) -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return str(path)

    return write


@pytest.fixture
def load(write: Callable[..., str]) -> Callable[..., Config]:
    """load(text, name="config.lua") -> Config of that one file."""

    def load(text: str, name: str = "config.lua") -> Config:
        return load_config([write(name, text)])

    return load


@pytest.fixture
def load_error(load: Callable[..., Config]) -> Callable[..., ConfigError]:
    """load_error(text) -> the ConfigError loading it raises."""

    def load_error(text: str, name: str = "config.lua") -> ConfigError:
        with pytest.raises(ConfigError) as caught:
            load(text, name)
        return caught.value

    return load_error
