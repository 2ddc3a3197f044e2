"""A task's `files = { ... }` property, checked into `FileSpec`s (no file is read here).

    files = {
      { upload = "files/nginx.conf", dest = "/etc/nginx/nginx.conf", mode = "0644", owner = "root" },
      { content = "hello\n", dest = "/etc/motd" },
      { template = "files/app.conf.tmpl", dest = "/etc/app/{{.Host.Name}}.conf", mode = "0600" },
      { download = "/var/log/app.log", dest = "logs/{{.Host.Name}}/app.log" },
    }

Each entry names its kind by the key that gives its source. An `upload` of a
directory uploads every file under it (`max_files`, `max_bytes`: its limits).
Paths of local files are relative to the configuration file's folder; `dest` (and a
download's local path) may use the template language. `mode` is an octal
string ("0644"), because Lua has no octal numbers.
"""

from __future__ import annotations

import os
import re
from typing import Any

import msgspec

from . import lua_values as v
from .model import ConfigError, Source

KINDS = ("upload", "content", "template", "download")
_KEYS = {
    "upload": {"upload", "dest", "mode", "owner", "group", "max_files", "max_bytes"},
    "content": {"content", "dest", "mode", "owner", "group"},
    "template": {"template", "dest", "mode", "owner", "group"},
    "download": {"download", "dest"},
}
MAX_FILES = 1000  # default limits of a directory upload: files in it, and their total size
MAX_BYTES = 1 << 30
_MODE = re.compile(r"0?[0-7]{3,4}\Z")
_NAME = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@-]*\Z")


class FileSpec(msgspec.Struct, frozen=True):
    """One file operation as configured: `source` is a local path (upload, template), the
    text (content) or the remote path (download); `dest` is template text."""

    kind: str
    source: str
    dest: str
    mode: int | None
    owner: str | None
    group: str | None
    where: Source
    number: int  # 1-based position in the task's `files`, for messages
    secrets: tuple[tuple[int, str], ...] = ()  # content: (byte offset, secret name), put in at apply
    max_files: int = MAX_FILES  # a directory upload's limits
    max_bytes: int = MAX_BYTES


def file_specs(value: Any, label: str, where: Source) -> list[FileSpec]:
    """The entries of a task's `files`, checked."""
    if value == {}:
        return []
    if not isinstance(value, list):
        raise v.fail(label, "a list of file operations ({ upload = ..., dest = ... }, ...)", value, where)
    return [_one(item, f"{label}[{n}]", where, n) for n, item in enumerate(value, 1)]


def _one(item: Any, label: str, where: Source, number: int) -> FileSpec:
    if not isinstance(item, dict):
        raise v.fail(label, "a table such as { upload = \"files/a.conf\", dest = \"/etc/a.conf\" }", item, where)
    kinds = [k for k in KINDS if k in item]
    if len(kinds) != 1:
        raise ConfigError(f"{label}: name exactly one of {', '.join(KINDS)} (found {', '.join(kinds) or 'none'})", where)
    kind = kinds[0]
    unknown = sorted(set(item) - _KEYS[kind])
    if unknown:
        raise ConfigError(f"{label}: {kind} has no property {unknown[0]!r} (it takes {', '.join(sorted(_KEYS[kind]))})", where)
    secrets: tuple[tuple[int, str], ...] = ()
    if kind == "content":
        source, secrets = _content(item[kind], f"{label}.content", where)
    else:
        source = v.string(item[kind], f"{label}.{kind}", where)
    if "dest" not in item:
        raise ConfigError(f"{label}: dest is required", where)
    dest = v.string(item["dest"], f"{label}.dest", where)
    if not dest or "\0" in dest:
        raise ConfigError(f"{label}: dest must be a non-empty path", where)
    if kind in ("upload", "template"):
        if not source:
            raise ConfigError(f"{label}: {kind} must name a file", where)
        source = os.path.normpath(os.path.join(os.path.dirname(where.file), os.path.expanduser(source)))
    if kind == "download" and not source.startswith("/"):
        raise ConfigError(f"{label}: download must be an absolute remote path, not {source!r}", where)
    mode = None
    if "mode" in item:
        text = item["mode"]
        if not isinstance(text, str) or not _MODE.match(text):
            raise ConfigError(f'{label}: mode must be an octal string such as "0644", got {text!r}', where)
        mode = int(text, 8)
    owner, group = (_name(item.get(k), f"{label}.{k}", where) for k in ("owner", "group"))
    if secrets and mode is None:
        mode = 0o600  # contents with a secret are the user's alone unless a mode says otherwise
    limits = {k: _limit(item[k], f"{label}.{k}", where) for k in ("max_files", "max_bytes") if k in item}
    return FileSpec(kind, source, dest, mode, owner, group, where, number, secrets, **limits)


def _content(value: Any, label: str, where: Source) -> tuple[str, tuple[tuple[int, str], ...]]:
    """Inline content: a string, an essh.secret(...), or a list of both; (the text around the secrets,
    (byte offset in that text's UTF-8, secret name) for each secret)."""
    parts = value if isinstance(value, list) else [value]
    text, places, size = [], [], 0
    for n, part in enumerate(parts, 1):
        name = v.secret_name(part)
        if name is not None:
            places.append((size, name))
            continue
        piece = v.string(part, label if len(parts) == 1 and not isinstance(value, list) else f"{label}[{n}]", where)
        text.append(piece)
        size += len(piece.encode("utf-8", "surrogateescape"))
    return "".join(text), tuple(places)


def _limit(value: Any, label: str, where: Source) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        raise ConfigError(f"{label}: must be a whole number of at least 1, got {value!r}", where)
    return int(value)


def _name(value: Any, label: str, where: Source) -> str | None:
    if value is None:
        return None
    text = v.string(value, label, where)
    if not _NAME.match(text):
        raise ConfigError(f"{label}: {text!r} is not a user or group name", where)
    return text
