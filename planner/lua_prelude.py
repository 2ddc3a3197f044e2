"""Where the Lua side of the loader lives: `prelude.lua`, beside this module.

`prelude.lua` is evaluated once in a fresh Lua 5.4 state and returns the
loader's API table: sandbox, DSL (`host`, `task`, `driver`, `group`, `essh`),
`require`, export. Definitions are collected in Lua tables while the files run
and leave Lua once, as one JSON text (`api.export()`), so loading 10,000 hosts
costs one crossing, not one per field. No Python object is ever put where
configuration code can reach it: the only channels back to Python are values
returned from the API functions, the `("read", path)` requests `require`
yields from the coroutine a file runs in, and two Python functions the chunk
receives and keeps in locals: the limits' `tick` and `select_hosts`.

JSON markers: a function becomes {"\\u0000fn": id} (id for `api.call`); a value
that cannot leave Lua becomes {"\\u0000bad": "what it is"}.
"""

from __future__ import annotations

from pathlib import Path


def prelude_source() -> str:
    """The text of `prelude.lua` (shipped in the wheel as package data)."""
    return Path(__file__).with_name("prelude.lua").read_text(encoding="utf-8")  # not importlib.resources: ~3 ms per start
