"""SFTP on a host's existing connection: a new private file written by streaming, and removal.

`write_new` creates the file exclusively with mode 0600 (never a window in
which another user could read it, never following a planted symlink), writes
the contents (bytes already in memory, or a local file streamed in blocks
with asyncssh's parallel requests: memory stays bounded by the block size
times the requests in flight), and removes what it wrote on any failure,
the connection's loss apart (then nothing on the host can be reached).
"""

from __future__ import annotations

import contextlib

import asyncssh

from .errors import ConnectionLost, LocalError, StepFailure

_BLOCK = 4 * 1024 * 1024  # bytes read from a local file and handed to SFTP at once


async def write_new(conn: asyncssh.SSHClientConnection, path: str, data: bytes | None, local_path: str | None) -> str:
    """Write a new file at `path` (relative: the login user's home); return its absolute path."""
    try:
        async with conn.start_sftp_client() as sftp:
            full = path if path.startswith("/") else (await sftp.realpath(".")).rstrip("/") + "/" + path
            attrs = asyncssh.SFTPAttrs(permissions=0o600)
            try:
                async with sftp.open(full, "xb", attrs) as remote:
                    if data is not None:
                        await remote.write(data)
                    else:
                        await _stream(local_path, remote)  # type: ignore[arg-type]
            except BaseException:
                with contextlib.suppress(Exception):
                    await sftp.remove(full)
                raise
            return full
    except asyncssh.ConnectionLost as exc:
        raise ConnectionLost(f"the connection was lost while writing {path}: {exc.reason}") from exc
    except OSError as exc:
        raise LocalError(f"cannot read {local_path}: {exc.strerror or exc}") from exc
    except asyncssh.Error as exc:  # the caller names the destination
        raise StepFailure(exc.reason or type(exc).__name__, "file_error") from exc


async def _stream(local_path: str, remote: asyncssh.SFTPClientFile) -> None:
    with open(local_path, "rb") as f:
        offset = 0
        while chunk := f.read(_BLOCK):
            await remote.write(chunk, offset)
            offset += len(chunk)


async def remove(conn: asyncssh.SSHClientConnection, path: str) -> None:
    try:
        async with conn.start_sftp_client() as sftp:
            await sftp.remove(path)
    except (asyncssh.Error, OSError) as exc:
        raise StepFailure(f"cannot remove {path}: {exc}", "file_error") from exc

