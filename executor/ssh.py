"""The SSH transport: one asyncssh connection per host, one channel per step.

`SshPool` is used from trio; everything asyncssh does runs natively on the
asyncio host loop and is reached through `bridge.aio`, once to open a
connection and once per step (the step's bytes go straight from asyncssh's
callbacks into its `StepOutput`, never through trio).

Connections open on a host's first step and are reused by its later steps; at
most `max_connections` are open at once (when full, the least recently used
idle one is closed first). asyncssh's exceptions become `HostUnreachable` here.

Ending a remote process: sshd makes each session's shell a session and
process-group leader. The command therefore first reports that shell's pid
(`$$`) on stderr, in a line this module removes from the output; when the step
is cancelled, a second channel kills that whole process group (TERM, then KILL
after a grace period; through the step's own sudo wrapping when it has one)
before the step's channel is closed. This assumes a POSIX login shell on the
host, as sending `shlex.join(argv)` already does.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import shlex
import signal
import socket
import tempfile
from collections.abc import Sequence
from types import TracebackType

import asyncssh
import trio

from essh.schema import Delivery, Host, Task, encode_program, sudo_prefix, task_argv

from .bridge import aio
from .errors import ConnectionLost, HostUnreachable, SshOptionError, StepTimedOut
from .output import StepOutput
from .pid_line import PidLineFilter
from .ssh_options import ConnectSpec, connect_spec

# POSIX sh: report the session leader's pid, then become the step's command.
_PID_PRELUDE = "printf 'ESSH-PID %d\\n' \"$$\" >&2; exec "
KILL_GRACE = 2  # seconds between TERM and KILL of a cancelled remote process group
_GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"
_REDIRECTING_KEYWORDS = (
    "hostname", "port", "userknownhostsfile", "globalknownhostsfile", "hostkeyalias",
    "knownhostscommand", "include", "match",
)
_CLEANUP_TIMEOUT = 5.0  # never wait longer than this on a remote clean-up


def _jump_loops(hosts: Sequence[Host], specs: Sequence[ConnectSpec | str], index: dict[str, int]) -> dict[int, str]:
    """Hosts whose chain of ProxyJump hosts (names of plan hosts) comes back on itself, with the chain."""
    loops: dict[int, str] = {}
    for start in range(len(hosts)):
        chain, current = [start], start
        while True:
            spec = specs[current]
            jump = spec.kwargs.get("tunnel") if isinstance(spec, ConnectSpec) else None
            current = index.get(jump) if isinstance(jump, str) else None
            if current is None:
                break
            if current in chain:
                loops[start] = " -> ".join(hosts[i].name for i in [*chain, current])
                break
            chain.append(current)
    return loops


def _spec_or_reason(host: Host) -> ConnectSpec | str:
    try:
        return connect_spec(host)
    except SshOptionError as exc:
        return str(exc)


class SshPool:
    """SSH connections to a plan's hosts, opened on demand; use `async with` inside trio."""

    def __init__(self, hosts: Sequence[Host], *, max_connections: int) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        self._hosts = list(hosts)
        # Checked now; a host whose options cannot be honoured is unreachable (with
        # the reason) when its first step needs it, and the other hosts go on.
        self._specs: list[ConnectSpec | str] = [_spec_or_reason(host) for host in self._hosts]
        self._max = max_connections
        self._index = {host.name: i for i, host in enumerate(self._hosts)}
        self._held: set[int] = set()  # bastions: open while the pool lives, outside --max-connections
        self._loops = _jump_loops(self._hosts, self._specs, self._index)
        self._conns: dict[int, asyncssh.SSHClientConnection] = {}
        self._active: dict[int, int] = {}
        self._last_used: dict[int, int] = {}
        self._clock = 0
        self._opening = 0
        self._locks: dict[int, trio.Lock] = {}
        self._capacity = trio.Event()
        self._released: set[int] = set()
        self.opened = 0  # connections opened so far (for tests and benchmarks)

    async def __aenter__(self) -> SshPool:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conns = [self._conns.pop(host) for host in sorted(self._conns)]
        for conn in conns:
            conn.close()
        with trio.CancelScope(shield=True):
            await aio(asyncio.gather(*(_wait_closed(conn) for conn in conns)))

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    async def run(self, host: int, task: Task, program: str, *, out: StepOutput) -> int:
        """Run a step of `task` with `program` on host number `host` and return its
        exit status (128+n if killed by signal n).

        Raises `HostUnreachable` when the host cannot be reached or logged into, and
        `StepTimedOut` when the command runs longer than `timeout` seconds (counted
        from when it starts, not while waiting for a connection).
        When cancelled or timed out, the remote process group is ended first.
        """
        timeout = task.timeout
        conn = await self._acquire(host)
        try:
            delivery: Delivery = "terminal" if task.pty else "stdin"
            command = shlex.join(task_argv(task, delivery))
            data = encode_program(program, delivery)
            with trio.move_on_after(math.inf if timeout is None else timeout):
                return await aio(_run_channel(conn, command, data, task.pty, out, sudo_prefix(task)))
            raise StepTimedOut(timeout)
        except HostUnreachable:
            self._forget_if_closed(host)
            raise
        finally:
            self._active[host] -= 1
            self._clock += 1
            self._last_used[host] = self._clock
            self._signal_capacity()
            if host in self._released and self._active[host] == 0:
                with trio.CancelScope(shield=True):
                    await self._close(host)

    async def release(self, host: int) -> None:
        """No more steps will run on `host`: close its connection once its running steps end."""
        self._released.add(host)
        if self._active.get(host, 0) == 0 and host in self._conns:
            with trio.CancelScope(shield=True):
                await self._close(host)

    async def _acquire(self, host: int) -> asyncssh.SSHClientConnection:
        lock = self._locks.setdefault(host, trio.Lock())
        async with lock:
            self._forget_if_closed(host)  # the server may have closed it while it sat idle
            conn = self._conns.get(host)
            if conn is None:
                spec = self._specs[host]
                if isinstance(spec, str):
                    raise HostUnreachable(spec)
                tunnel = await self._jump_connection(host, spec)
                await self._make_room()
                self._opening += 1
                try:
                    conn = await aio(_connect(spec, tunnel))
                finally:
                    self._opening -= 1
                    self._signal_capacity()
                self._conns[host] = conn
                self.opened += 1
            self._active[host] = self._active.get(host, 0) + 1
            return conn

    async def _jump_connection(self, host: int, spec: ConnectSpec) -> asyncssh.SSHClientConnection | None:
        """The pooled connection to the plan host named by ProxyJump, if it names one.

        ESSH users write `ProxyJump = "bastion"` for a bastion that is itself an
        essh host; its connection is opened with its own options (and its own
        ProxyJump) and stays open while the pool lives.
        """
        jump = spec.kwargs.get("tunnel")
        index = self._index.get(jump) if isinstance(jump, str) else None
        if index is None:
            return None
        if host in self._loops:
            raise HostUnreachable(f"ProxyJump loops back: {self._loops[host]}")
        self._held.add(index)
        try:
            return await self._acquire(index)  # held (never released) while the pool lives
        except HostUnreachable as exc:
            raise HostUnreachable(f"jump host {jump} is unreachable: {exc.reason}") from exc

    async def _make_room(self) -> None:
        # Held bastions do not count: steps never run on them and they can never be
        # closed for room, so counting them could leave no slot for anything.
        while len(self._conns) - len(self._held & self._conns.keys()) + self._opening >= self._max:
            idle = [h for h in self._conns if self._active.get(h, 0) == 0 and h not in self._held]
            if idle:
                await self._close(min(idle, key=lambda h: self._last_used.get(h, 0)))
                continue
            event = self._capacity
            await event.wait()

    def _signal_capacity(self) -> None:
        self._capacity.set()
        self._capacity = trio.Event()

    def _forget_if_closed(self, host: int) -> None:
        # A connection that broke is dropped; the host's next step reconnects.
        conn = self._conns.get(host)
        if conn is not None and conn.is_closed():
            del self._conns[host]
            self._signal_capacity()

    async def _close(self, host: int) -> None:
        conn = self._conns.pop(host, None)
        if conn is not None:
            self._signal_capacity()
            conn.close()
            await aio(_wait_closed(conn))


