"""Lua configuration in, an immutable plan out. Pure: no network, no SSH, no trio.

`load_config` and `discover_config_files` come from `loader` and are imported on
first use, so planning from a `Config` built in Python never loads Lua.
"""

from .model import Config, ConfigError, DriverDef, HostDef, Source, TaskDef
from .resolve import make_exec_plan, make_plan, select_hosts

_FROM_LOADER = ("load_config", "discover_config_files")


def __getattr__(name: str):
    if name in _FROM_LOADER:
        from . import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Config",
    "ConfigError",
    "DriverDef",
    "HostDef",
    "Source",
    "TaskDef",
    "discover_config_files",
    "load_config",
    "make_exec_plan",
    "make_plan",
    "select_hosts",
]
