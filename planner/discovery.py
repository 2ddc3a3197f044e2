"""Which configuration files to load, in which order, as ESSH finds them.

The main file: `--config FILE` (or ESSH_CONFIG), else `./.esshconfig.lua`,
else `~/.essh/config.lua`. Then the override files when present:
`./.esshconfig_override.lua`, `~/.essh/config_override.lua`. Pure: the
working directory, home and environment are passed in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .model import ConfigError

LOCAL_CONFIG = ".esshconfig.lua"
LOCAL_OVERRIDE = ".esshconfig_override.lua"
USER_CONFIG = os.path.join(".essh", "config.lua")
USER_OVERRIDE = os.path.join(".essh", "config_override.lua")


def explicit_config(config: str | None, *, cwd: str, environ: Mapping[str, str]) -> str | None:
    """The file `--config` (else ESSH_CONFIG) names, which must exist; None when neither is set."""
    explicit, origin = (config, "--config") if config else (environ.get("ESSH_CONFIG") or None, "ESSH_CONFIG")
    if not explicit:
        return None
    main = os.path.join(os.path.abspath(cwd), os.path.expanduser(explicit))
    if not os.path.isfile(main):
        what = "is not a regular file" if os.path.exists(main) else "does not exist"
        raise ConfigError(f"configuration file {main} (from {origin}) {what}")
    return main


def discover_config_files(
    config: str | None, *, cwd: str, home: str, environ: Mapping[str, str]
) -> list[str]:
    """Absolute paths of the configuration files to evaluate, in order.

    A file named explicitly must exist. Without any file at all (no main file
    and no override) there is nothing to plan: ConfigError.
    """
    cwd, home = os.path.abspath(cwd), os.path.abspath(os.path.expanduser(home))
    main = explicit_config(config, cwd=cwd, environ=environ)
    candidates: list[str]
    if main:
        candidates = [main]
    else:
        candidates = [path for path in (os.path.join(cwd, LOCAL_CONFIG), os.path.join(home, USER_CONFIG))
                      if os.path.isfile(path)][:1]
    overrides = [path for path in (os.path.join(cwd, LOCAL_OVERRIDE), os.path.join(home, USER_OVERRIDE))
                 if os.path.isfile(path)]
    if not candidates and not overrides:
        raise ConfigError(
            f"no configuration found: looked for {os.path.join(cwd, LOCAL_CONFIG)} and"
            f" {os.path.join(home, USER_CONFIG)}; create one or pass --config FILE"
        )
    paths: list[str] = []
    seen: set[str] = set()
    for path in candidates + overrides:
        path = os.path.normpath(path)
        if os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            paths.append(path)
    return paths