async def _wait_closed(conn: asyncssh.SSHClientConnection) -> None:
    try:
        await asyncio.wait_for(conn.wait_closed(), _CLEANUP_TIMEOUT)
    except (asyncio.TimeoutError, OSError, asyncssh.Error):
        conn.abort()


async def _connect(spec: ConnectSpec, tunnel: asyncssh.SSHClientConnection | None = None) -> asyncssh.SSHClientConnection:
    """Open and authenticate a connection (asyncio side); failures become `HostUnreachable`."""
    kwargs = dict(spec.kwargs)
    if tunnel is not None:
        kwargs["tunnel"] = tunnel
    try:
        try:
            return await _open(spec, kwargs)
        except asyncssh.HostKeyNotVerifiable:
            if spec.strict != "accept-new" or _has_known_key(spec, kwargs) or _accept_new_allowed():
                raise
        # accept-new: a host never seen before is trusted and recorded; a changed key is not.
        kwargs["known_hosts"] = None
        conn = await _open(spec, kwargs)
        _record_host_key(spec, kwargs, conn)
        return conn
    except asyncssh.HostKeyNotVerifiable as exc:
        if _has_known_key(spec, kwargs):
            reason = "host key does not match known_hosts, or is revoked (possible man-in-the-middle, or the host was reinstalled)"
        elif spec.strict == "accept-new" and _accept_new_allowed():
            reason = f"host key is not verified and accept-new is not applied because {_accept_new_allowed()}; add the key with ssh-keyscan"
        else:
            reason = "host key is not in known_hosts; add it with ssh-keyscan, or set StrictHostKeyChecking accept-new"
        raise HostUnreachable(reason) from exc
    except asyncssh.PermissionDenied as exc:
        user = kwargs.get("username", "the default user")
        raise HostUnreachable(f"authentication failed for {user}: no key was accepted") from exc
    except socket.gaierror as exc:
        raise HostUnreachable(f"host name {spec.host} does not resolve ({exc.strerror})") from exc
    except ConnectionRefusedError as exc:
        raise HostUnreachable(f"connection refused by {spec.host} port {kwargs.get('port', 22)}") from exc
    except (asyncio.TimeoutError, TimeoutError) as exc:
        raise HostUnreachable(f"connection to {spec.host} timed out") from exc
    except asyncssh.KeyImportError as exc:
        raise HostUnreachable(f"cannot load a key of this host's IdentityFile: {exc}") from exc
    except asyncssh.Error as exc:
        raise HostUnreachable(f"SSH error: {exc.reason}") from exc
    except (ValueError, OverflowError) as exc:  # asyncssh's own checks of the host's SSH settings
        raise HostUnreachable(f"cannot use this host's SSH settings: {exc}") from exc
    except OSError as exc:
        raise HostUnreachable(f"cannot connect to {spec.host}: {exc.strerror or exc}") from exc


