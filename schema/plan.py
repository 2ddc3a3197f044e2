"""The plan: what the planner compiled and the executor runs, as frozen msgspec Structs.

Everything the executor needs is here as plain data: which hosts, with which SSH
options, which rendered script runs on which host, with which environment, in
which order. No Lua survives into a plan.

Indices: steps refer to `Plan.tasks`, `Plan.hosts` and `Plan.scripts` by position;
`Task.after` and `Task.handler` refer to other tasks by position. Every index is
checked by `essh.schema.check_plan` after decoding, so a reader can trust them.

Evolution (see docs/plan-format.md): new fields get defaults and are appended;
no field changes its type; an incompatible change bumps `FORMAT_VERSION`.
Readers refuse fields they do not know, so an older essh never runs a newer plan
while silently ignoring part of it.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .files import FileBlob, Observed, Operation

FORMAT_VERSION = 3

NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Index = Annotated[int, msgspec.Meta(ge=0)]
# An environment or option entry: (name, value). Tuples, not dicts: frozen, hashable, ordered.
Pair = tuple[str, str]
# A share of a task's hosts: a count (>= 1), or a percentage written "25%" (of the steps the apply runs).
Percent = Annotated[str, msgspec.Meta(pattern=r"^(100|[0-9]{1,2}(\.[0-9]+)?)%$")]
BatchSize = Annotated[int, msgspec.Meta(ge=1)] | Percent


class _Struct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """Shared settings of every plan Struct."""


class Location(_Struct, kw_only=True):
    """Where something was defined in the configuration."""

    file: str
    line: NonNegative = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class ConfigFile(_Struct, kw_only=True):
    """A configuration file the planner read, with the digest of what it read."""

    path: str
    sha256: str


# ESSH's registries: `global` (/etc/essh, ~/.essh) and `local` (the working directory's or --config's).
Registry = Literal["local", "global"]


class ModuleRef(_Struct, kw_only=True):
    """A module `import` used while planning: its SOURCE as written, the git commit
    it was pinned to (empty for a local folder), the sha256 of its installed files
    (`sha256:...`), and the registry whose configuration imported it."""

    source: str
    commit: str = ""
    digest: str
    registry: Registry = "local"


class PlanMeta(_Struct, kw_only=True):
    """Provenance of a plan: who made it, when, from what, for which request."""

    essh_version: str
    created_at: int  # Unix seconds; SOURCE_DATE_EPOCH when set, for reproducible plans
    lua_version: str
    config_files: tuple[ConfigFile, ...] = ()
    requested: tuple[str, ...] = ()  # the task names asked for, in order
    args: tuple[str, ...] = ()  # the arguments after `--`
    warnings: tuple[str, ...] = ()  # shown with the plan and again at apply
    made_by: str = ""  # user@host that planned it; left out when SOURCE_DATE_EPOCH is set
    refreshed_at: int | None = None  # when `essh plan --refresh` observed the destinations
    modules: tuple[ModuleRef, ...] = ()  # sorted by source, then registry


class Host(_Struct, kw_only=True):
    """A resolved host with the SSH options the executor connects with.

    `ssh_options` holds ssh_config keywords as written in the configuration
    (HostName, Port, User, IdentityFile, ProxyJump, StrictHostKeyChecking, ...),
    sorted by keyword; a keyword given a list appears once per value, in order.
    `env` is the host's share of every step's environment (ESSH_HOSTNAME,
    ESSH_HOST_SSH_*, ESSH_HOST_TAGS_*, ESSH_HOST_PROPS_*).
    """

    name: str
    ssh_options: tuple[Pair, ...] = ()
    description: str = ""
    tags: tuple[str, ...] = ()
    props: tuple[Pair, ...] = ()
    env: tuple[Pair, ...] = ()
    defined_at: Location | None = None
    # (variable, secret name): props given as essh.secret("NAME") (ESSH_HOST_PROPS_<NAME>), exported
    # after `env` with the secret's value at apply time (see `Plan.secrets`); never a value here.
    secret_env: tuple[Pair, ...] = ()
    registry: Registry = "local"  # the registry that defined it (left out when local)


Backend = Literal["remote", "local"]
OnError = Literal["stop", "continue", "handler"]
TaskRole = Literal["task", "composite", "handler"]


class Task(_Struct, kw_only=True):
    """A task as planned: how its steps run and what it waits for.

    `after`: tasks that must have finished (every step ended) before any step of
    this one starts. The planner derives it from `depends`, the order of
    requested tasks and parallel composites; the executor only obeys it.

    `parallel`: at most this many of the task's steps at once; 0 means no limit
    (still bounded by the executor's connection limit), 1 means one host after
    another in step order.

    `shell`: the interpreter argv that takes a program as its last argument
    (`("bash", "-c")`). `run_as`: the user a step runs as through
    `sudo -n -u USER -H --` (privileged tasks: "root"); None runs it as the
    login user. See `essh.schema.command` for how they become the command.
    In format version 1, `shell` held the sudo wrapping itself; the codec
    turns such plans into this form when it reads them.

    `role`: `composite` tasks have no steps; `handler` tasks run only when the
    task at `handles` fails, on the hosts where it failed.

    Rolling limits (added with defaults: an essh older than them refuses a plan
    that sets them, as it refuses any field it does not know). `max_failures`
    (a count) or `max_failures_percent`: failures of the task's steps up to it
    are tolerated; one more, and the task starts no new step (its pending ones
    are skipped) and the failure counts as `on_error` says. `batch`: the task's
    steps in waves of these sizes (the last repeats), each wave ending before
    the next starts. See docs/configuration.md.
    """

    name: str
    description: str = ""
    defined_at: Location | None = None
    role: TaskRole = "task"
    backend: Backend = "remote"
    after: tuple[Index, ...] = ()
    parallel: NonNegative = 1
    on_error: OnError = "stop"
    handler: Index | None = None  # with on_error="handler": the handler task's index
    handles: Index | None = None  # with role="handler": the task it handles
    timeout: Annotated[float, msgspec.Meta(gt=0)] | None = None  # seconds per attempt
    retries: NonNegative = 0
    pty: bool = False
    shell: tuple[str, ...] = ("bash", "-c")
    run_as: str | None = None
    env: tuple[Pair, ...] = ()  # the task's share of the environment; wins over the host's
    props: tuple[Pair, ...] = ()
    hidden: bool = False
    requested: bool = False  # named on the command line (not only reached through depends)
    # (variable, secret name): exported after `env` with the secret's value, resolved at apply
    # time (see `Plan.secrets`); the value is never in the plan.
    secret_env: tuple[Pair, ...] = ()
    max_failures: NonNegative | None = None
    max_failures_percent: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    batch: tuple[BatchSize, ...] = ()
    registry: Registry = "local"  # the registry that defined it; its targets are that registry's hosts


class Step(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """One unit of work: a task's uploads, script and downloads on one host (or on this machine).

    Stored as an array to keep plans of hundreds of thousands of steps small;
    fields are only ever appended, with defaults. A step's id is its position
    in `Plan.steps`. Format 3: `script` None for a task with file operations
    only; `ops` index `Plan.operations` (see `essh.schema.files`); `observed`
    is empty until `essh plan --refresh` fills it, aligned with `ops`.
    """

    task: Index
    host: Index | None  # None: a local task without targets
    script: Index | None  # into Plan.scripts; None: no script (file operations only)
    prefix: str | None = None  # rendered output prefix, None to pass output through
    ops: tuple[Index, ...] = ()
    observed: tuple[Observed | None, ...] = ()


SECRET_NAME = r"[A-Za-z_][A-Za-z0-9_]*\Z"


class SecretRef(_Struct, kw_only=True):
    """A secret resolved at apply time: its name, and where its value comes from.

    `source` "apply": from the applying environment (ESSH_SECRET_<name>, then
    --secrets-file, then --secret-command; see docs/configuration.md). Every
    secret a task's or a host's `secret_env` names (or an upload's contents)
    is listed here once, sorted by name."""

    name: str
    source: str = "apply"  # any other is refused by check_plan: a later essh's source


class Plan(_Struct, kw_only=True):
    """The compiled plan. Steps are in planned order: tasks in a topological
    order of `after`, and within a task, hosts sorted by name."""

    format_version: int = FORMAT_VERSION
    meta: PlanMeta
    hosts: tuple[Host, ...] = ()
    tasks: tuple[Task, ...] = ()
    scripts: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    files: tuple[FileBlob, ...] = ()  # contents of uploads, each once (format 3)
    secrets: tuple[SecretRef, ...] = ()
    operations: tuple[Operation, ...] = ()  # file operations steps refer to (format 3)
