"""What happens during an apply, as typed events, and the bus that hands them to sinks.

The engine (apply.py and the transports) only emits; the terminal, the log
files, the report and the report file are sinks that consume the same stream
(`Sink.handle`), in the order they were given to the bus. Events are plain
frozen records: step ids index `Plan.steps`, host ids `Plan.hosts`, times are
Unix seconds. Every step gets exactly one `StepEnded`, whatever happened:
steps that never started get theirs (skipped, with the reason) just before
`RunEnded`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import msgspec

from essh.schema import FailureKind, StepStatus

Stream = Literal["stdout", "stderr"]


class RunStarted(msgspec.Struct, frozen=True):
    at: float


class StepStarted(msgspec.Struct, frozen=True):
    """The scheduler let the step start; it may still wait for a connection."""

    step: int
    at: float


class AttemptStarted(msgspec.Struct, frozen=True):
    """The step's command is about to run (its connection is ready)."""

    step: int
    number: int  # 1-based
    at: float


class OutputChunk(msgspec.Struct, frozen=True):
    step: int
    stream: Stream
    data: bytes


class AttemptEnded(msgspec.Struct, frozen=True):
    step: int
    number: int
    status: StepStatus
    started_at: float
    at: float
    exit_code: int | None = None
    error: str | None = None
    kind: FailureKind | None = None
    retrying: bool = False  # another attempt follows


class StepEnded(msgspec.Struct, frozen=True):
    step: int
    status: StepStatus
    at: float
    error: str | None = None
    kind: FailureKind | None = None


class FileDone(msgspec.Struct, frozen=True):
    """One file operation of a step was carried out (see `executor.file_steps`)."""

    step: int
    op: int  # index into Plan.operations
    path: str  # the upload's destination, the download's local path
    action: Literal["created", "updated", "unchanged", "downloaded"]
    size: int
    sha256: str


class HostConnected(msgspec.Struct, frozen=True):
    host: int
    at: float


class HostLost(msgspec.Struct, frozen=True):
    """An established connection broke (the host's next step reconnects)."""

    host: int
    reason: str
    at: float


class LogOpened(msgspec.Struct, frozen=True):
    """A step's log file was created (by the log sink)."""

    step: int
    path: str


class Notice(msgspec.Struct, frozen=True):
    """essh's own word to the operator (an interrupt, a failed clean-up, logging stopped)."""

    text: str
    step: int | None = None


class Tick(msgspec.Struct, frozen=True):
    """Time passes (every second while the run goes on): for sinks that act on their own schedule."""

    at: float


class RunEnded(msgspec.Struct, frozen=True):
    at: float
    interrupted: bool = False
    error: str | None = None  # essh itself failed: why (the steps say what became of them)


Event = (
    RunStarted | StepStarted | AttemptStarted | OutputChunk | AttemptEnded | StepEnded | FileDone
    | HostConnected | HostLost | LogOpened | Notice | Tick | RunEnded
)


class Sink(Protocol):
    def handle(self, event: Event) -> None: ...


class EventBus:
    """Hands every event to every sink, in order. A sink may emit events itself."""

    def __init__(self, sinks: Sequence[Sink] = ()) -> None:
        self._handlers = [sink.handle for sink in sinks]

    def emit(self, event: Event) -> None:
        for handle in self._handlers:
            handle(event)
