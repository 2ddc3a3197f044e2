"""Exported `host`, `task` and `driver` definitions to `HostDef`, `TaskDef` and `DriverDef`.

Each entry arrives as {"name", "file", "line", "group"?, "fields"} from
`LuaState.export()`. Every property is checked here; a property that came from
a `group { ... }` default is blamed on the group's line.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any

import msgspec

from . import lua_values as v
from . import task_values
from .file_specs import file_specs
from .lua_runtime import LuaState
from .model import ConfigError, DriverDef, HostDef, ScriptPart, Source, TaskDef
from .names import check_host_name, check_task_name

_SPACE = re.compile(r"\s")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_SSH_KEYWORD = re.compile(r"[A-Z][A-Za-z0-9]*\Z")
HOST_KEYS = sorted(
    ["description", "hidden", "private", "tags", "props",
     "hooks_before_connect", "hooks_after_connect", "hooks_after_disconnect"]
)
TASK_KEYS = sorted(
    ["description", "script", "script_file", "files", "targets", "filters", "backend", "driver", "depends",
     "parallel", "prefix", "props", "env", "privileged", "user", "pty", "hidden", "on_error",
     "timeout", "retries", "prepare", "disabled", "max_failures", "batch"]
)
DRIVER_KEYS = ["engine", "props"]


class Entry:
    """One exported definition: its name, where it was defined, its raw fields."""

    def __init__(self, kind: str, raw: dict[str, Any]) -> None:
        self.kind = kind
        self.name: str = raw["name"]
        self.fields: dict[str, Any] = raw["fields"] if isinstance(raw["fields"], dict) else {}
        self.source = Source(raw["file"], raw["line"])
        self.label = f"{kind} '{self.name}'"
        positional = raw["fields"] if isinstance(raw["fields"], list) else [k for k in self.fields if k.startswith("[")]
        if positional:
            raise ConfigError(
                f"{self.label}: every property needs a name (name = value); found a value without one", self.source
            )
        group = raw.get("group")
        self._group_keys = frozenset(group["keys"]) if group else frozenset()
        self._group_source = Source(group["file"], group["line"]) if group else self.source

    def where(self, key: str) -> Source:
        """Where `key` was set: the group's line for a group default, else the definition's."""
        return self._group_source if key in self._group_keys else self.source


def _normal(value: Any) -> Any:
    """A value as it looks after a trip through Lua (empty tables are lists, tuples are lists)."""
    value = json.loads(json.dumps(value, default=str))
    return [] if value == {} else value


class LuaFunction(msgspec.Struct, frozen=True):
    """A Lua function from the configuration, callable with a plain dict.

    Returns the Lua result as plain values. Changes the function made to its
    argument are written back into the dict (ESSH's `prepare(t)` edits `t`).
    """

    state: LuaState
    function_id: int
    defined_at: Source

    def __call__(self, ctx: dict[str, Any]) -> Any:
        result, after = self.state.call(self.function_id, ctx, self.defined_at)
        _write_back(ctx, after)
        return result


def _write_back(target: dict[str, Any], after: dict[str, Any]) -> None:
    """Make `target` look like `after` in place, touching only what differs.

    A key Lua does not have is dropped unless it was None (Lua cannot hold nil).
    """
    for key in [key for key in target if key not in after and target[key] is not None]:
        del target[key]
    for key, value in after.items():
        old = target.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            _write_back(old, value)
        elif key not in target or _normal(old) != _normal(value):
            target[key] = {} if isinstance(old, dict) and value == [] else value


class TemplateEngine(msgspec.Struct, frozen=True):
    """A driver engine written as template text (ESSH's form): returns the text."""

    template: str

    def __call__(self, ctx: dict[str, Any]) -> str:
        return self.template


class FunctionEngine(msgspec.Struct, frozen=True):
    """A driver engine written as a Lua function of ctx: returns the text it produces."""

    function: LuaFunction
    label: str

    def __call__(self, ctx: dict[str, Any]) -> str:
        result = self.function(ctx)
        if not isinstance(result, str):
            raise v.fail(f"{self.label}: the result of engine", "a string (template text)", result,
                         self.function.defined_at)
        return result


def _function(state: LuaState, value: Any, entry: Entry, key: str) -> LuaFunction:
    if not v.is_function(value):
        raise v.fail(f"{entry.label}: {key}", "a function", value, entry.where(key))
    return LuaFunction(state, int(value[v.FUNCTION]), entry.where(key))


def _ssh_values(value: Any, label: str, where: Source) -> list[str]:
    items = value if isinstance(value, list) and value else [value]
    texts = []
    for item in items:
        if isinstance(item, bool):
            texts.append("yes" if item else "no")
            continue
        text = v.scalar_text(item)
        if text is None:
            raise v.fail(label, "a string, number, boolean or a list of them", value, where)
        if _CONTROL.search(text):
            # ssh_config is line-based: a newline would smuggle in another option.
            raise ConfigError(f"{label} must not contain control characters (newline, tab, NUL, ...)", where)
        texts.append(text)
    return texts


def _hooks(state: LuaState | None, value: Any, entry: Entry, key: str) -> list[Any]:
    """A hooks_* list: commands (strings) and Lua functions, in order."""
    where, label = entry.where(key), f"{entry.label}: {key}"
    items = value if isinstance(value, list) else [value]
    hooks: list[Any] = []
    for item in items:
        if isinstance(item, str):
            hooks.append(item)
        elif v.is_function(item) and state is not None:
            hooks.append(_function(state, item, entry, key))
        else:
            raise v.fail(label, "a list of commands (strings) and functions", value, where)
    return hooks


def host_def(entry: Entry, state: LuaState | None = None) -> HostDef:
    """A host's properties: capitalised keys are SSH options, the others essh's."""
    check_host_name(entry.name, entry.source)
    host = HostDef(name=entry.name, defined_at=entry.source)
    options: list[tuple[str, str]] = []
    for key in sorted(entry.fields):
        value, where, label = entry.fields[key], entry.where(key), f"{entry.label}: {key}"
        if key[:1].isupper():
            if not _SSH_KEYWORD.match(key):
                raise ConfigError(f"{entry.label}: {key!r} is not an ssh_config keyword", where)
            if type(value) is str and value.isprintable():  # the common cases, without the general path's cost
                options.append((key, value))
            elif type(value) is int:
                options.append((key, str(value)))
            else:
                options.extend((key, text) for text in _ssh_values(value, label, where))
        elif key == "description":
            host.description = v.string(value, label, where)
        elif key == "hidden":
            host.hidden = v.boolean(value, label, where)
        elif key == "private":
            host.private = v.boolean(value, label, where)
        elif key == "tags":
            tags = v.string_list(value, label, where)
            host.tags = list(dict.fromkeys(tags))
        elif key == "props":
            host.props, host.secret_props = v.props_map(value, label, where)
        elif key in ("hooks_before_connect", "hooks_after_connect", "hooks_after_disconnect"):
            if value not in ([], {}):
                host.hooks[key[len("hooks_"):]] = _hooks(state, value, entry, key)
        else:
            raise v.unknown_key(entry.label, key, HOST_KEYS, where, list_known=True)
    for key, value in options:
        if key.lower() in ("hostname", "port", "user") and (not value or _SPACE.search(value)):
            raise ConfigError(f"{entry.label}: {key} cannot be empty or contain spaces", entry.where(key))
    host.ssh_options = options
    return host


def _script(value: Any, label: str, where: Source) -> list[ScriptPart]:
    items = value if isinstance(value, list) else [value]
    parts = []
    for item in items:
        if isinstance(item, str):
            parts.append(ScriptPart(item))
        elif isinstance(item, dict) and isinstance(item.get("code"), str) and set(item) <= {"code", "description"}:
            parts.append(ScriptPart(item["code"], v.string(item.get("description", ""), f"{label} description", where)))
        else:
            raise v.fail(label, "a string, a list of strings or a list of {code = ..., description = ...}",
                         item, where)
    return parts


def _read_script_file(value: Any, entry: Entry, read_text: Callable[[str, Source], str]) -> tuple[str, str]:
    where = entry.where("script_file")
    path = v.string(value, f"{entry.label}: script_file", where)
    if "://" in path:
        raise ConfigError(f"{entry.label}: script_file URLs are not supported; download the file and name it", where)
    path = os.path.normpath(os.path.join(os.path.dirname(where.file), os.path.expanduser(path)))
    return path, read_text(path, where)


def task_def(entry: Entry, state: LuaState, read_text: Callable[[str, Source], str]) -> TaskDef | None:
    """A task's properties, checked; None for a `disabled = true` task."""
    fields = entry.fields
    if "disabled" in fields and v.boolean(fields["disabled"], f"{entry.label}: disabled", entry.where("disabled")):
        return None
    if "script" in fields and "script_file" in fields:
        raise ConfigError(f"{entry.label}: use script or script_file, not both", entry.where("script_file"))
    check_task_name(entry.name, entry.source)
    task = TaskDef(name=entry.name, defined_at=entry.source)
    for key in sorted(fields):
        value, where, label = fields[key], entry.where(key), f"{entry.label}: {key}"
        if key in ("description", "driver", "user"):
            setattr(task, key, v.string(value, label, where))
        elif key in ("privileged", "pty", "hidden", "disabled"):
            if key != "disabled":
                setattr(task, key, v.boolean(value, label, where))
        elif key in ("targets", "filters", "depends"):
            setattr(task, key, v.string_list(value, label, where))
        elif key == "script":
            task.script = _script(value, label, where)
        elif key == "script_file":
            task.script_file, code = _read_script_file(value, entry, read_text)
            task.script = [ScriptPart(code)]
        elif key == "files":
            task.files = file_specs(value, label, where)
        elif key == "backend":
            task.backend = task_values.backend(value, label, where)
        elif key == "parallel":
            task.parallel = task_values.parallel(value, label, where)
        elif key == "prefix":
            if not isinstance(value, (bool, str)):
                raise v.fail(label, "true, false or a template string", value, where)
            task.prefix = value
        elif key == "props":
            task.props = v.text_map(value, label, where)
        elif key == "env":
            task.env, task.secret_env = v.env_map(value, label, where)
        elif key == "on_error":
            task.on_error = v.string(value, label, where)
            if not task.on_error:
                raise v.fail(label, '"stop", "continue" or the name of a handler task', value, where)
        elif key == "timeout":
            task.timeout = task_values.timeout(value, label, where)
        elif key == "retries":
            task.retries = task_values.retries(value, label, where)
        elif key == "max_failures":
            task.max_failures = task_values.max_failures(value, label, where)
        elif key == "batch":
            task.batch = task_values.batch(value, label, where)
        elif key == "prepare":
            task.prepare = _function(state, value, entry, key)
        else:
            raise v.unknown_key(entry.label, key, TASK_KEYS, where)
    return task


def driver_def(entry: Entry, state: LuaState) -> DriverDef:
    """A driver: `engine` is template text or a Lua function of ctx returning it.

    Any other key is a prop of the driver, as ESSH has it (`.Driver.Props.KEY`);
    an explicit `props` entry wins over a free key of the same name.
    """
    fields = entry.fields
    free = {key: value for key, value in fields.items() if key not in DRIVER_KEYS}
    free_props = v.text_map(free, entry.label, entry.source) if free else {}
    if "engine" not in fields:
        raise ConfigError(f"{entry.label}: engine is required (template text or a function)", entry.source)
    engine_value = fields["engine"]
    engine: Callable[[dict[str, Any]], str]
    if isinstance(engine_value, str):
        engine = TemplateEngine(engine_value)
    elif v.is_function(engine_value):
        engine = FunctionEngine(_function(state, engine_value, entry, "engine"), entry.label)
    else:
        raise v.fail(f"{entry.label}: engine", "template text (a string) or a function", engine_value,
                     entry.where("engine"))
    props = {**free_props, **v.text_map(fields.get("props", {}), f"{entry.label}: props", entry.where("props"))}
    return DriverDef(name=entry.name, defined_at=entry.source, engine=engine, props=props)
