"""One step on one SSH channel (asyncio side): start it, feed it its program, end it.

The exec request is the task's fixed command line (`essh.schema.command.login_command`),
behind a prelude the login shell runs first: it reports the shell's pid on a
line marked with this run's nonce (sshd makes that shell a session and
process-group leader), then `exec`s the command. The step's program follows on
the channel's stdin in the same flight as the request, so it costs no round
trip. When the step is cancelled, a second channel kills the whole process
group (TERM, then KILL after `KILL_GRACE`, in the background on the host;
through the step's own sudo when it runs as another user) before the step's
channel is closed. When that second channel is refused (a server's
MaxSessions), `open_spare` gives another connection to run the kill on; when the
kill cannot be done at all, `io.notice` says so.

This assumes a POSIX login shell on the host.
"""

from __future__ import annotations

import asyncio
import shlex
import signal
from collections.abc import Awaitable, Callable

import asyncssh

from essh.schema import Task, encode_program, sudo_prefix
from essh.schema.command import delivery_of, login_command

from .errors import ConnectionLost, LocalError, StepFailure
from .pid_line import PidLineFilter
from .ssh_upload import Feed, argv as upload_argv
from .transport import CLEANUP_TIMEOUT, KILL_GRACE, Command, StepIO

# Another connection to run a kill on, and whether the caller must close it; None: none to be had.
OpenSpare = Callable[[], Awaitable["tuple[asyncssh.SSHClientConnection, bool] | None"]]


class SessionRefused(Exception):
    """The server refused a new channel on this connection (MaxSessions reached)."""


class StaleConnection(ConnectionLost):
    """The connection broke before the step's channel opened: nothing ran, a new connection may."""


def exec_request(task: Task, nonce: str, argv: list[str] | None = None) -> str:
    """The exec request of every step of `task` (or of `argv`): the pid prelude, then the command line."""
    command = login_command(task, delivery_of(task)) if argv is None else "exec " + shlex.join(argv)
    return f"printf 'ESSH-PID-{nonce} %d\\n' \"$$\" >&2; " + command


KILLED = "essh-term-sent"


def kill_script(pid: int, task: Task) -> str:
    """Shell commands that TERM process group `pid` (printing `KILLED` once a TERM went
    through), then, in the background after the grace period, KILL what is left of it."""
    sudo = shlex.join(sudo_prefix(task)) + " " if task.run_as is not None else ""

    def kill(signal_name: str) -> str:
        # as the login user first; through the step's own sudo when its processes are another user's
        alone = f"kill -{signal_name} -- -{pid} 2>/dev/null"
        return f"{{ {alone} || {sudo}{alone}; }}" if sudo else alone

    still_there = f"kill -0 -- -{pid} 2>/dev/null" + (f" || {sudo}kill -0 -- -{pid} 2>/dev/null" if sudo else "")
    return (
        f"{kill('TERM')} && echo {KILLED}; "
        f"(sleep {KILL_GRACE:g}; {{ {still_there}; }} && {kill('KILL')}) >/dev/null 2>&1 </dev/null &"
    )


class _Session(asyncssh.SSHClientSession[bytes]):
    """One step's channel: bytes to the step's io, exit status out."""

    def __init__(self, io: StepIO, pid_stream: str, nonce: str) -> None:
        self.io = io
        self.pid_stream = pid_stream
        self.pid_filter = PidLineFilter(nonce)
        self.exit_code: int | None = None
        self.writable = asyncio.Event()  # the channel's write buffer is below its high-water mark
        self.writable.set()
        loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = loop.create_future()
        self.pid_seen: asyncio.Future[None] = loop.create_future()  # the pid line arrived, or never will
        self.output_failed: asyncio.Future[None] = loop.create_future()  # handing the output on raised
        for future in (self.done, self.output_failed):  # an exception nobody waits for any more is not news
            future.add_done_callback(_retrieve)

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        stream = "stderr" if datatype == asyncssh.EXTENDED_DATA_STDERR else "stdout"
        if stream == self.pid_stream and not self.pid_filter.done:
            data = self.pid_filter.feed(data)
            if self.pid_filter.done and not self.pid_seen.done():
                self.pid_seen.set_result(None)
        if data and not self.output_failed.done():
            try:
                self.io.output(stream, data)  # type: ignore[arg-type]
            except Exception as exc:  # our side failed, not the host
                self.output_failed.set_exception(exc)

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def exit_status_received(self, status: int) -> None:
        self.exit_code = status

    def exit_signal_received(self, signal_name: str, core_dumped: bool, msg: str, lang: str) -> None:
        try:
            self.exit_code = 128 + signal.Signals["SIG" + signal_name].value
        except KeyError:
            self.exit_code = 255

    def connection_lost(self, exc: Exception | None) -> None:
        held = self.pid_filter.finish()  # the command ended inside a line: give back what was held
        if held and not self.output_failed.done():
            self.io.output(self.pid_stream, held)  # type: ignore[arg-type]
        if not self.pid_seen.done():
            self.pid_seen.set_result(None)
        if not self.done.done():
            if exc is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(exc)


