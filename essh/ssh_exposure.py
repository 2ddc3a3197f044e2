"""Which of a host's SSH options the review shows even without `--verbose`.

Anyone who can edit the configuration or the plan file can make an SSH option
run a local command (ProxyCommand, LocalCommand, KnownHostsCommand, Match exec,
a PKCS#11 library), send the connection somewhere else (ProxyJump, forwards),
or hand the remote side something (ForwardAgent, SendEnv). So the rule is an
allowlist: only the keywords in `ROUTINE_SSH_OPTIONS` (which host, user and key,
timeouts, algorithms, essh's ignored no-ops) may stay out of the short review,
summed up in one line; every other keyword, known to essh or not, is shown with
its value on every host that sets it. Keywords compare without case.
"""

from __future__ import annotations

from collections.abc import Iterable

from essh.schema import Host

ROUTINE_SSH_OPTIONS: frozenset[str] = frozenset(
    k.lower()
    for k in (
        "AddressFamily",
        "BatchMode",
        "CertificateFile",
        "CheckHostIP",
        "Ciphers",
        "Compression",
        "ConnectTimeout",
        "ControlMaster",
        "ControlPath",
        "ControlPersist",
        "HashKnownHosts",
        "HostKeyAlgorithms",
        "HostName",
        "IdentitiesOnly",
        "IdentityFile",
        "KbdInteractiveAuthentication",
        "KexAlgorithms",
        "LogLevel",
        "MACs",
        "PasswordAuthentication",
        "Port",
        "PreferredAuthentications",
        "PubkeyAuthentication",
        "ServerAliveCountMax",
        "ServerAliveInterval",
        "StrictHostKeyChecking",  # said on its own line when it weakens checking (review.host_key_notes)
        "TCPKeepAlive",
        "UpdateHostKeys",
        "User",
        "VisualHostKey",
    )
)


def is_routine(keyword: str) -> bool:
    """True if `keyword` may be left to `--verbose` (see the module's rule)."""
    return keyword.lower() in ROUTINE_SSH_OPTIONS


def notable_options(host: Host) -> list[tuple[str, str]]:
    """The options of `host` the short review must show, in the plan's order."""
    return [(key, value) for key, value in host.ssh_options if not is_routine(key)]


def routine_keywords(hosts: Iterable[Host]) -> tuple[list[str], int]:
    """The routine keywords `hosts` set (sorted, as first written) and how many hosts set any."""
    seen: dict[str, str] = {}
    count = 0
    for host in hosts:
        keys = [key for key, _ in host.ssh_options if is_routine(key)]
        count += bool(keys)
        for key in keys:
            seen.setdefault(key.lower(), key)
    return sorted(seen.values(), key=str.lower), count
