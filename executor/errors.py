"""The executor's transport errors, typed by whose fault they are.

asyncssh's and the OS's exceptions are turned into these at the transport
boundary (`ssh.py`, `local.py`) and never travel further. Messages are one
line, say what is wrong and what to do, and never carry a secret.
"""

from __future__ import annotations


class HostUnreachable(Exception):
    """The host could not be reached or logged into: refused, DNS, timeout, auth, host key.

    The host's fault (or the network's), not the command's: a step that meets
    it is `unreachable`, distinct from `failed`. `reason` does not repeat the
    host's name (the caller knows which host it asked for).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConnectionLost(HostUnreachable):
    """The connection broke after it was made (the host rebooted, sshd restarted, the
    network dropped): this step is `unreachable`, but the host's next step tries a
    new connection rather than giving up on the host."""


class SshOptionError(ValueError):
    """The plan gives a host an SSH option essh's client cannot honour: the configuration's fault."""


class StepTimedOut(Exception):
    """The step's command ran longer than its task's `timeout`; its process was ended."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"timed out after {timeout:g}s")
        self.timeout = timeout