async def run_channel(
    conn: asyncssh.SSHClientConnection, command: Command, io: StepIO, nonce: str, open_spare: OpenSpare,
    feed: Feed | None = None,
) -> int:
    """Run `command` on a new channel of `conn`; returns its exit status.

    With `feed`, the command is an upload (`ssh_upload.py`: its own command line,
    the program and the contents on standard input), and the feed's failure is raised
    once the remote program ended.
    Raises `SessionRefused` when the server refuses the channel, `ConnectionLost`
    when the connection breaks, `LocalError` when the output cannot be handed on."""
    task = command.task
    delivery = delivery_of(task)
    request = exec_request(task, nonce) if feed is None else exec_request(task, nonce, upload_argv(task))
    opening = asyncio.ensure_future(
        conn.create_session(
            lambda: _Session(io, "stdout" if task.pty else "stderr", nonce),
            request,
            encoding=None,
            request_pty="force" if task.pty else False,
            term_type="xterm" if task.pty else None,
            term_size=(80, 24) if task.pty else None,
            term_modes={asyncssh.PTY_ECHO: 0} if task.pty else None,  # the program is not echoed back
        )
    )
    try:
        try:
            channel, session = await asyncio.shield(opening)
        except asyncio.CancelledError:
            # The command may start all the same: let the channel open, then end it.
            channel, session = await asyncio.wait_for(opening, CLEANUP_TIMEOUT)
            await _end_remote(conn, channel, session, task, io, open_spare)
            raise
    except asyncssh.ChannelOpenError as exc:
        raise SessionRefused(exc.reason) from exc
    except (asyncssh.Error, OSError) as exc:
        raise StaleConnection(f"connection lost: {exc}") from exc
    except asyncio.TimeoutError:
        raise asyncio.CancelledError from None
    feeding: asyncio.Future[None] | None = None
    try:
        if feed is None:
            channel.write(encode_program(command.program, delivery))  # in the request's flight: no round trip
            if delivery == "stdin":
                channel.write_eof()
        else:
            feeding = asyncio.ensure_future(feed.send(channel, session.writable, session.done))
            feeding.add_done_callback(_retrieve)
        await asyncio.wait([session.done, session.output_failed], return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        if feeding is not None:
            feeding.cancel()
        await _end_remote(conn, channel, session, task, io, open_spare)
        raise
    if feeding is not None and not feeding.done():
        feeding.cancel()  # the program ended before it took everything: its status says why
    if session.output_failed.done():
        await _end_remote(conn, channel, session, task, io, open_spare)
        exc = session.output_failed.exception()
        raise LocalError(f"essh could not handle this step's output: {exc}") from exc
    try:
        session.done.result()
    except (asyncssh.Error, OSError) as exc:
        raise ConnectionLost(f"connection lost while the step ran: {exc}") from exc
    if feeding is not None and not feeding.cancelled() and isinstance(feeding.exception(), StepFailure):
        raise feeding.exception()  # type: ignore[misc]  # the source's fault, once the host cleaned up
    # A channel that closed without an exit status: what OpenSSH's client reports.
    return 255 if session.exit_code is None else session.exit_code


async def _end_remote(
    conn: asyncssh.SSHClientConnection,
    channel: asyncssh.SSHClientChannel,
    session: _Session,
    task: Task,
    io: StepIO,
    open_spare: OpenSpare,
) -> None:
    """End the step's remote process group, then its channel: all within CLEANUP_TIMEOUT, never raises."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CLEANUP_TIMEOUT

    def left() -> float:
        return max(0.0, deadline - loop.time())

    try:
        if not session.done.done():
            # The pid line may still be on its way when a step is cancelled right away.
            await asyncio.wait_for(asyncio.shield(session.pid_seen), left())
        if not session.done.done():
            if session.pid_filter.pid is None:
                io.notice("could not end the remote command: the host's login shell never reported its process id")
            else:
                await _kill(conn, kill_script(session.pid_filter.pid, task), io, open_spare, left)
    except asyncio.TimeoutError:
        io.notice("could not end the remote command: the host did not answer in time")
    except Exception as exc:  # clean-up is best effort: the connection may be gone already
        io.notice(f"could not end the remote command: {exc or type(exc).__name__}")
    try:
        channel.close()
        await asyncio.wait_for(asyncio.shield(session.done), max(left(), 0.1))
    except Exception:
        channel.abort()


async def _kill(
    conn: asyncssh.SSHClientConnection, script: str, io: StepIO, open_spare: OpenSpare, left: Callable[[], float]
) -> None:
    spare = None
    try:
        try:
            result = await asyncio.wait_for(conn.run(script, check=False, stdin=asyncssh.DEVNULL), left())
        except asyncssh.ChannelOpenError:  # no session left on this connection: use another one
            spare = await asyncio.wait_for(open_spare(), left())
            if spare is None:
                io.notice("could not end the remote command: the server refused another session and connection")
                return
            result = await asyncio.wait_for(spare[0].run(script, check=False, stdin=asyncssh.DEVNULL), left())
    finally:
        if spare is not None and spare[1]:  # the kill goes on in the background on the host
            spare[0].close()
    if KILLED not in (result.stdout or ""):
        io.notice("could not end the remote command: kill was refused (its processes may still run)")


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
