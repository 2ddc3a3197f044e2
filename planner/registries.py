"""ESSH's registries: which configuration files are `global` and which `local`, and loading them.

ESSH 2 (before 3.0) called the two places configuration comes from registries:
`global` (`/etc/essh/config.lua`, `~/.essh/config.lua` and their
`_override` files; modules in `~/.essh/modules`) and `local`
(`.esshconfig.lua` in the working directory or `--config`, and
`.esshconfig_override.lua`; modules in `.essh/modules` beside it). A task's
targets select among the hosts of its own registry.

By default essh keeps ESSH 3's rule (`discovery`): one main file (the local
one, else `~/.essh/config.lua`) and the override files, all in one registry,
`local` when a local file is among them, else `global`. With `with_global`
(ESSH 2's `--with-global`, essh's `ESSH_WITH_GLOBAL=1`) both registries load,
each in its own Lua state, in ESSH 2's order. A host or task name, or a driver
name, defined in both registries is an error (ESSH 2 refused two public hosts
of one name; essh refuses every such pair rather than pick one silently).
Pure: the working directory, home, system folder and environment are passed in.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence

import msgspec

from .discovery import LOCAL_CONFIG, LOCAL_OVERRIDE, USER_CONFIG, USER_OVERRIDE, discover_config_files, explicit_config
from .model import Config, ConfigError

GLOBAL, LOCAL = "global", "local"
SYSTEM_DIR = "/etc/essh"
_LOCK = ".essh.lock.json"


def wants_global(environ: Mapping[str, str]) -> bool:
    """ESSH_WITH_GLOBAL set (and not 0/false/no): load both registries."""
    return environ.get("ESSH_WITH_GLOBAL", "") not in ("", "0", "false", "no")


def system_dir(environ: Mapping[str, str]) -> str:
    """Where the global registry's system files are: ESSH_SYSTEM_DIR, else /etc/essh."""
    return environ.get("ESSH_SYSTEM_DIR") or SYSTEM_DIR


class Registry(msgspec.Struct, frozen=True):
    """One registry to load: its files in order, and where its modules and lock file live."""

    name: str  # GLOBAL or LOCAL
    paths: tuple[str, ...]
    modules_dir: str
    lock_path: str


def discover_registries(
    config: str | None,
    *,
    cwd: str,
    home: str,
    environ: Mapping[str, str],
    with_global: bool = False,
    system_dir: str = SYSTEM_DIR,
) -> list[Registry]:
    """The registries to load, global first (ESSH 2's order), each with at least one file."""
    home = os.path.abspath(os.path.expanduser(home))
    if not with_global:
        paths = discover_config_files(config, cwd=cwd, home=home, environ=environ)
        user_files = {os.path.join(home, USER_CONFIG), os.path.join(home, USER_OVERRIDE)}
        if all(path in user_files for path in paths):
            return [_global(paths, home)]
        return [_local(paths)]
    found: list[Registry] = []
    global_paths = [
        os.path.join(system_dir, "config.lua"),
        os.path.join(home, USER_CONFIG),
        os.path.join(home, USER_OVERRIDE),
        os.path.join(system_dir, "config_override.lua"),
    ]
    global_paths = [path for path in global_paths if os.path.isfile(path)]
    for path in global_paths:
        _refuse_if_others_may_write(path)
    if global_paths:
        found.append(_global(global_paths, home))
    local_paths = _local_paths(config, cwd=cwd, environ=environ)
    seen = {os.path.realpath(path) for path in global_paths}
    local_paths = [path for path in local_paths if os.path.realpath(path) not in seen]
    if local_paths:
        found.append(_local(local_paths))
    if not found:
        raise ConfigError(
            f"no configuration found: looked for {os.path.join(cwd, LOCAL_CONFIG)}, {os.path.join(home, USER_CONFIG)}"
            f" and {os.path.join(system_dir, 'config.lua')}; create one or pass --config FILE"
        )
    return found


def _refuse_if_others_may_write(path: str) -> None:
    """A global registry's file runs for every user who plans with --with-global: like OpenSSH with its
    configuration, essh refuses one (or its folder) that another user may change, or another user owns."""
    for place in (path, os.path.dirname(os.path.abspath(path))):
        st = os.stat(place)
        sticky_folder = stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX
        if st.st_mode & 0o022 and not sticky_folder or st.st_uid not in (0, os.getuid()):
            raise ConfigError(
                f"{place} may be changed by other users (mode {stat.S_IMODE(st.st_mode):04o}, owner uid {st.st_uid}): "
                f"essh does not load the global registry from it; make it writable by its owner only (chmod go-w)"
            )


def _local_paths(config: str | None, *, cwd: str, environ: Mapping[str, str]) -> list[str]:
    """The local registry's files: --config (or ESSH_CONFIG) else `.esshconfig.lua`, then the override."""
    cwd = os.path.abspath(cwd)
    main = explicit_config(config, cwd=cwd, environ=environ)
    if main:
        paths = [os.path.normpath(main)]
    else:
        paths = [path for path in (os.path.join(cwd, LOCAL_CONFIG),) if os.path.isfile(path)]
    override = os.path.join(cwd, LOCAL_OVERRIDE)
    if os.path.isfile(override) and os.path.normpath(override) not in paths:
        paths.append(os.path.normpath(override))
    return paths


def _global(paths: Sequence[str], home: str) -> Registry:
    data = os.path.join(home, ".essh")
    return Registry(GLOBAL, tuple(paths), os.path.join(data, "modules"), os.path.join(data, _LOCK))


def _local(paths: Sequence[str]) -> Registry:
    base = os.path.dirname(os.path.abspath(paths[0]))
    return Registry(LOCAL, tuple(paths), os.path.join(base, ".essh", "modules"), os.path.join(base, _LOCK))


def load_registries(registries: Sequence[Registry], *, home: str | None = None) -> Config:
    """Each registry loaded in its own Lua state (`loader.load_config`), merged into one Config."""
    from .loader import check_names, load_config
    from .modules import Pinned

    configs = []
    for registry in registries:
        base = os.path.dirname(os.path.abspath(registry.paths[0]))
        pinned = Pinned(base, registry.modules_dir, registry.lock_path)
        configs.append(load_config(list(registry.paths), modules=pinned, home=home, registry=registry.name))
    if len(configs) == 1:
        return configs[0]
    merged = merge(configs)
    check_names(merged.hosts, merged.tasks)
    return merged


def merge(configs: Sequence[Config]) -> Config:
    """One Config of several registries'; a name defined in two of them is an error."""
    hosts: dict = {}
    tasks: dict = {}
    drivers: dict = {}
    for config in configs:
        for kind, table, mine in (("host", hosts, config.hosts), ("task", tasks, config.tasks), ("driver", drivers, config.drivers)):
            for name, item in mine.items():
                if name in table:
                    first = table[name]
                    raise ConfigError(
                        f"{kind} '{name}' is defined in two registries (also at {first.defined_at}); with both"
                        " registries loaded (--with-global) each name must be defined once",
                        item.defined_at,
                    )
                table[name] = item
    last = configs[-1]
    return Config(
        files=[f for config in configs for f in config.files],
        hosts=dict(sorted(hosts.items())),
        tasks=tasks,
        drivers=drivers,
        lua_version=last.lua_version,
        notices=[n for config in configs for n in config.notices],
        secret_reads=[n for config in configs for n in config.secret_reads],
        ssh_config=last.ssh_config,  # the local registry's, loaded last
        modules=sorted(m for config in configs for m in config.modules),
    )
