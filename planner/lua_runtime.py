"""One sandboxed Lua 5.4 state (lupa) that runs configuration files and calls their functions.

The state is made with `register_builtins=False` and the prelude then removes
lupa's `python` table, `debug`, native module loading and binary chunks, so
configuration code reaches no Python object. Lua errors become `ConfigError`
with the file:line Lua reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import lupa.lua54 as lua54

from .lua_prelude import prelude_source
from .model import ConfigError, Source

# "path:line: message" as Lua prefixes errors raised with a position.
_POSITION = re.compile(r"(?P<file>[^\n]+?):(?P<line>\d+): (?P<message>.*)", re.DOTALL)


def lua_error(message: str, fallback: Source, paths: Iterable[str] = ()) -> ConfigError:
    """A Lua error message as a ConfigError: the position Lua put in front, else `fallback`.

    Lua shortens long chunk names to "...<end of path>"; `paths` (the files
    run) give the full name back.
    """
    match = _POSITION.fullmatch(message.strip())
    if not match:
        return ConfigError(message.strip(), fallback)
    # An error passed on (coroutine.wrap, error(e) with a string) gains an outer position: keep the innermost.
    while (inner := _POSITION.fullmatch(match["message"].strip())) is not None:
        match = inner
    file = match["file"]
    if file.startswith("..."):
        file = next((path for path in paths if path.endswith(file[3:])), file)
    return ConfigError(match["message"].strip(), Source(file, int(match["line"])))


@contextmanager
def _ours(where: Source) -> Iterator[None]:
    """A Lua error escaping the prelude's own protection is essh's fault, not the configuration's."""
    try:
        yield
    except lua54.LuaError as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"essh's Lua loader failed ({first}); please report this", where) from None


class LuaState:
    """A fresh sandboxed Lua state with the essh DSL loaded.

    `read_module(path)` is asked for the source of every `require`d file, so the
    caller can translate and record it. Each file run and each function call
    may use `time_limit` seconds of CPU time.
    """

    def __init__(self, read_module: Callable[[str], str], *, time_limit: float = 30.0) -> None:
        self._runtime = lua54.LuaRuntime(register_builtins=False, unpack_returned_tuples=True)
        self._api = self._runtime.execute(prelude_source())
        self._api.set_time_limit(time_limit)
        self._read_module = read_module
        self._paths: list[str] = []  # every file run or required, to undo Lua's shortening of names
        self.version: str = str(self._runtime.eval("_VERSION"))

    def run_file(self, path: str, source: str) -> None:
        """Run one configuration file (chunk name `@path`, so errors name it)."""
        where = Source(path)
        self._paths.append(path)
        folder = path.rsplit("/", 1)[0] or "/"
        with _ours(where):
            started = self._api.start(source, path, folder)
        if isinstance(started, tuple):
            raise self._error(str(started[1]), where)
        reply = None
        while True:
            with _ours(where):
                answer = self._api.resume(reply)
            kind, arg = (answer[0], answer[1]) if isinstance(answer, tuple) else (answer, None)
            if kind == "done":
                return
            if kind == "error":
                raise self._error(str(arg), where)
            if kind == "read":
                self._paths.append(str(arg))
                reply = self._read_module(str(arg))
                continue
            # A configuration called coroutine.yield at its top level.
            raise ConfigError("coroutine.yield outside a coroutine is not allowed in a configuration", where)

    def read_by_lua(self) -> list[str]:
        """Modules `require` had to read without Python (inside a configuration's own coroutine)."""
        text = str(self._api.read_by_lua())
        return text.split("\0") if text else []

    def _error(self, message: str, where: Source) -> ConfigError:
        return lua_error(message, where, [*self._paths, *self.read_by_lua()])

    def export(self) -> dict[str, Any]:
        """Everything defined so far, as plain JSON values (see `lua_prelude`)."""
        with _ours(Source(self._paths[-1] if self._paths else "<configuration>")):
            return json.loads(self._api.export())

    def call(self, function_id: int, arg: dict[str, Any], where: Source) -> tuple[Any, dict[str, Any]]:
        """Call an exported Lua function with a table made from `arg`.

        Returns the function's result and the argument as the function left it,
        both as plain values. A Lua error becomes a ConfigError at the Lua
        position, else at `where`.
        """
        with _ours(where):
            table = self._runtime.table_from(arg, recursive=True)
            answer = self._api.call(function_id, table)
        if not answer[0]:
            raise self._error(str(answer[1]), where)
        after = json.loads(answer[2], object_pairs_hook=_sorted_dict)
        return json.loads(answer[1], object_pairs_hook=_sorted_dict), (after if isinstance(after, dict) else {})


def _sorted_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Tables in name order: Lua's own order changes from run to run."""
    return dict(sorted(pairs))
