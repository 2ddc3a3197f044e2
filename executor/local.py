"""The local transport: a step's argv run on this machine with trio's process support.

The process starts in its own session (so its own process group); its output
streams into the step's `StepOutput`. Cancelling the caller ends the whole
group: TERM, then KILL after a grace period, before Cancelled propagates.
With `pty=True` the process gets a terminal as stdin, stdout and stderr.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import termios

import trio

from essh.schema import Task, encode_program, task_argv

from .output import StepOutput

KILL_GRACE = 2.0  # seconds between TERM and KILL of a cancelled process group
_READ_SIZE = 64 * 1024


async def run_local(task: Task, program: str, *, out: StepOutput) -> int:
    """Run a step of `task` with `program` here and return its exit status (128+n if killed by signal n).

    The program arrives on an inherited pipe (never in an argv); the step's
    standard input is the null device, or its terminal with `task.pty`."""
    read, write = os.pipe()
    terminal = None
    try:
        argv = task_argv(task, "fd", read)
        if task.pty:
            process, terminal = await _start_pty(argv, read)
            streams = [(terminal, "stdout")]
        else:
            process = await trio.lowlevel.open_process(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True, pass_fds=(read,),
            )
            streams = [(process.stdout, "stdout"), (process.stderr, "stderr")]
    except BaseException:
        os.close(write)
        raise
    finally:
        os.close(read)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_send, write, program)
            for stream, name in streams:
                nursery.start_soon(_pump, stream, name, out)
        return _status(await process.wait())
    except BaseException:
        with trio.CancelScope(shield=True):
            await _end_group(process)
        raise
    finally:
        if terminal is not None:
            await terminal.aclose()


async def _send(write: int, program: str) -> None:
    """Write the program into the pipe the step's bootstrap reads, then close it."""
    pipe = trio.lowlevel.FdStream(write)  # takes ownership of `write`
    try:
        await pipe.send_all(encode_program(program, "fd"))
    except (trio.BrokenResourceError, OSError):
        pass  # the step ended before reading it all: its exit status says what happened
    finally:
        await pipe.aclose()


async def _start_pty(argv: list[str], read: int) -> tuple[trio.Process, trio.lowlevel.FdStream]:
    leader, follower = os.openpty()
    try:
        process = await trio.lowlevel.open_process(
            argv,
            stdin=follower,
            stdout=follower,
            stderr=follower,
            start_new_session=True,
            preexec_fn=_take_terminal,
            pass_fds=(read,),
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


async def _pump(stream: trio.abc.ReceiveStream | None, name: str, out: StepOutput) -> None:
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
        out.feed(name, data)  # type: ignore[arg-type]


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
