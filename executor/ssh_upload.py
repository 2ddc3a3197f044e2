"""An upload's contents streamed into a program's standard input on a step's channel (asyncio side).

Why not SFTP: on the same connection, asyncssh's SFTP client cost ~1.5x the
client CPU of plain channel data (a request, a reply and a Python object per
block), and SFTP cannot write as the task's `user` through sudo. Here the
upload is one exec request on the step's connection, like a step:
`[sudo -n -u USER -H --] sh -c BOOTSTRAP`, where the bootstrap reads a line
with a length, then that many bytes of program (`dd bs=1` never reads past
them), and runs it; the rest of standard input is the file's contents, which
the program (`remote_files.upload_program`) writes with `cat` into a private
temporary file beside the destination and renames over it only when exactly
the expected number of bytes arrived. Neither the program nor the contents
ever appear in a command line.

A referenced source (a local file read at apply time) must still have the
plan's digest. Its last block is withheld until the digest of everything read
is known; on a mismatch the host gets a count of bytes that is not the
expected one, so it removes its temporary file and renames nothing. The
digest of a source is taken once per run (`Sources`), in a thread started by
the first upload that reads it: every upload of it (at the same time or later)
checks that the file's identity (device, inode, size, mtime, ctime) is the one
hashed, before and after it read it, and uses that digest; a file modified
less than `RACY_SECONDS` before is hashed for every upload, as its times
might not show a change made within the same clock tick.

Memory: an upload holds at most `PER_UPLOAD` bytes (the block being read, the
one withheld and the channel's write buffer), and all uploads of a run share
`BUDGET`: when it is taken, further uploads wait for their turn in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from typing import BinaryIO

import asyncssh
import msgspec

from essh.schema import Task, sudo_prefix

from .errors import LocalError, StepFailure

CHUNK = 256 * 1024  # bytes read from a source and written to the channel at once
PER_UPLOAD = 4 * CHUNK  # the most one upload holds: a block read, one withheld, two in the channel's buffer
BUDGET = 64 * 1024 * 1024  # the most all uploads of a run hold at once (64 streams)
RACY_SECONDS = 2.0  # a source modified this recently when hashed is not trusted by its identity alone

BOOTSTRAP = 'IFS= read -r n && p=$(dd bs=1 count="$n" 2>/dev/null) && eval "$p"'


class SourceChanged(StepFailure):
    """A referenced source's contents no longer have the plan's digest."""

    kind = "file_error"


class Contents(msgspec.Struct, frozen=True):
    """What an upload sends: bytes in memory, or a local file that must have `size` and `sha256`."""

    data: bytes | None
    source: str | None
    size: int
    sha256: str


def argv(task: Task) -> list[str]:
    """The command line of an upload: fixed, no path or contents in it."""
    return [*sudo_prefix(task), "sh", "-c", BOOTSTRAP]


def preamble(program: str) -> bytes:
    """What precedes the contents on standard input: the program's length, then the program."""
    data = program.encode("utf-8", "surrogateescape")
    return b"%d\n" % len(data) + data


Identity = tuple[int, int, int, int, int]  # device, inode, size, mtime_ns, ctime_ns


