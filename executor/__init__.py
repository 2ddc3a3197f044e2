"""A plan in, a status report out: runs the steps over SSH with trio. No Lua.

`apply_plan` (in `apply`) is the entry point; `scheduler` decides what may run,
`ssh`, `local` and `output` do the I/O, `bridge` joins trio to asyncssh's asyncio.
The heavy modules load on first use, so importing this package costs nothing.
"""

from __future__ import annotations

_FROM_APPLY = ("ApplyOptions", "apply_plan")


def __getattr__(name: str):
    if name in _FROM_APPLY:
        from . import apply

        return getattr(apply, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_FROM_APPLY)
