"""Lua configuration files in, a `Config` out.

The files run in order in one sandboxed Lua 5.4 state (`lua_runtime`); each
file's source first goes through the list-syntax translation. Definitions are
read once, after every file ran, so the object form (`local t = task "x";
t.script = ...`) and later edits through `essh.select_hosts` are seen.

A later definition of the same host, task or driver name replaces the earlier
one entirely (it keeps the earlier one's place in definition order); to extend
a definition instead, edit the object (`essh.select_hosts("web"):get()`).
"""

from __future__ import annotations

import hashlib
import os

import msgspec

from .discovery import discover_config_files
from .listsyntax import translate
from .lua_entries import Entry, driver_def, host_def, task_def
from .lua_limits import Limits
from .lua_runtime import LuaState
from .model import Config, ConfigError, ConfigFileRead, HostDef, Source, TaskDef
from .modules import Pinned

__all__ = ["discover_config_files", "load_config"]


class _Files:
    """Reads the files the configuration consists of, recording each once with its sha256."""

    def __init__(self) -> None:
        self.read: dict[str, ConfigFileRead] = {}
        self._data: dict[str, bytes] = {}  # what was read, once: the digest and the text always agree
        self._translate = translate

    def text(self, path: str, blame: Source | None) -> str:
        data = self._data.get(path)
        if data is None:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError as error:
                reason = error.strerror or str(error)
                raise ConfigError(f"cannot read {path}: {reason}", blame) from None
            self._data[path] = data
            self.read[path] = ConfigFileRead(path, hashlib.sha256(data).hexdigest())
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ConfigError(f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8", blame) from None

    def lua(self, path: str) -> str:
        return self._translate(self.text(path, None))


def load_config(
    paths: list[str],
    *,
    limits: Limits = Limits(),
    time_limit: float | None = None,
    modules: Pinned | None = None,
    home: str | None = None,
    registry: str = "local",
) -> Config:
    """Evaluate the configuration files in order in one Lua state and return what they defined.

    `limits`: what each file (and later each prepare/engine call) may use (see
    `lua_limits`); `time_limit` replaces just its CPU seconds. `modules` finds
    what `import` names: by default the installed modules pinned by the lock
    file next to the first file (never the network). `require` looks next to
    each file, then in `.essh/lib` next to the first file and `HOME/.essh/lib`
    (ESSH's library folders). `registry` labels what the files define
    (ESSH's `local` or `global`; see `registries`).
    """
    if time_limit is not None:
        limits = msgspec.structs.replace(limits, cpu_seconds=time_limit)
    files = _Files()
    base = os.path.dirname(os.path.abspath(paths[0])) if paths else ""  # ESSH's data folder is base/.essh
    ssh_config = os.path.join(base, ".essh", "ssh_config") if base else ""
    if modules is None and base:
        modules = Pinned(base)
    lib_dirs = [os.path.join(base, ".essh", "lib")] if base else []
    if home:
        lib_dirs.append(os.path.join(home, ".essh", "lib"))
    state = LuaState(
        files.lua, limits=limits, ssh_config=ssh_config, module_folder=modules.folder if modules else None, lib_dirs=lib_dirs
    )
    for path in paths:
        path = os.path.abspath(path)
        state.run_file(path, files.lua(path))
    exported = state.export()
    for path in state.read_by_lua():
        files.text(path, None)  # recorded like every other file the configuration read

    hosts = [host_def(Entry("host", raw), state) for raw in exported["hosts"]]
    tasks = [task_def(Entry("task", raw), state, files.text) for raw in exported["tasks"]]
    for defined in (*hosts, *tasks):
        if defined is not None:
            defined.registry = registry
    drivers = [driver_def(Entry("driver", raw), state) for raw in exported["drivers"]]
    hosts_by_name = {host.name: host for host in sorted(hosts, key=lambda host: host.name)}
    tasks_by_name = {task.name: task for task in tasks if task is not None}
    check_names(hosts_by_name, tasks_by_name)
    return Config(
        files=list(files.read.values()),
        hosts=hosts_by_name,
        tasks=tasks_by_name,
        drivers={driver.name: driver for driver in drivers},
        lua_version=state.version,
        notices=[str(notice) for notice in exported["notices"]],
        secret_reads=[str(name) for name in exported.get("secret_reads", ())],
        ssh_config=_ssh_config(exported.get("ssh_config"), paths),
        modules=sorted((text, commit, found, registry) for text, (commit, found) in (modules.used if modules else {}).items()),
    )


def _ssh_config(value: object, paths: list[str]) -> str:
    """`essh.ssh_config` as the configuration left it: a path (ESSH lets a configuration choose it)."""
    if not isinstance(value, str) or not value or "\0" in value:
        where = Source(os.path.abspath(paths[-1])) if paths else None
        raise ConfigError(f"essh.ssh_config must be a path (a non-empty string), not {value!r}", where)
    return value


def check_names(hosts: dict[str, HostDef], tasks: dict[str, TaskDef]) -> None:
    """ESSH's rules: a task is not named like a host; a tag is not named like a host."""
    for task in tasks.values():
        if task.name in hosts:
            raise ConfigError(
                f"task '{task.name}' has the name of a host (defined at {hosts[task.name].defined_at});"
                " rename one of them",
                task.defined_at,
            )
    for host in hosts.values():
        for tag in host.tags:
            if tag in hosts and tag != host.name:
                raise ConfigError(
                    f"host '{host.name}': tag '{tag}' is also a host name (defined at {hosts[tag].defined_at});"
                    " tags and host names must differ",
                    host.defined_at,
                )
