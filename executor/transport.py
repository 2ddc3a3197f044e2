"""The one interface every way of running a step implements: local, SSH, in memory (tests).

    async with transport.connection(host) as conn:     # host None: this machine
        with trio.move_on_after(timeout):               # the caller owns timeouts
            status = await conn.run(Command(task, program), io)
    await transport.release(host)                       # no step left on the host
    await transport.aclose()                            # end of the run

- `connection(host)` waits for and holds what a step needs on `host` (a
  connection, a session slot); it raises `HostUnreachable` (with its kind) when
  the host cannot be reached. Time spent here is not the step's.
- `run` starts the task's fixed command line and hands it the step's program
  (see `essh.schema.command`); the command's output goes to `io.output` as it
  comes, and its exit status is returned (128+n for signal n). Cancelling `run`
  is how a step is killed: the whole process group the step started gets TERM,
  then KILL `KILL_GRACE` seconds later, before the cancellation propagates; a
  kill that could not be done is told through `io.notice`.
- `upload` runs an upload's program (`remote_files.upload_program`) with the
  contents streamed on its standard input (`ssh_upload.py`: a referenced
  source must still have its digest, else `SourceChanged`); only the SSH
  transport has it. File operations (`file_steps.py`) build on it and on `run`.

Errors are the executor's own (`errors.py`): a transport never lets asyncssh's
or the OS's exceptions through.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol

import msgspec

from essh.schema import Task

from .events import Stream

if TYPE_CHECKING:
    from .ssh_upload import Contents

KILL_GRACE = 2.0  # seconds between TERM and KILL of a cancelled step's process group
CLEANUP_TIMEOUT = 4.0  # a cancelled step's whole remote clean-up (kill, channel close) takes at most this


class Command(msgspec.Struct, frozen=True):
    """What a step runs: its task's command line (shell, run_as, pty) and its program."""

    task: Task
    program: str


class StepIO(Protocol):
    """Where a running command's output and essh's notes about it go."""

    def output(self, stream: Stream, data: bytes) -> None: ...

    def notice(self, text: str) -> None: ...


class Connection(Protocol):
    async def run(self, command: Command, io: StepIO) -> int: ...

    async def upload(self, command: Command, io: StepIO, contents: Contents) -> int: ...


class Transport(Protocol):
    def connection(self, host: int | None) -> AbstractAsyncContextManager[Connection]: ...

    async def release(self, host: int | None) -> None: ...

    async def aclose(self) -> None: ...
