"""The status report: one typed result for every step of the plan, whatever happened."""

from __future__ import annotations

import functools
from typing import Literal

import msgspec

REPORT_FORMAT_VERSION = 2

# Final statuses, and (only while `Report.complete` is false: a report written
# during the run) "running" and "pending" for steps that have not ended yet.
StepStatus = Literal["succeeded", "failed", "unreachable", "timed_out", "skipped", "cancelled", "running", "pending"]
STEP_STATUSES: tuple[StepStatus, ...] = (
    "succeeded",
    "failed",
    "unreachable",
    "timed_out",
    "skipped",
    "cancelled",
)
# Why a step failed, was unreachable or timed out, as data (the `error` text says it in words):
# the host's side: refused, dns, connect_timeout, network (no route, reset), auth, host_key,
# ssh_error (the SSH protocol failed), connection_lost (after it was made), session_refused;
# the configuration's: ssh_settings (options essh's client cannot use);
# the command's: exit_status, timeout; a file operation the host refused: file_error;
# an upload whose destination changed since `essh plan --refresh` saw it: stale;
# ours: local_error (this machine failed: descriptors, memory, a full disk).
FailureKind = Literal[
    "refused",
    "dns",
    "connect_timeout",
    "network",
    "auth",
    "host_key",
    "ssh_error",
    "connection_lost",
    "session_refused",
    "ssh_settings",
    "exit_status",
    "timeout",
    "file_error",
    "stale",
    "local_error",
]
TAIL_BYTES = 64 * 1024  # how much of each stream a step result keeps


class _Struct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Shared settings of every report Struct."""


class Attempt(_Struct, kw_only=True):
    """One try of a step (a step with retries may have several)."""

    number: int  # 1-based
    status: StepStatus
    exit_code: int | None = None
    started_at: float  # Unix seconds
    ended_at: float
    error: str | None = None
    kind: FailureKind | None = None


class FileResult(_Struct, kw_only=True):
    """One file operation a step carried out: what became of `path` (an upload's destination
    on the host, a download's local path)."""

    path: str
    action: Literal["created", "updated", "unchanged", "downloaded"]
    size: int
    sha256: str


class StepResult(_Struct, kw_only=True):
    """What became of one step of the plan."""

    step: int  # position in Plan.steps
    task: str
    host: str | None  # None for a local step without a host
    status: StepStatus
    exit_code: int | None = None
    attempts: tuple[Attempt, ...] = ()
    started_at: float | None = None
    ended_at: float | None = None
    duration: float | None = None
    stdout_tail: str = ""  # the last TAIL_BYTES of stdout, decoded with replacement
    stderr_tail: str = ""
    error: str | None = None  # why it failed, was unreachable, skipped or cancelled
    kind: FailureKind | None = None  # with failed, unreachable, timed_out: the kind of failure
    log_file: str | None = None  # the step's full output, with --log-dir
    files: tuple[FileResult, ...] = ()  # its file operations done, in order (the last attempt's)
    changed: bool | None = None  # with file operations: whether any file was written (None: none done)


class Totals(_Struct, kw_only=True):
    """How many steps ended in each status."""

    succeeded: int = 0
    failed: int = 0
    unreachable: int = 0
    timed_out: int = 0
    skipped: int = 0
    cancelled: int = 0
    running: int = 0  # only in an incomplete report
    pending: int = 0  # only in an incomplete report
    changed: int = 0  # steps that wrote a file (created, updated or downloaded one)
    unchanged: int = 0  # steps whose files were all already as planned


class Report(_Struct, kw_only=True):
    """The status report of one `essh apply`."""

    format_version: int = REPORT_FORMAT_VERSION
    essh_version: str
    plan_digest: str  # sha256 of the plan payload, as in the plan file's header
    started_at: float
    ended_at: float
    wall_seconds: float
    exit_code: int  # see essh.schema.exit_codes; in an incomplete report, what it would be so far
    interrupted: bool = False
    complete: bool = True  # False in the report rewritten while the run goes on
    requested: tuple[str, ...] = ()  # the plan's requested tasks
    args: tuple[str, ...] = ()  # and their arguments
    totals: Totals
    steps: tuple[StepResult, ...]
    # What a later CI stage needs (fields added with defaults; see docs/ci.md). `steps` holds the
    # plan's steps this apply was given: all of them unless narrowed by --shard, --stage or --limit.
    plan_steps: int | None = None  # how many steps the plan has (None in reports of older essh)
    shard: str | None = None  # "K/N" with --shard
    stage: int | None = None  # with --stage
    limit: tuple[str, ...] = ()  # the --limit patterns
    carried_over: tuple[int, ...] = ()  # with --resume: steps whose result comes from the earlier report
    merged_from: tuple[str, ...] = ()  # `essh report merge`: the shard (or "all") of each merged report


_json_encoder = msgspec.json.Encoder(order="deterministic")


@functools.cache
def _json_decoder() -> msgspec.json.Decoder[Report]:
    """Made on first use: building it resolves every annotation of the report's types."""
    return msgspec.json.Decoder(Report)


def encode_report_json(report: Report) -> bytes:
    """The report as indented JSON (what `essh apply --report FILE` writes)."""
    return msgspec.json.format(_json_encoder.encode(report), indent=2) + b"\n"


def decode_report_json(data: bytes) -> Report:
    """A report read back from its JSON form."""
    return _json_decoder().decode(data)
