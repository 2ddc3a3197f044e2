"""A plan in, a status report out: runs the steps over SSH with trio. No Lua.

`apply_plan` (in `apply`) is the entry point. The pure core: `scheduler`
(what may run), `policy` (what an attempt's end means), `report_builder` (the
report from events). The transports behind `transport`'s interface: `local`,
and SSH (`ssh_pool`, `ssh_connect`, `ssh_channel`, `ssh_options`, `pid_line`),
with `bridge` joining trio to asyncssh's asyncio. A step's file operations:
`file_steps` (with `remote_files`' shell programs and `ssh_upload`'s streaming);
`observe` is `essh plan --refresh`'s read-only look. The sinks consuming
`events`: `terminal`, `logs`, `report_file`.
The heavy modules load on first use, so importing this package costs nothing.
"""

from __future__ import annotations

_FROM_APPLY = ("ApplyOptions", "ApplyResult", "apply_plan")
_FROM_LOGS = ("LogDirError",)


def __getattr__(name: str):
    if name in _FROM_APPLY:
        from . import apply

        return getattr(apply, name)
    if name in _FROM_LOGS:
        from . import logs

        return getattr(logs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [*_FROM_APPLY, *_FROM_LOGS]
