"""The SSH transport: connections to a plan's hosts, opened on demand, shared by their steps.

Used from trio; asyncssh runs natively on the asyncio host loop and is reached
through `bridge.aio`, once to open a connection and once per step (the step's
bytes go straight from asyncssh's callbacks into its `StepIO`, never through trio).

- One connection per host, opened by its first step and reused by the later
  ones; a step holds one of its sessions. A connection carries at most
  `SESSIONS_PER_CONNECTION` steps at once, one session fewer than a stock
  sshd's MaxSessions (10), so a kill always has a session; a host running more
  steps at once gets another connection. A server that refuses a session
  sooner teaches its connection a lower limit and the step moves to another
  connection; it is never reported unreachable for that.
- At most `max_connections` connections are open at once, bastions apart
  (when full, the least recently used idle one is closed first). Steps waiting
  for room queue in order; each freed slot wakes one of them, not all (waking
  every waiter cost 17,384 wake-ups for 1,000 steps at 1,000 hosts).
- `ProxyJump` naming a plan host tunnels through that host's pooled connection,
  opened with its own options and held while the pool lives.
- `release(host)`: the host has no step left; its connections close once idle.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import asyncssh
import msgspec
import trio

from essh.schema import Host
from essh.schema.ssh_options import proxy_jump_host

from .bridge import aio
from .ciphers import prefer_aes_gcm
from .errors import ConnectionLost, HostUnreachable, SshOptionError
from .events import Event, HostConnected, HostLost
from .ssh_channel import OpenSpare, SessionRefused, StaleConnection, run_channel
from .ssh_connect import connect, wait_closed
from .ssh_options import ConnectSpec, connect_spec
from .ssh_upload import Contents, Feed, Sources
from .transport import Command, StepIO

SESSIONS_PER_CONNECTION = 9


class _Link(msgspec.Struct, eq=False):
    """One open connection to a host and the step sessions it carries."""

    conn: asyncssh.SSHClientConnection
    limit: int = SESSIONS_PER_CONNECTION
    sessions: int = 0
    last_used: int = 0


class SshConnection:
    """A session slot on one of a host's connections, held for one step."""

    def __init__(self, pool: SshTransport, host: int, link: _Link) -> None:
        self._pool = pool
        self._host = host
        self.link = link

    async def run(self, command: Command, io: StepIO) -> int:
        return await self._run(command, io, None)

    async def upload(self, command: Command, io: StepIO, contents: Contents) -> int:
        return await self._run(command, io, Feed(self._pool.sources, command.program, contents))

    async def _run(self, command: Command, io: StepIO, feed: Feed | None) -> int:
        fresh = False  # a connection that broke before the step began gets one new try
        while True:
            try:
                return await aio(
                    run_channel(
                        self.link.conn, command, io, self._pool.nonce, self._pool.spare_opener(self._host), feed
                    )
                )
            except SessionRefused as exc:
                self.link = await self._pool.moved(self._host, self.link, exc)
            except StaleConnection as exc:
                self._pool.lost(self._host, exc.reason)
                if fresh:
                    raise
                fresh = True
                self.link = await self._pool.replaced(self._host, self.link)
            except ConnectionLost as exc:
                self._pool.lost(self._host, exc.reason)
                raise


