"""Opening and authenticating one SSH connection, with the host-key policy, on the asyncio side.

`connect(spec, tunnel)` returns an asyncssh connection or raises `HostUnreachable`
with its kind (refused, dns, connect_timeout, network, auth, host_key,
ssh_error, ssh_settings), or `LocalError` when this machine is out of something
(descriptors, memory): never the host's fault.

Host keys are always verified against known_hosts. `StrictHostKeyChecking
accept-new` trusts and records a host never seen before, and only then: any
mention of the host in a known_hosts file (a key, a CA, a revocation) makes a
failed check a changed key; and whenever ~/.ssh/config may change what the
check looks up, accept-new steps back to plain verification.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import tempfile

import asyncssh

from .errors import HostUnreachable, LocalError, is_local
from .ssh_options import ConnectSpec
from .transport import CLEANUP_TIMEOUT

_GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"
_REDIRECTING_KEYWORDS = (
    "hostname", "port", "userknownhostsfile", "globalknownhostsfile", "hostkeyalias",
    "knownhostscommand", "include", "match",
)


async def wait_closed(conn: asyncssh.SSHClientConnection) -> None:
    try:
        await asyncio.wait_for(conn.wait_closed(), CLEANUP_TIMEOUT)
    except (asyncio.TimeoutError, OSError, asyncssh.Error):
        conn.abort()


async def connect(spec: ConnectSpec, tunnel: asyncssh.SSHClientConnection | None = None) -> asyncssh.SSHClientConnection:
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
        raise HostUnreachable(reason, "host_key") from exc
    except asyncssh.PermissionDenied as exc:
        user = kwargs.get("username", "the default user")
        raise HostUnreachable(f"authentication failed for {user}: no key was accepted", "auth") from exc
    except socket.gaierror as exc:
        raise HostUnreachable(f"host name {spec.host} does not resolve ({exc.strerror})", "dns") from exc
    except ConnectionRefusedError as exc:
        raise HostUnreachable(f"connection refused by {spec.host} port {kwargs.get('port', 22)}", "refused") from exc
    except (asyncio.TimeoutError, TimeoutError) as exc:
        raise HostUnreachable(f"connection to {spec.host} timed out", "connect_timeout") from exc
    except asyncssh.KeyImportError as exc:
        raise HostUnreachable(f"cannot load a key of this host's IdentityFile: {exc}", "ssh_settings") from exc
    except asyncssh.Error as exc:
        raise HostUnreachable(f"SSH error: {exc.reason}", "ssh_error") from exc
    except (ValueError, OverflowError) as exc:  # asyncssh's own checks of the host's SSH settings
        raise HostUnreachable(f"cannot use this host's SSH settings: {exc}", "ssh_settings") from exc
    except OSError as exc:
        if is_local(exc):
            raise LocalError(f"cannot open a connection on this machine: {exc.strerror or exc}") from exc
        raise HostUnreachable(f"cannot connect to {spec.host}: {exc.strerror or exc}", "network") from exc


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
        except FileNotFoundError:
            continue
        except (OSError, ValueError):  # unreadable or damaged: it may hold this host, so never accept-new
            return True
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


