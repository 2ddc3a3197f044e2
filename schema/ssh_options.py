"""Which ssh_config keywords a plan's hosts may carry, and what becomes of each.

This is part of the contract: the planner warns (in `PlanMeta.warnings`, shown
with the plan and again at apply) about every keyword outside both lists; the
executor applies `APPLIED_SSH_OPTIONS`, ignores `IGNORED_SSH_OPTIONS` (they
change nothing for a client inside essh's process), and leaves any other keyword
unapplied, as the plan's warning said it would. Keywords compare without case.

`proxy_jump_host` and `proxy_jump_loops` say which plan host a host connects
through and which chains of them loop: the planner refuses such loops, and the
executor and the plan-file checker can ask the same question the same way.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence

from .plan import Host, Pair

APPLIED_SSH_OPTIONS: tuple[str, ...] = (
    "AddressFamily",
    "BindAddress",
    "CertificateFile",
    "Ciphers",
    "Compression",
    "ConnectTimeout",
    "ForwardAgent",
    "GlobalKnownHostsFile",
    "HostKeyAlgorithms",
    "HostKeyAlias",
    "HostName",
    "IdentitiesOnly",
    "IdentityAgent",
    "IdentityFile",
    "KbdInteractiveAuthentication",
    "KexAlgorithms",
    "MACs",
    "PasswordAuthentication",
    "Port",
    "PreferredAuthentications",
    "ProxyCommand",
    "ProxyJump",
    "PubkeyAuthentication",
    "SendEnv",
    "ServerAliveCountMax",
    "ServerAliveInterval",
    "SetEnv",
    "StrictHostKeyChecking",
    "TCPKeepAlive",
    "User",
    "UserKnownHostsFile",
)

IGNORED_SSH_OPTIONS: tuple[str, ...] = (
    "BatchMode",  # essh never prompts anyway
    "CheckHostIP",
    "ControlMaster",  # one connection per host is already shared by every step
    "ControlPath",
    "ControlPersist",
    "HashKnownHosts",
    "LogLevel",
    "UpdateHostKeys",
    "VisualHostKey",
)


def unapplied_ssh_options(keywords: list[str] | tuple[str, ...]) -> list[str]:
    """The keywords among `keywords` that essh neither applies nor may safely ignore, sorted."""
    known = {k.lower() for k in APPLIED_SSH_OPTIONS + IGNORED_SSH_OPTIONS}
    return sorted({k for k in keywords if k.lower() not in known})


def proxy_jump_host(ssh_options: Iterable[Pair], host_names: Container[str]) -> str | None:
    """The plan host that `ssh_options` connect through, or None.

    As essh's executor reads ProxyJump: the last value wins, "none" means no
    jump, and the value names a plan host only when it is exactly its name; any
    other value (`user@host:port`, a comma-separated chain) goes to SSH as written.
    """
    jump = None
    for keyword, value in ssh_options:
        if keyword.lower() == "proxyjump":
            jump = None if value.lower() == "none" else value
    return jump if jump is not None and jump in host_names else None


def proxy_jump_loops(hosts: Sequence[Host]) -> dict[int, str]:
    """The hosts whose chain of ProxyJump plan hosts comes back on itself, by
    index, each with its chain (`"a -> b -> a"`, from the host itself)."""
    index = {host.name: i for i, host in enumerate(hosts)}
    jump_names = [proxy_jump_host(host.ssh_options, index) for host in hosts]
    jumps = [None if name is None else index[name] for name in jump_names]
    loops: dict[int, str] = {}
    for start in range(len(hosts)):
        chain = [start]
        following = jumps[start]
        while following is not None:
            if following in chain:
                loops[start] = " -> ".join(hosts[i].name for i in [*chain, following])
                break
            chain.append(following)
            following = jumps[following]
    return loops
