"""SFTP on a host's existing connection: a new private file written by streaming, and removal.

`write_new` creates the file exclusively with mode 0600 (never a window in
which another user could read it, never following a planted symlink), writes
the contents (bytes already in memory, or a local file streamed in blocks
with asyncssh's parallel requests: memory stays bounded by the block size
times the requests in flight), and removes what it wrote on any failure,
the connection's loss apart (then nothing on the host can be reached).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib

import asyncssh

from .errors import ConnectionLost, LocalError, StepFailure

_BLOCK = 4 * 1024 * 1024  # bytes read from a local file and handed to SFTP at once


class SourceChanged(StepFailure):
    """A referenced source's contents no longer have the plan's digest."""

    kind = "file_error"


async def write_new(
    conn: asyncssh.SSHClientConnection, path: str, data: bytes | None, local_path: str | None, sha256: str | None = None
) -> str:
    """Write a new file at `path` (relative: the login user's home); return its absolute path.

    With `sha256`, a local file's contents must have that digest (taken while they are
    sent): otherwise the file written is removed and `SourceChanged` raised."""
    try:
        async with conn.start_sftp_client() as sftp:
            full = path if path.startswith("/") else (await sftp.realpath(".")).rstrip("/") + "/" + path
            attrs = asyncssh.SFTPAttrs(permissions=0o600)
            try:
                async with sftp.open(full, "xb", attrs) as remote:
                    if data is not None:
                        await remote.write(data)
                    else:
                        got = await _stream(local_path, remote)  # type: ignore[arg-type]
                        if sha256 is not None and got != sha256:
                            raise SourceChanged(f"{local_path} changed since the plan was made (its sha256 no longer matches)")  # noqa: E501
            except BaseException:
                with contextlib.suppress(Exception):
                    await sftp.remove(full)
                raise
            return full
    except SourceChanged:
        raise
    except asyncssh.ConnectionLost as exc:
        raise ConnectionLost(f"the connection was lost while writing {path}: {exc.reason}") from exc
    except OSError as exc:  # the socket's (a reset, a broken pipe): the local file's are LocalError already
        raise ConnectionLost(f"the connection was lost while writing {path}: {exc.strerror or exc}") from exc
    except asyncssh.Error as exc:  # the caller names the destination
        raise StepFailure(exc.reason or type(exc).__name__, "file_error") from exc


async def _stream(local_path: str, remote: asyncssh.SFTPClientFile) -> str:
    """Send a local file's contents; return their sha256 (hashlib releases the GIL on big blocks)."""
    digest = hashlib.sha256()
    with _local(local_path, open, local_path, "rb") as f:
        offset = 0
        while chunk := _local(local_path, f.read, _BLOCK):
            sent = asyncio.ensure_future(remote.write(chunk, offset))
            await asyncio.get_running_loop().run_in_executor(None, digest.update, chunk)
            await sent
            offset += len(chunk)
    return digest.hexdigest()


def _local(path: str, call, *args):
    """`call(*args)` on this machine's file `path`; its OSError becomes a LocalError naming the file."""
    try:
        return call(*args)
    except OSError as exc:
        raise LocalError(f"cannot read {path}: {exc.strerror or exc}") from exc


async def remove(conn: asyncssh.SSHClientConnection, path: str) -> None:
    try:
        async with conn.start_sftp_client() as sftp:
            await sftp.remove(path)
    except (asyncssh.Error, OSError) as exc:
        raise StepFailure(f"cannot remove {path}: {exc}", "file_error") from exc

