"""Which ssh_config keywords a plan's hosts may carry, and what becomes of each.

This is part of the contract: the planner warns (in `PlanMeta.warnings`, shown
with the plan and again at apply) about every keyword outside both lists; the
executor applies `APPLIED_SSH_OPTIONS`, ignores `IGNORED_SSH_OPTIONS` (they
change nothing for a client inside essh's process), and leaves any other keyword
unapplied, as the plan's warning said it would. Keywords compare without case.
"""

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