class Sources(msgspec.Struct):
    """Shared by a run's uploads: the memory budget, and one digest per source file.

    The first upload of a file starts hashing it in a thread (at disk or page
    cache speed, ahead of any network); uploads of the same file (the same
    identity) that start meanwhile or later share that digest. A file modified
    less than `RACY_SECONDS` before is not shared: each upload hashes it."""

    slots: asyncio.Semaphore = msgspec.field(default_factory=lambda: asyncio.Semaphore(BUDGET // PER_UPLOAD))
    _digests: dict[str, tuple[Identity, asyncio.Future[tuple[str, Identity]]]] = msgspec.field(default_factory=dict)

    def digest(self, path: str, identity: Identity, now_ns: int) -> asyncio.Future[tuple[str, Identity]]:
        """The sha256 of `path` and its identity while it was read (all zeros if it changed meanwhile)."""
        known = self._digests.get(path)
        if known is not None and known[0] == identity and not (known[1].done() and known[1].exception()):
            return known[1]
        future = asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(None, _digest_of, path))
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved, whoever waits
        if max(identity[3], identity[4]) < now_ns - RACY_SECONDS * 1e9:
            self._digests[path] = (identity, future)
        return future


def _identity(st: os.stat_result) -> Identity:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Ended(Exception):
    """The remote program ended before it took all the contents (its exit status says why)."""


class Feed:
    """Writes an upload's preamble and contents to a channel, with flow control."""

    def __init__(self, sources: Sources, program: str, contents: Contents) -> None:
        self.sources = sources
        self.program = program
        self.contents = contents

    async def send(self, channel: asyncssh.SSHClientChannel, writable: asyncio.Event, done: asyncio.Future) -> None:
        """Send the preamble and the contents, then EOF (also on failure: the host then writes nothing).

        Raises SourceChanged or LocalError for the source, Ended when the program stopped reading."""
        channel.set_write_buffer_limits(high=2 * CHUNK, low=CHUNK)

        async def write(data: bytes) -> None:
            if done.done():
                raise Ended
            try:
                channel.write(data)
            except (asyncssh.Error, OSError) as exc:
                raise Ended from exc
            if not writable.is_set():
                waiting = asyncio.ensure_future(writable.wait())
                try:
                    await asyncio.wait([waiting, done], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiting.cancel()

        async with self.sources.slots:
            try:
                await self._send(write)
            finally:
                with contextlib.suppress(asyncssh.Error, OSError):
                    channel.write_eof()

    async def _send(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        c = self.contents
        await write(preamble(self.program))
        if c.data is not None:
            view = memoryview(c.data)
            for offset in range(0, len(view), CHUNK):
                await write(bytes(view[offset : offset + CHUNK]))
            return
        assert c.source is not None
        path = c.source
        try:
            f = open(path, "rb", buffering=0)
        except OSError as exc:
            await _spoil(write, 0, c.size)
            raise LocalError(f"cannot read {path}: {exc.strerror or exc}") from exc
        with f:
            before = _identity(os.fstat(f.fileno()))
            hashing = self.sources.digest(path, before, time.time_ns())
            total, sent, withheld = await self._stream(f, write)
            after = _identity(os.fstat(f.fileno()))
        try:
            got, hashed = await asyncio.shield(hashing)
        except OSError as exc:
            await _spoil(write, sent, c.size)
            raise LocalError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if not (total == c.size and before == after == hashed and got == c.sha256):
            await _spoil(write, sent, c.size)
            raise SourceChanged(f"{path} changed since the plan was made (its sha256 no longer matches)")
        if withheld is not None:
            await write(withheld)

    async def _stream(self, f: BinaryIO, write: Callable[[bytes], Awaitable[None]]) -> tuple[int, int, bytes | None]:
        """Read and send all but the last block of `f`; return (bytes read, bytes sent, the last
        block). Reading stops one block past the expected size."""
        c = self.contents
        withheld: bytes | None = None
        total = sent = 0
        while total <= c.size:
            try:
                chunk = f.read(CHUNK)
            except OSError as exc:
                await _spoil(write, sent, c.size)
                raise LocalError(f"cannot read {c.source}: {exc.strerror or exc}") from exc
            if not chunk:
                break
            total += len(chunk)
            if withheld is not None:
                await write(withheld)
                sent += len(withheld)
            withheld = chunk
        return total, sent, withheld


def _digest_of(path: str) -> tuple[str, Identity]:
    """(sha256, identity) of a local file (in a thread: hashlib releases the GIL on big blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        before = _identity(os.fstat(f.fileno()))
        while chunk := f.read(1 << 20):
            digest.update(chunk)
        return digest.hexdigest(), before if _identity(os.fstat(f.fileno())) == before else (0, 0, 0, 0, 0)


async def _spoil(write: Callable[[bytes], Awaitable[None]], sent: int, size: int) -> None:
    """After `sent` bytes, make sure the host's count differs from `size` (it then writes nothing)."""
    if sent == size:
        await write(b"\0")
