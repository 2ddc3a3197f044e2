"""The CLI's side of ESSH's registries: which to load, and `essh modules` for each.

ESSH 2's `--with-global` (loading the global registry with the local one) is
essh's `ESSH_WITH_GLOBAL=1`; `essh --with-global ...` (anywhere before a lone
`--`) sets it for the command (`take_with_global`). See
`essh.planner.registries` for the rules and docs/essh-compatibility.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from essh.schema import escape_text

FLAG = "--with-global"
VARIABLE = "ESSH_WITH_GLOBAL"


def take_with_global(words: list[str]) -> list[str]:
    """`words` without `--with-global`, which sets ESSH_WITH_GLOBAL=1 for this command."""
    if FLAG not in words:
        return words
    os.environ[VARIABLE] = "1"
    return [word for word in words if word != FLAG]


def registries(config: str | None) -> list:
    """The registries this command loads (`planner.discover_registries`)."""
    from essh.planner.registries import discover_registries, system_dir, wants_global

    return discover_registries(
        config,
        cwd=os.getcwd(),
        home=str(Path.home()),
        environ=os.environ,
        with_global=wants_global(os.environ),
        system_dir=system_dir(os.environ),
    )


def modules_action(action: str, config: str | None) -> Iterator[str]:
    """`essh modules update|clean` for each registry loaded: lines to print."""
    from essh.planner import load_config
    from essh.planner.model import ConfigError

    from .modules_install import Installer, clean

    if action not in ("update", "clean"):
        raise ConfigError(f"essh modules takes update or clean, not {action!r}")
    lines = []
    for registry in registries(config):
        if action == "update":
            base = os.path.dirname(os.path.abspath(registry.paths[0]))
            installer = Installer(base, registry.modules_dir, registry.lock_path)
            load_config(list(registry.paths), modules=installer, home=str(Path.home()), registry=registry.name)
            lock = installer.write_lock()
            lines.append(f"{len(installer.locked)} git modules installed and locked in {escape_text(lock)} ({registry.name}).")
        else:
            removed = clean(registry.modules_dir)
            lines.append(f"Removed {escape_text(removed)} ({registry.name})." if removed else f"No installed modules ({registry.name}).")
    return iter(lines)
