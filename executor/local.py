"""The local transport: a step run on this machine with trio's process support.

The process starts in its own session (so its own process group); its program
arrives on its stdin (with `task.pty`, through its terminal, which is its stdin,
stdout and stderr), never in an argv, and its output streams into the step's
`StepIO`. Cancelling the caller ends the whole group: TERM, then KILL
after `KILL_GRACE`, before Cancelled propagates.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import termios
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from essh.schema import encode_program, task_argv
from essh.schema.command import delivery_of

from .errors import LocalError
from .transport import KILL_GRACE, Command, StepIO

_READ_SIZE = 64 * 1024


class LocalTransport:
    """This machine, for steps without a host (or of local tasks)."""

    @asynccontextmanager
    async def connection(self, host: int | None = None) -> AsyncIterator[LocalConnection]:
        yield LocalConnection()

    async def release(self, host: int | None = None) -> None:
        pass

    async def aclose(self) -> None:
        pass


class LocalConnection:
    async def run(self, command: Command, io: StepIO) -> int:
        """Run a step here and return its exit status (128+n if killed by signal n)."""
        try:
            return await _run(command, io)
        except OSError as exc:  # the process could not start: out of descriptors, no bash...
            raise LocalError(f"cannot start the local command: {exc.strerror or exc}") from exc



async def _run(command: Command, io: StepIO) -> int:
    task = command.task
    delivery = delivery_of(task)
    argv = task_argv(task, delivery)
    data = encode_program(command.program, delivery)
    if task.pty:
        process, terminal = await _start_pty(argv)
        streams: list[tuple[trio.abc.ReceiveStream | None, str]] = [(terminal, "stdout")]
        sending: trio.abc.SendStream = terminal
    else:
        process = await trio.lowlevel.open_process(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )
        terminal = None
        streams = [(process.stdout, "stdout"), (process.stderr, "stderr")]
        sending = process.stdin  # type: ignore[assignment]
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_send, sending, data, terminal is None)
            for stream, name in streams:
                nursery.start_soon(_pump, stream, name, io)
        return _status(await process.wait())
    except BaseException:
        with trio.CancelScope(shield=True):
            await _end_group(process)
        raise
    finally:
        if terminal is not None:
            await terminal.aclose()


async def _send(stream: trio.abc.SendStream, data: bytes, close: bool) -> None:
    """Hand the step's bootstrap its program (on stdin: then EOF; on a terminal: it stays open)."""
    try:
        await stream.send_all(data)
        if close:
            await stream.aclose()
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass  # the step ended before reading it all: its exit status says what happened


async def _start_pty(argv: list[str]) -> tuple[trio.Process, trio.lowlevel.FdStream]:
    leader, follower = os.openpty()
    try:
        modes = termios.tcgetattr(follower)
        modes[3] &= ~termios.ECHO  # the program is not echoed back; the bootstrap turns echo on again
        termios.tcsetattr(follower, termios.TCSANOW, modes)
        process = await trio.lowlevel.open_process(
            argv,
            stdin=follower,
            stdout=follower,
            stderr=follower,
            start_new_session=True,
            preexec_fn=_take_terminal,
        )
    except BaseException:
        os.close(leader)
        raise
    finally:
        os.close(follower)
    return process, trio.lowlevel.FdStream(leader)


def _take_terminal() -> None:
    # In the child, after setsid: the terminal on stdin becomes its controlling
    # terminal, so /dev/tty works (prompts, `ssh`, job control) as under sshd.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def _pump(stream: trio.abc.ReceiveStream | None, name: str, io: StepIO) -> None:
    if stream is None:
        return
    while True:
        try:
            data = await stream.receive_some(_READ_SIZE)
        except (trio.BrokenResourceError, OSError) as exc:
            # A terminal whose other side has closed reads as EIO: that is the end of output.
            if isinstance(exc.__cause__ or exc, OSError) and getattr(exc.__cause__ or exc, "errno", None) == errno.EIO:
                return
            raise
        if not data:
            return
        io.output(name, data)  # type: ignore[arg-type]


async def _end_group(process: trio.Process) -> None:
    # The group, not only the leader: a shell's children outlive it otherwise.
    _signal_group(process.pid, signal.SIGTERM)
    with trio.move_on_after(KILL_GRACE):
        await process.wait()
    _signal_group(process.pid, signal.SIGKILL)  # members that ignored TERM or outlived the leader
    await process.wait()


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass


def _status(returncode: int) -> int:
    # subprocess reports death by signal n as -n; a shell says 128+n.
    return 128 - returncode if returncode < 0 else returncode
