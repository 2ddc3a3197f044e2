"""One sandboxed Lua 5.4 state (lupa) that runs configuration files and calls their functions.

The state is made with `register_builtins=False`, no attribute access on any
Python object, and `prelude.lua` then removes lupa's `python` table, `debug`,
native module loading and binary chunks, so configuration code reaches no
Python object. Every call into the state runs under `lua_limits` (time,
Ctrl-C) and lupa's memory cap. Lua errors become `ConfigError` with the
file:line Lua reported.
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import lupa.lua54 as lua54

from .lua_limits import HOOK_COUNT, CPU, INTERRUPT, WALL, Limits, Watch, hard_stop
from .lua_helpers import helpers
from .lua_libs import lua_libraries
from .lua_prelude import prelude_source
from .model import ConfigError, HostDef, Source
from .targets import HostIndex

# "path:line: message" as Lua prefixes errors raised with a position.
_POSITION = re.compile(r"(?P<file>[^\n]+?):(?P<line>\d+): (?P<message>.*)", re.DOTALL)
_OUT_OF_MEMORY = "not enough memory"


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


def _no_attributes(obj: object, name: object, value: object = None) -> None:
    """Lua may call the two functions it is handed; it may not look inside any Python object."""
    raise AttributeError(name)


def select_hosts_for_lua(request: str) -> str | None:
    """`essh.select_hosts` for Lua, by the rules of `targets`: one matcher in the whole of essh.

    `request` is JSON {"patterns": [...], "hosts": {name: [tag, ...]}}; the
    answer is the chosen names, sorted, joined by NUL. It never raises: Lua
    would be handed the exception object.
    """
    try:
        data = json.loads(request)
        nowhere = Source("<select_hosts>")
        hosts = data["hosts"] or {}
        index = HostIndex(
            {name: HostDef(name, nowhere, tags=[t for t in tags if isinstance(t, str)]) for name, tags in hosts.items()}
        )
        chosen = index.union(p for p in data["patterns"] if isinstance(p, str))
        return "\0".join(index.names if chosen is None else sorted(chosen))
    except Exception:
        return None


def _answering(folder: Callable[[str, str], str] | None) -> Callable[[str, str], str]:
    """`import`'s question to Python (where is SOURCE's folder, relative to WITHIN or the
    configuration's?) as a function that never raises (Lua would be handed the exception):
    "+FOLDER", or "-" and why not."""

    def answer(source: str, within: str) -> str:
        if folder is None:
            return "-modules are not available here"
        try:
            return "+" + folder(str(source), str(within))
        except Exception as exc:
            return "-" + (str(exc) or type(exc).__name__)

    return answer


class LuaState:
    """A fresh sandboxed Lua state with the essh DSL loaded.

    `read_module(path)` is asked for the source of every `require`d file, so the
    caller can translate and record it. Each file run and each function call
    is one call under `limits`; `on_stuck` is what the watchdog does when Lua
    is stuck in C code past a limit (see `lua_limits`).
    """

    def __init__(
        self,
        read_module: Callable[[str], str],
        *,
        limits: Limits = Limits(),
        on_stuck: Callable[[str, int], None] = hard_stop,
        ssh_config: str = "",
        module_folder: Callable[[str, str], str] | None = None,
        lib_dirs: Iterable[str] = (),
    ) -> None:
        self._limits = limits
        self._watch = Watch(limits, on_stuck)
        self._runtime = lua54.LuaRuntime(
            register_builtins=False,
            unpack_returned_tuples=True,
            max_memory=limits.memory_bytes,
            attribute_handlers=(_no_attributes, _no_attributes),
        )
        self._read_module = read_module
        self._paths: list[str] = []  # every file run or required, to undo Lua's shortening of names
        from_python = self._runtime.table_from(
            {
                "tick": self._watch.tick,
                "select_hosts": select_hosts_for_lua,
                "hook_count": HOOK_COUNT,
                "ssh_config": ssh_config,
                "libs": lua_libraries(),
                "lib_helpers": helpers(),
                "lib_path": "".join(f";{folder}/?.lua" for folder in lib_dirs),  # after the file's own folder
                "module_folder": _answering(module_folder),
                "stop_messages": {why: limits.stop_message(why) for why in (CPU, WALL, INTERRUPT)},
            },
            recursive=True,
        )
        prelude = self._runtime.globals().load(prelude_source(), "=essh's prelude.lua")
        self._api = self._lua(Source("<essh's prelude.lua>"), prelude, from_python)
        self.version: str = str(self._runtime.eval("_VERSION"))
        # Finalizers run when the state goes: with the watch, like every other call.
        weakref.finalize(self, _close, self._watch, self._api).atexit = False

    def _lua(self, where: Source, function: Callable[..., Any], *args: Any) -> Any:
        """`function(*args)` into Lua under the limits.

        A stop becomes a ConfigError at the stop's position; a Lua error escaping
        the prelude's own protection is essh's fault, not the configuration's.
        """
        failure = stopped = None
        with self._watch.call(str(where)):
            try:
                answer = function(*args)
            except lua54.LuaMemoryError:
                failure = self._limits.memory_message()
            except lua54.LuaError as error:
                first = str(error).splitlines()[0] if str(error) else type(error).__name__
                failure = f"essh's Lua loader failed ({first}); please report this"
            if self._watch.reason:
                stopped = self._stop_text()
        if stopped is not None:
            raise self._error(stopped, where)
        if failure is not None:
            raise ConfigError(failure, where)
        return answer

    def _stop_text(self) -> str:
        """The stop as Lua raised it (with its position), else without a position."""
        try:
            text = self._api.stopped()
        except lua54.LuaError:
            text = None
        return str(text) if text else self._limits.stop_message(self._watch.reason)

    def run_file(self, path: str, source: str) -> None:
        """Run one configuration file (chunk name `@path`, so errors name it)."""
        where = Source(path)
        self._paths.append(path)
        folder = path.rsplit("/", 1)[0] or "/"
        started = self._lua(where, self._api.start, source, path, folder)
        if isinstance(started, tuple):
            raise self._error(str(started[1]), where)
        reply = None
        while True:
            answer = self._lua(where, self._api.resume, reply)
            kind, arg = (answer[0], answer[1]) if isinstance(answer, tuple) else (answer, None)
            if kind == "done":
                return
            if kind == "error":
                message = str(arg)
                if message == _OUT_OF_MEMORY:  # memory errors carry no position: ask where it stopped
                    message = f"{self._lua(where, self._api.failed_at)} {self._limits.memory_message()}"
                raise self._error(message, where)
            if kind == "read":
                self._paths.append(str(arg))
                reply = self._read_module(str(arg))
                continue
            # A configuration called coroutine.yield at its top level.
            raise ConfigError("coroutine.yield outside a coroutine is not allowed in a configuration", where)

    def read_by_lua(self) -> list[str]:
        """Modules `require` had to read without Python (inside a configuration's own coroutine)."""
        text = str(self._lua(Source("<configuration>"), self._api.read_by_lua))
        return text.split("\0") if text else []

    def _error(self, message: str, where: Source) -> ConfigError:
        return lua_error(message, where, [*self._paths, *self.read_by_lua()])

    def export(self) -> dict[str, Any]:
        """Everything defined so far, as plain JSON values (see `lua_prelude`)."""
        where = Source(self._paths[-1] if self._paths else "<configuration>")
        return json.loads(self._lua(where, self._api.export))

    def call(self, function_id: int, arg: dict[str, Any], where: Source) -> tuple[Any, dict[str, Any]]:
        """Call an exported Lua function with a table made from `arg`.

        Returns the function's result and the argument as the function left it,
        both as plain values. A Lua error becomes a ConfigError at the Lua
        position, else at `where`.
        """
        table = self._lua(where, lambda: self._runtime.table_from(arg, recursive=True))
        answer = self._lua(where, self._api.call, function_id, table)
        if not answer[0]:
            message = str(answer[1])
            if message == _OUT_OF_MEMORY:
                message = self._limits.memory_message()
            raise self._error(message, where)
        after = json.loads(answer[2], object_pairs_hook=_sorted_dict)
        return json.loads(answer[1], object_pairs_hook=_sorted_dict), (after if isinstance(after, dict) else {})


def _close(watch: Watch, api: Any) -> None:
    """The last call into a state: a full collection under the limits (its end runs no more Lua)."""
    try:
        with watch.call("<closing the Lua state>"):
            api.close()
    except (lua54.LuaError, KeyboardInterrupt, RuntimeError):
        pass  # nothing is left to report to


def _sorted_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Tables in name order: Lua's own order changes from run to run."""
    return dict(sorted(pairs))
