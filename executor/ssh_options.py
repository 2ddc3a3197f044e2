"""A plan host's ssh_config options turned into asyncssh connection arguments.

Each supported keyword maps onto one asyncssh argument; keywords that do not
matter to an in-process client (LogLevel, BatchMode, ControlMaster, ...) are
accepted and ignored; any other keyword is refused with `SshOptionError`, never
dropped silently. Options the plan leaves out fall back to the user's
~/.ssh/config, ssh-agent and ~/.ssh/known_hosts, as asyncssh reads them.

`StrictHostKeyChecking` is not an asyncssh setting: it comes back separately as
`ConnectSpec.strict` ("yes", "no" or "accept-new") for `ssh.py` to apply.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
from collections.abc import Callable
from typing import Any

import asyncssh
import msgspec

from essh.schema import Host
from essh.schema.ssh_options import IGNORED_SSH_OPTIONS

from .errors import SshOptionError

IGNORED = frozenset(k.lower() for k in IGNORED_SSH_OPTIONS)

_TRUE = {"yes", "true", "on"}
_FALSE = {"no", "false", "off"}


class ConnectSpec(msgspec.Struct):
    """How to connect to one host.

    `name` is what asyncssh is asked to connect to, so ~/.ssh/config's `Host`
    blocks match the essh host name as OpenSSH would; `host` is where the
    connection goes (the plan's HostName, else the name), which `ssh.py` hands
    asyncssh as a one-line config file read before ~/.ssh/config (first value
    wins, so the plan's HostName beats a Hostname there).
    """

    name: str
    host: str
    kwargs: dict[str, Any] = msgspec.field(default_factory=dict)
    strict: str = "yes"  # StrictHostKeyChecking: yes, no or accept-new
    known_hosts_files: list[str] = msgspec.field(default_factory=list)  # where accept-new records keys


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("must be yes or no")


def _in_range(number, low, high):
    if not low <= number <= high:
        raise ValueError(f"must be between {low} and {high}")
    return number


def _optional(value: str) -> str | None:
    return None if value.lower() == "none" else value


def _optional_path(value: str) -> str | None:
    return None if value.lower() == "none" else os.path.expanduser(value)


def _algs(value: str) -> list[str]:
    if value[:1] in "+-^":
        raise ValueError("must be a plain comma-separated list (essh's SSH client takes no +/-/^ edits)")
    return [alg.strip() for alg in value.split(",") if alg.strip()]


def _family(value: str) -> int:
    families = {"any": socket.AF_UNSPEC, "inet": socket.AF_INET, "inet6": socket.AF_INET6}
    if value.lower() not in families:
        raise ValueError("must be any, inet or inet6")
    return families[value.lower()]


def _compression(value: str) -> list[str]:
    return ["zlib@openssh.com", "zlib", "none"] if _bool(value) else ["none"]


# keyword (lower case) -> (asyncssh argument, conversion of the value)
_PLAIN: dict[str, tuple[str, Callable[[str], Any]]] = {
    "port": ("port", lambda value: _in_range(int(value), 1, 65535)),
    "user": ("username", str),
    "identityagent": ("agent_path", _optional_path),
    "proxyjump": ("tunnel", _optional),
    "proxycommand": ("proxy_command", _optional),
    "connecttimeout": ("connect_timeout", lambda value: _in_range(float(value), 0, 10**6)),
    "serveraliveinterval": ("keepalive_interval", lambda value: _in_range(float(value), 0, 10**6)),
    "serveralivecountmax": ("keepalive_count_max", lambda value: _in_range(int(value), 1, 10**6)),
    "tcpkeepalive": ("tcp_keepalive", _bool),
    "hostkeyalias": ("host_key_alias", str),
    "forwardagent": ("agent_forwarding", _bool),
    "compression": ("compression_algs", _compression),
    "ciphers": ("encryption_algs", _algs),
    "macs": ("mac_algs", _algs),
    "kexalgorithms": ("kex_algs", _algs),
    "hostkeyalgorithms": ("server_host_key_algs", _algs),
    "preferredauthentications": ("preferred_auth", str),
    "pubkeyauthentication": ("public_key_auth", _bool),
    "passwordauthentication": ("password_auth", _bool),
    "kbdinteractiveauthentication": ("kbdint_auth", _bool),
    "addressfamily": ("family", _family),
    "bindaddress": ("local_addr", lambda value: (value, 0)),
}
_STRICT = {"yes": "yes", "ask": "yes", "true": "yes", "on": "yes", "no": "no", "false": "no", "off": "no", "accept-new": "accept-new"}


def connect_spec(host: Host) -> ConnectSpec:
    """The connection settings of `host`; raises `SshOptionError` for an option that cannot be honoured."""
    spec = ConnectSpec(name=host.name, host=host.name)
    for keyword, value in host.ssh_options:
        try:
            _apply(spec, keyword, value)
        except (ValueError, KeyError) as exc:
            reason = "is not a valid value" if isinstance(exc, KeyError) else str(exc)
            raise SshOptionError(f"host {host.name}: ssh option {keyword} {value!r} {reason}; fix the host definition") from None
    kw = spec.kwargs
    try:
        _expand_tokens(spec, host.name)
    except KeyError as exc:
        raise SshOptionError(
            f"host {host.name}: unknown %-token %{exc.args[0]} in an ssh option; use %h %p %r %n %d %u or %%"
        ) from None
    paths = kw.pop("_keys", [])
    if paths:
        # Every named key, so asyncssh never falls back to ~/.ssh/id_*; one that
        # needs a passphrase is skipped (essh never prompts) and left to the agent.
        kw["client_keys"] = paths
        kw["ignore_encrypted"] = True
    if kw.pop("_identities_only", False) and _agent_possible(kw):
        # Only the named keys, from files or from the agent: OpenSSH's IdentitiesOnly.
        # (Without an agent there is nothing to restrict: skip loading them again.)
        loadable, agent_only = _split_keys(paths)
        kw["agent_identities"] = loadable + agent_only
    known = kw.pop("_known", [])
    if known:
        kw["known_hosts"] = known
        spec.known_hosts_files = known
    else:
        spec.known_hosts_files = [os.path.expanduser("~/.ssh/known_hosts")]
    if spec.strict == "no":
        kw["known_hosts"] = None
    return spec


# Options whose values may hold OpenSSH %-tokens; asyncssh expands them only in config files.
_TOKEN_OPTIONS = ("proxy_command", "_keys", "client_certs", "agent_path")


def _expand_tokens(spec: ConnectSpec, name: str) -> None:
    kw = spec.kwargs
    tokens = {
        "%": "%",
        "h": spec.host,
        "p": str(kw.get("port", 22)),
        "r": kw.get("username") or getpass.getuser(),
        "n": name,
        "d": os.path.expanduser("~"),
        "u": getpass.getuser(),
    }

    def expand(value: str) -> str:
        return re.sub(r"%(.)", lambda match: tokens[match.group(1)], value)

    for argument in _TOKEN_OPTIONS:
        value = kw.get(argument)
        if isinstance(value, str):
            kw[argument] = expand(value)
        elif isinstance(value, list):
            kw[argument] = [expand(item) for item in value]


def _agent_possible(kw: dict[str, Any]) -> bool:
    """Whether asyncssh will ask an ssh-agent for keys on this connection."""
    if "agent_path" in kw:
        return kw["agent_path"] is not None
    return bool(os.environ.get("SSH_AUTH_SOCK"))


def _split_keys(paths: list[str]) -> tuple[list[str], list[str]]:
    """The IdentityFiles essh can load, and those only the agent can use.

    A passphrase-protected key cannot be loaded by a process that never prompts;
    like OpenSSH in batch mode, essh leaves it to ssh-agent (matched through its
    `.pub` file) instead of failing the whole connection on it.
    """
    loadable: list[str] = []
    agent_only: list[str] = []
    for path in paths:
        try:
            asyncssh.read_private_key(path)
        except asyncssh.KeyEncryptionError:
            agent_only.append(path + ".pub" if os.path.exists(path + ".pub") else path)
            continue
        except asyncssh.KeyImportError as exc:
            if "passphrase" in str(exc).lower():
                agent_only.append(path + ".pub" if os.path.exists(path + ".pub") else path)
                continue
        except OSError:
            pass  # asyncssh reports a missing or unreadable key when it connects
        loadable.append(path)
    return loadable, agent_only


def _apply(spec: ConnectSpec, keyword: str, value: str) -> None:
    key = keyword.lower()
    kw = spec.kwargs
    if key in _PLAIN:
        argument, convert = _PLAIN[key]
        try:
            kw[argument] = convert(value)
        except ValueError as exc:
            detail = str(exc) if str(exc).startswith("must be") or convert in (_bool, _algs, _family, _compression) else "must be a number"
            raise ValueError(detail) from None
    elif key == "hostname":
        if not value or any(c.isspace() or c in "\"'#" for c in value):
            raise ValueError("must be a host name or address")
        spec.host = value
    elif key == "identityfile":
        kw.setdefault("_keys", []).append(os.path.expanduser(value))
    elif key == "identitiesonly":
        kw["_identities_only"] = _bool(value)
    elif key == "certificatefile":
        kw.setdefault("client_certs", []).append(os.path.expanduser(value))
    elif key in ("userknownhostsfile", "globalknownhostsfile"):
        kw.setdefault("_known", []).extend(os.path.expanduser(p) for p in value.split() if p.lower() != "none")
    elif key == "stricthostkeychecking":
        spec.strict = _STRICT[value.lower()]
    elif key == "sendenv":
        kw.setdefault("send_env", []).extend(value.split())
    elif key == "setenv":
        env_name, _, env_value = value.partition("=")
        kw.setdefault("env", {})[env_name] = env_value
    # Any other keyword is left unapplied: the plan's warnings already say so
    # (essh.schema.ssh_options), and the CLI repeats them at apply.
