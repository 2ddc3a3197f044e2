"""The status report: one typed result for every step of the plan, whatever happened."""

from __future__ import annotations

from typing import Literal

import msgspec

REPORT_FORMAT_VERSION = 1

StepStatus = Literal["succeeded", "failed", "unreachable", "timed_out", "skipped", "cancelled"]
STEP_STATUSES: tuple[StepStatus, ...] = (
    "succeeded",
    "failed",
    "unreachable",
    "timed_out",
    "skipped",
    "cancelled",
)
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
    log_file: str | None = None  # the step's full output, with --log-dir


class Totals(_Struct, kw_only=True):
    """How many steps ended in each status."""

    succeeded: int = 0
    failed: int = 0
    unreachable: int = 0
    timed_out: int = 0
    skipped: int = 0
    cancelled: int = 0


class Report(_Struct, kw_only=True):
    """The status report of one `essh apply`."""

    format_version: int = REPORT_FORMAT_VERSION
    essh_version: str
    plan_digest: str  # sha256 of the plan payload, as in the plan file's header
    started_at: float
    ended_at: float
    wall_seconds: float
    exit_code: int  # 0 all succeeded, 1 a step failed or a host was unreachable, 130 interrupted
    interrupted: bool = False
    totals: Totals
    steps: tuple[StepResult, ...]


_json_encoder = msgspec.json.Encoder(order="deterministic")
_json_decoder = msgspec.json.Decoder(Report)


def encode_report_json(report: Report) -> bytes:
    """The report as indented JSON (what `essh apply --report FILE` writes)."""
    return msgspec.json.format(_json_encoder.encode(report), indent=2) + b"\n"


def decode_report_json(data: bytes) -> Report:
    """A report read back from its JSON form."""
    return _json_decoder.decode(data)