async def _open(spec: ConnectSpec, kwargs: dict) -> asyncssh.SSHClientConnection:
    user_config = os.path.expanduser("~/.ssh/config")
    if spec.host == spec.name or not os.access(user_config, os.R_OK):
        # Nothing to match the essh name against: skip the config files (and their cost).
        return await asyncssh.connect(spec.host, **kwargs)
    with tempfile.NamedTemporaryFile("w", prefix="essh-", suffix=".ssh_config") as plan_config:
        plan_config.write(f"Hostname {spec.host}\n")
        plan_config.flush()
        return await asyncssh.connect(spec.name, config=[plan_config.name, user_config], **kwargs)


def _has_known_key(spec: ConnectSpec, kwargs: dict) -> bool:
    """Whether any known_hosts file says anything about this host: a key, a CA, a
    revocation. A failed check is then a changed (or revoked) key, never a new one."""
    port = kwargs.get("port", 22)
    names = {spec.host, spec.name} | ({kwargs["host_key_alias"]} if kwargs.get("host_key_alias") else set())
    for path in [*spec.known_hosts_files, _GLOBAL_KNOWN_HOSTS]:
        try:
            known = asyncssh.read_known_hosts(path)
        except (OSError, ValueError):
            continue
        for name in names:
            # match() drops revocations of "[name]:port" when it falls back to the
            # port-less name, so the bracketed form is asked for on its own too.
            if any(known.match(name, "", port)) or any(known.match(f"[{name}]:{port}", "", None)):
                return True
    return False


def _accept_new_allowed() -> str | None:
    """Why accept-new cannot be trusted here, or None.

    accept-new decides "never seen" by reading known_hosts files itself, under the
    name and port the plan gives. When the user's ~/.ssh/config may change what
    the check looks up (another HostName or Port, other known_hosts files, an
    alias, or an Include/Match it cannot follow), that decision could miss a
    recorded key, so accept-new falls back to plain verification.
    """
    try:
        with open(os.path.expanduser("~/.ssh/config"), encoding="utf-8", errors="replace") as f:
            text = f.read().lower()
    except OSError:
        return None
    for keyword in _REDIRECTING_KEYWORDS:
        if re.search(rf"^\s*{keyword}\b", text, re.MULTILINE):
            return f"~/.ssh/config sets {keyword}"
    return None


def _lookup_name(spec: ConnectSpec, kwargs: dict) -> str:
    name = kwargs.get("host_key_alias") or spec.host
    port = kwargs.get("port", 22)
    return name if port == 22 else f"[{name}]:{port}"


def _record_host_key(spec: ConnectSpec, kwargs: dict, conn: asyncssh.SSHClientConnection) -> None:
    key = conn.get_server_host_key()
    if key is None:
        return
    path = spec.known_hosts_files[0]
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    entry = key.export_public_key("openssh").decode().split()
    with open(path, "a", encoding="utf-8") as known:
        known.write(f"{_lookup_name(spec, kwargs)} {entry[0]} {entry[1]}\n")