class SshTransport:
    """SSH connections to a plan's hosts; use `async with` inside trio (or call `aclose`)."""

    def __init__(
        self,
        hosts: Sequence[Host],
        *,
        max_connections: int,
        nonce: str,
        emit: Callable[[Event], None] = lambda event: None,
        clock: Callable[[], float] = lambda: 0.0,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        self._hosts = list(hosts)
        # Checked now; a host whose options cannot be honoured is unreachable (with
        # the reason) when its first step needs it, and the other hosts go on.
        self._specs: list[ConnectSpec | str] = [_spec_or_reason(host) for host in self._hosts]
        self._max = max_connections
        prefer_aes_gcm()  # when no Ciphers is set: AES-GCM first where the CPU has AES (executor/ciphers.py)
        self._index = {host.name: i for i, host in enumerate(self._hosts)}
        self.nonce = nonce
        self.sources = Sources()  # the uploads' shared memory budget and checked sources
        self._emit = emit
        self._clock = clock
        self._links: dict[int, list[_Link]] = {}
        self._held: set[int] = set()  # bastions: open while the pool lives, outside max_connections
        self._locks: dict[int, trio.Lock] = {}
        self._waiters: deque[trio.Event] = deque()  # steps waiting for room, first come first served
        self.wakeups = 0  # waiters woken so far (for tests and benchmarks)
        self._opening = 0
        self._released: set[int] = set()
        self._uses = 0
        self.opened = 0  # connections opened so far (for tests and benchmarks)

    async def __aenter__(self) -> SshTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        links = [link for host in sorted(self._links) for link in self._links.pop(host)]
        for link in links:
            link.conn.close()
        with trio.CancelScope(shield=True):
            await aio(asyncio.gather(*(wait_closed(link.conn) for link in links)))

    @property
    def open_connections(self) -> int:
        return sum(len(links) for links in self._links.values())

    @asynccontextmanager
    async def connection(self, host: int | None) -> AsyncIterator[SshConnection]:
        if host is None:
            raise ValueError("the SSH transport runs steps on hosts only")
        link = await self._acquire(host)
        slot = SshConnection(self, host, link)
        try:
            yield slot
        except HostUnreachable:
            self._forget_closed(host)
            raise
        finally:
            await self._give_back(host, slot.link)

    async def release(self, host: int | None) -> None:
        """No more steps will run on `host`: close its connections once their steps end."""
        if host is None:
            return
        self._released.add(host)
        for link in list(self._links.get(host, ())):
            if link.sessions == 0 and host not in self._held:
                await self._close(host, link)

    # -- connections --------------------------------------------------------------------

    async def _acquire(self, host: int, *, avoid: _Link | None = None) -> _Link:
        lock = self._locks.setdefault(host, trio.Lock())
        async with lock:
            self._forget_closed(host)  # the server may have closed one while it sat idle
            for link in self._links.get(host, ()):
                if link is not avoid and link.sessions < link.limit:
                    link.sessions += 1
                    return link
            link = _Link(await self._open(host))
            link.sessions = 1
            self._links.setdefault(host, []).append(link)
            return link

    async def _open(self, host: int) -> asyncssh.SSHClientConnection:
        spec = self._specs[host]
        if isinstance(spec, str):
            raise HostUnreachable(spec, "ssh_settings")
        tunnel = await self._jump_connection(host)
        await self._make_room()
        self._opening += 1
        try:
            conn = await aio(connect(spec, tunnel))
        finally:
            self._opening -= 1
            self._signal_capacity()
        self.opened += 1
        self._emit(HostConnected(host, self._clock()))
        return conn

    async def moved(self, host: int, link: _Link, refused: SessionRefused) -> _Link:
        """The server refused a session on `link`: learn its limit, give back the slot, take another."""
        if link.sessions <= 1:  # not even one step's session: the server allows none
            await self._give_back(host, link)
            raise HostUnreachable(f"the server refused a session: {refused}", "session_refused")
        # What the server allowed, less one kept for a kill.
        link.limit = max(1, link.sessions - 2)
        await self._give_back(host, link)
        return await self._acquire(host, avoid=link)

    async def replaced(self, host: int, link: _Link) -> _Link:
        """`link` broke before a step could use it: drop it and take a slot on another (maybe new) one."""
        link.conn.abort()
        link.sessions -= 1
        links = self._links.get(host, [])
        if link in links:
            links.remove(link)
            self._signal_capacity()
        return await self._acquire(host, avoid=link)

    async def _give_back(self, host: int, link: _Link) -> None:
        link.sessions -= 1
        self._uses += 1
        link.last_used = self._uses
        if link.sessions == 0:  # an idle connection can be closed to make room; a busy one cannot
            self._signal_capacity()
        if host in self._released and link.sessions == 0 and host not in self._held:
            with trio.CancelScope(shield=True):
                await self._close(host, link)

    def spare_opener(self, host: int) -> OpenSpare:
        """On the asyncio side: a new connection to `host` to run a kill on when the step's own
        connection has no session left (the caller closes it; rare, so never pooled)."""

        async def open_spare() -> tuple[asyncssh.SSHClientConnection, bool] | None:
            spec = self._specs[host]
            if isinstance(spec, str):
                return None
            return await connect(spec, self._tunnel_for_kill(host)), True

        return open_spare

    def _tunnel_for_kill(self, host: int) -> asyncssh.SSHClientConnection | None:
        """The held bastion connection of `host`, if it has one open."""
        jump = proxy_jump_host(self._hosts[host].ssh_options, self._index)
        if jump is None:
            return None
        links = self._links.get(self._index[jump])
        return links[0].conn if links else None

    async def _jump_connection(self, host: int) -> asyncssh.SSHClientConnection | None:
        """The pooled connection to the plan host named by ProxyJump, if it names one
        (loops were refused when the plan was read: `essh.schema.check_plan`)."""
        jump = proxy_jump_host(self._hosts[host].ssh_options, self._index)
        if jump is None:
            return None
        index = self._index[jump]
        self._held.add(index)
        try:
            link = await self._acquire(index)
        except HostUnreachable as exc:
            raise HostUnreachable(f"jump host {jump} is unreachable: {exc.reason}", exc.kind) from exc
        link.sessions -= 1  # held for tunnels, not for a step
        return link.conn

    async def _make_room(self) -> None:
        # Held bastions do not count: steps never run on them and they can never be
        # closed for room, so counting them could leave no slot for anything.
        while self._counted() + self._opening >= self._max:
            idle = [
                (link.last_used, host, link)
                for host, links in self._links.items()
                if host not in self._held
                for link in links
                if link.sessions == 0
            ]
            if idle:
                _, host, link = min(idle, key=lambda item: item[0])
                await self._close(host, link)
                continue
            await self._wait_for_room()

    def _counted(self) -> int:
        return sum(len(links) for host, links in self._links.items() if host not in self._held)

    async def _wait_for_room(self) -> None:
        event = trio.Event()
        self._waiters.append(event)
        try:
            await event.wait()
        except BaseException:
            if event.is_set():
                self._signal_capacity()  # woken but cancelled: the wake-up goes to the next waiter
            else:
                self._waiters.remove(event)
            raise

    def _signal_capacity(self) -> None:
        """Something that may make room happened (a slot freed, a connection closed): wake one waiter."""
        if self._waiters:
            self.wakeups += 1
            self._waiters.popleft().set()

    def lost(self, host: int, reason: str) -> None:
        self._emit(HostLost(host, reason, self._clock()))

    def _forget_closed(self, host: int) -> None:
        # A connection that broke is dropped; the host's next step reconnects.
        links = self._links.get(host)
        if not links:
            return
        alive = [link for link in links if not link.conn.is_closed()]
        if len(alive) != len(links):
            self._links[host] = alive
            self._emit(HostLost(host, "the connection was closed", self._clock()))
            for _ in range(len(links) - len(alive)):
                self._signal_capacity()

    async def _close(self, host: int, link: _Link) -> None:
        links = self._links.get(host, [])
        if link in links:
            links.remove(link)
            if not links:
                del self._links[host]
            self._signal_capacity()
            link.conn.close()
            await aio(wait_closed(link.conn))


def _spec_or_reason(host: Host) -> ConnectSpec | str:
    try:
        return connect_spec(host)
    except SshOptionError as exc:
        return str(exc)
