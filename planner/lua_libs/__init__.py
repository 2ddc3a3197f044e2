"""ESSH's built-in Lua libraries that fit a pure planner: `json`, `env` (read-only), `fs` (read-only),
`re`, `template` and `yaml`.

Each is a Lua file here, run on first `require` inside the sandboxed state
(prelude.lua) and handed the prelude's reader (so a file `fs.read` or
`template.dofile` reads is recorded with its digest like a required module),
the Python functions of `lua_helpers` (for `re`, `template`, `yaml`) and the
`json` library. `http`, `question` and `sh` are refused by the prelude with
the reason.
"""

from __future__ import annotations

import functools
from pathlib import Path

NAMES = ("env", "fs", "json", "re", "template", "yaml")


@functools.cache
def lua_libraries() -> dict[str, str]:
    """name -> Lua source of each built-in library."""
    folder = Path(__file__).parent  # a plain path, not importlib.resources (whose zip support costs ~3 ms per start)
    return {name: (folder / f"{name}.lua").read_text(encoding="utf-8") for name in NAMES}
