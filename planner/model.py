"""The configuration as the Lua files defined it, before any resolution.

`loader` fills these from Lua (checking types, recording file:line); `resolve`
turns them and a request into a `essh.schema.Plan`. Nothing here refers to Lua
objects except the callables of drivers and `prepare`, which `loader` wraps so
that they take and return plain Python values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec


class Source(msgspec.Struct, frozen=True):
    """A place in a configuration file."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class ConfigError(Exception):
    """The configuration is wrong: one message, with file:line where known."""

    def __init__(self, message: str, source: Source | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message


class ScriptPart(msgspec.Struct):
    """One entry of a task's `script`: code, with an optional description."""

    code: str
    description: str = ""


class HostDef(msgspec.Struct):
    """A `host "name" { ... }` block, group defaults applied."""

    name: str
    defined_at: Source
    ssh_options: list[tuple[str, str]] = msgspec.field(default_factory=list)  # sorted by keyword
    description: str = ""
    hidden: bool = False
    private: bool = False  # ESSH: usable by tasks only (`private_host`)
    tags: list[str] = msgspec.field(default_factory=list)  # in the order written, without duplicates
    props: dict[str, str] = msgspec.field(default_factory=dict)
    secret_props: dict[str, str] = msgspec.field(default_factory=dict)  # prop -> secret name (essh.secret)
    # ESSH's hooks_before_connect, hooks_after_connect, hooks_after_disconnect (by the part after
    # "hooks_"): each a list of commands (str) and Lua functions returning a command or nothing.
    # Run only around `essh ssh` logins (essh.ssh_client), never in a plan, as ESSH.
    hooks: dict[str, list[Any]] = msgspec.field(default_factory=dict)
    registry: str = "local"  # ESSH's registry that defined it: "local" or "global" (see registries)


class TaskDef(msgspec.Struct):
    """A `task "name" { ... }` block, group defaults applied; fields not set are None."""

    name: str
    defined_at: Source
    description: str = ""
    script: list[ScriptPart] = msgspec.field(default_factory=list)
    # Where `script` came from, resolved against the defining file's folder: a record only. The
    # loader read it once, and that read's bytes gave both `script` and the digest in `Config.files`.
    script_file: str | None = None
    files: list[Any] = msgspec.field(default_factory=list)  # FileSpec (planner.file_specs), in order
    targets: list[str] = msgspec.field(default_factory=list)
    filters: list[str] = msgspec.field(default_factory=list)
    backend: str | None = None  # "remote" | "local" | None (decided by targets)
    driver: str | None = None
    depends: list[str] = msgspec.field(default_factory=list)
    parallel: bool | int = False
    prefix: bool | str | None = None  # None: automatic (on when a task has several hosts)
    props: dict[str, str] = msgspec.field(default_factory=dict)
    env: dict[str, str] = msgspec.field(default_factory=dict)
    secret_env: dict[str, str] = msgspec.field(default_factory=dict)  # variable -> secret name (essh.secret)
    privileged: bool = False
    user: str | None = None
    pty: bool = False
    hidden: bool = False
    on_error: str = "stop"  # "stop" | "continue" | the name of a handler task
    timeout: float | None = None
    retries: int = 0
    max_failures: int | str | None = None  # a count, or "N%" of the task's hosts
    batch: list[int | str] = msgspec.field(default_factory=list)  # wave sizes: counts or "N%"
    # prepare(ctx) -> bool | None; ctx is a plain dict (see resolve); False leaves the task out.
    prepare: Callable[[dict[str, Any]], Any] | None = None
    # ESSH's registry that defined it; its targets select among that registry's hosts only.
    # None (essh exec, a Config built in Python): every host.
    registry: str | None = None


class DriverDef(msgspec.Struct):
    """A `driver "name" { engine = function(ctx) ... end }` block."""

    name: str
    defined_at: Source
    # engine(ctx) -> str: the final script for one step; ctx is a plain dict (see resolve).
    engine: Callable[[dict[str, Any]], str]
    props: dict[str, str] = msgspec.field(default_factory=dict)


class ConfigFileRead(msgspec.Struct):
    """A file the loader read, with the sha256 of its bytes."""

    path: str
    sha256: str


class Config(msgspec.Struct):
    """Everything the configuration files defined."""

    files: list[ConfigFileRead]
    hosts: dict[str, HostDef]  # in name order
    tasks: dict[str, TaskDef]  # in definition order
    drivers: dict[str, DriverDef]
    lua_version: str
    notices: list[str] = msgspec.field(default_factory=list)  # from essh.debug() and the like
    # Variables read with os.getenv whose names look secret (PASSWORD, TOKEN, SECRET, KEY)
    secret_reads: list[str] = msgspec.field(default_factory=list)
    # `essh.ssh_config`: where `essh ssh` writes the generated ssh_config (ESSH's variable).
    ssh_config: str = ""
    # Every module `import` used: (source, commit or "", digest, registry), sorted.
    modules: list[tuple[str, str, str, str]] = msgspec.field(default_factory=list)
