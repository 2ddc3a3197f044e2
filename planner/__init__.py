"""Lua configuration in, an immutable plan out. Pure: no network, no SSH, no trio.

`load_config` and `discover_config_files` come from `loader`, `discover_registries`
and `load_registries` from `registries`; both are imported on first use, so planning from a `Config` built in Python never loads Lua.
"""

from .model import Config, ConfigError, DriverDef, HostDef, Source, TaskDef
from .resolve import make_exec_plan, make_plan, select_hosts

_FROM_LOADER = ("load_config", "discover_config_files")
_FROM_REGISTRIES = ("discover_registries", "load_registries")


def __getattr__(name: str):
    if name in _FROM_LOADER:
        from . import loader

        return getattr(loader, name)
    if name in _FROM_REGISTRIES:
        from . import registries

        return getattr(registries, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Config",
    "ConfigError",
    "DriverDef",
    "HostDef",
    "Source",
    "TaskDef",
    "discover_config_files",
    "discover_registries",
    "load_config",
    "load_registries",
    "make_exec_plan",
    "make_plan",
    "select_hosts",
]
