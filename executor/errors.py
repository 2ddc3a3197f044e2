"""The executor's failures, typed by whose fault they are, each with its kind as data.

asyncssh's and the OS's exceptions are turned into these at the transport
boundary (`ssh_connect.py`, `ssh_channel.py`, `local.py`) and never travel
further. Messages are one line, say what is wrong and what to do, carry no
secret, and never repeat the host's name (the caller knows which host it asked).

- `HostUnreachable`: the host (or the network) — refused, dns, connect_timeout,
  network, auth, host_key, ssh_error, session_refused — or `ssh_settings`, the
  configuration's options for it. The step is `unreachable`, and so are the
  host's later steps.
- `ConnectionLost`: the connection broke after it was made; this step is
  `unreachable`, the host's next step tries a new connection.
- `StepTimedOut`: the command ran longer than its task's timeout (the command's fault).
- `LocalError`: this machine failed (no file descriptors, memory, a full disk):
  never blamed on a host; the step is `failed` with kind `local_error`.
"""

from __future__ import annotations

import errno

from essh.schema import FailureKind


class StepFailure(Exception):
    """A step's attempt could not succeed; `kind` says why as data, `reason` in words."""

    kind: FailureKind = "local_error"

    def __init__(self, reason: str, kind: FailureKind | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if kind is not None:
            self.kind = kind


class HostUnreachable(StepFailure):
    """The host could not be reached or logged into (see the module's list of kinds)."""

    kind: FailureKind = "ssh_error"


class ConnectionLost(HostUnreachable):
    """The connection broke after it was made (a reboot, sshd restarted, the network dropped)."""

    kind: FailureKind = "connection_lost"


class StepTimedOut(StepFailure):
    """The step's command ran longer than its task's `timeout`; its process was ended."""

    kind: FailureKind = "timeout"

    def __init__(self, timeout: float) -> None:
        super().__init__(f"timed out after {timeout:g}s")
        self.timeout = timeout


class LocalError(StepFailure):
    """Something on this machine failed; the host is not at fault."""

    kind: FailureKind = "local_error"


class SshOptionError(ValueError):
    """The plan gives a host an SSH option essh's client cannot honour: the configuration's fault."""


# errno values that say this machine ran out of something, whatever call raised them.
LOCAL_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS, errno.ENOSPC, errno.EDQUOT})


def is_local(exc: BaseException) -> bool:
    """Whether `exc` is this machine's trouble (out of descriptors, memory, disk), not the host's."""
    return isinstance(exc, OSError) and exc.errno in LOCAL_ERRNOS