def _kill_script(pid: int, killer: list[str]) -> str:
    """Shell commands that TERM process group `pid`, then KILL it after a grace period, in the background."""
    wrappers = [""] + ([shlex.join(killer) + " "] if killer else [])

    def kill(signal_name: str) -> str:
        return "; ".join(f"{wrapper}kill -{signal_name} -- -{pid} 2>/dev/null" for wrapper in wrappers)

    return f"{kill('TERM')}; (sleep {KILL_GRACE}; {kill('KILL')}) >/dev/null 2>&1 </dev/null &"


class _Session(asyncssh.SSHClientSession[bytes]):
    """One step's channel: bytes into the StepOutput, exit status out."""

    def __init__(self, out: StepOutput, pid_stream: str) -> None:
        self.out = out
        self.pid_stream = pid_stream
        self.pid_filter = PidLineFilter()
        self.exit_code: int | None = None
        loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = loop.create_future()
        self.pid_seen: asyncio.Future[None] = loop.create_future()  # the pid line arrived, or never will
        self.output_failed: asyncio.Future[None] = loop.create_future()  # writing the output raised

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        stream = "stderr" if datatype == asyncssh.EXTENDED_DATA_STDERR else "stdout"
        if stream == self.pid_stream and not self.pid_filter.done:
            data = self.pid_filter.feed(data)
            if self.pid_filter.done and not self.pid_seen.done():
                self.pid_seen.set_result(None)
        if data and not self.output_failed.done():
            try:
                self.out.feed(stream, data)
            except Exception as exc:  # our side failed (terminal, log file), not the host
                self.output_failed.set_exception(exc)

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
            self.out.feed(self.pid_stream, held)  # type: ignore[arg-type]
        if not self.pid_seen.done():
            self.pid_seen.set_result(None)
        if not self.done.done():
            if exc is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(exc)


async def _run_channel(
    conn: asyncssh.SSHClientConnection, command: str, data: bytes, pty: bool, out: StepOutput, killer: list[str]
) -> int:
    """Run `command` on a new channel of `conn` (asyncio side); returns its exit status."""
    opening = asyncio.ensure_future(
        conn.create_session(
            lambda: _Session(out, "stdout" if pty else "stderr"),
            _PID_PRELUDE + command,
            encoding=None,
            request_pty="force" if pty else False,
            term_type="xterm" if pty else None,
            term_size=(80, 24) if pty else None,
            term_modes={asyncssh.PTY_ECHO: 0} if pty else None,  # the program is not echoed back
        )
    )
    try:
        try:
            channel, session = await asyncio.shield(opening)
        except asyncio.CancelledError:
            # The command may start all the same: let the channel open, then end it.
            channel, session = await asyncio.wait_for(opening, _CLEANUP_TIMEOUT)
            await _end_remote(conn, channel, session, killer)
            raise
    except asyncssh.ChannelOpenError as exc:
        raise HostUnreachable(f"the server refused a new session: {exc.reason}") from exc
    except (asyncssh.Error, OSError) as exc:
        raise ConnectionLost(f"connection lost: {exc}") from exc
    except asyncio.TimeoutError:
        raise asyncio.CancelledError from None
    try:
        channel.write(data)  # sent with the request: no round trip of its own
        if not pty:
            channel.write_eof()
        await asyncio.wait([session.done, session.output_failed], return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        await _end_remote(conn, channel, session, killer)
        raise
    if session.output_failed.done():
        # The step's output cannot be written: end the step, and say why (it is not the host's fault).
        await _end_remote(conn, channel, session, killer)
        session.output_failed.result()
    try:
        session.done.result()
    except (asyncssh.Error, OSError) as exc:
        raise ConnectionLost(f"connection lost while the step ran: {exc}") from exc
    # A channel that closed without an exit status: what OpenSSH's client reports.
    return 255 if session.exit_code is None else session.exit_code


async def _end_remote(
    conn: asyncssh.SSHClientConnection, channel: asyncssh.SSHClientChannel, session: _Session, killer: list[str]
) -> None:
    """End the step's remote process group, then its channel; bounded in time, never raises."""
    try:
        if not session.done.done():
            # The pid line may still be on its way when a step is cancelled right away.
            await asyncio.wait_for(asyncio.shield(session.pid_seen), _CLEANUP_TIMEOUT)
        if session.pid_filter.pid is not None and not session.done.done():
            kill = _kill_script(session.pid_filter.pid, killer)
            await asyncio.wait_for(conn.run(kill, check=False, stdin=asyncssh.DEVNULL), _CLEANUP_TIMEOUT)
        channel.close()
        await asyncio.wait_for(asyncio.shield(session.done), _CLEANUP_TIMEOUT)
    except Exception:  # clean-up is best effort: the connection may be gone already
        channel.abort()
