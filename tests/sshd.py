"""Real OpenSSH sshd servers on loopback for the executor's tests.

`SshdFleet.start(workdir)` starts one `/usr/sbin/sshd -D -e` per test host on
127.0.0.1, each with its own free port and its own ed25519 host key, all
accepting one client key for a dedicated test user whose shell start-up files
are empty (so a step costs a login, not a `.bashrc`). It writes a known_hosts
file naming every host, and builds the `essh.schema.Host` a plan would carry.

Needs root (it creates the test user and may grant it NOPASSWD sudo). A missing
sshd or a server that does not come up raises `SshdError`: the tests that need
these servers fail, they never skip.

Several test sessions may run at once on one machine: ports are probed per
server, and each session keeps its own authorized_keys file and config in its
own directory, so sessions share only the test user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from essh.schema import Host

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
TEST_USER = "essh-test"
HOST_NAMES = ("db-1", "db-2", "web-1", "web-2")
_START_TIMEOUT = 10.0


class SshdError(RuntimeError):
    """The test servers could not be set up: the message says what to install or fix."""


@dataclass
class SshdServer:
    """One running sshd: the host name it stands for and where it listens."""

    name: str
    port: int
    host_key: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def accepted_logins(self) -> int:
        """How many SSH connections this server has authenticated so far."""
        return self.log_text().count("Accepted publickey for ")


@dataclass
class SshdFleet:
    """The running test servers and everything a client needs to reach them."""

    workdir: Path
    user: str
    key_path: Path  # the client's private key (authorized on every server)
    other_key_path: Path  # a client key no server accepts
    known_hosts: Path  # the real host keys of every server
    servers: dict[str, SshdServer]

    @property
    def hosts(self) -> list[tuple[str, int]]:
        """(name, port) of every server, sorted by name."""
        return [(s.name, s.port) for s in sorted(self.servers.values(), key=lambda s: s.name)]

    def port(self, name: str) -> int:
        return self.servers[name].port

    def schema_host(self, name: str, **options: str) -> Host:
        """The plan's view of host `name`; keyword arguments add or replace ssh options."""
        server = self.servers.get(name)
        merged = {
            "HostName": "127.0.0.1",
            "Port": str(server.port if server else free_port()),
            "User": self.user,
            "IdentityFile": str(self.key_path),
            "IdentitiesOnly": "yes",
            "UserKnownHostsFile": str(self.known_hosts),
        }
        merged.update(options)
        return Host(
            name=name,
            ssh_options=tuple(sorted(merged.items())),
            env=(("ESSH_HOSTNAME", name),),
        )

    def alias_host(self, name: str, server: str, **options: str) -> Host:
        """A host called `name` that is served by test server `server` (many hosts, one sshd)."""
        host = self.schema_host(server, **options)
        return Host(name=name, ssh_options=host.ssh_options, env=(("ESSH_HOSTNAME", name),))

    def closed_port_host(self, name: str = "down-1") -> Host:
        """A host whose port has nothing listening (connection refused)."""
        return self.schema_host(name, Port=str(free_port()))

    def known_hosts_line(self, name: str, key_path: Path | None = None) -> str:
        """A known_hosts line for server `name`, with its key or the public key of `key_path`."""
        server = self.servers[name]
        public = Path(str(key_path or server.host_key) + ".pub").read_text().split()
        return f"[127.0.0.1]:{server.port} {public[0]} {public[1]}\n"

    def new_key(self, filename: str) -> Path:
        """A fresh ed25519 key pair in the fleet's directory (private key path returned)."""
        path = self.workdir / filename
        if not path.exists():
            _keygen(path)
        return path

    def stop(self) -> None:
        for server in self.servers.values():
            if server.process.poll() is None:
                server.process.terminate()
        for server in self.servers.values():
            try:
                server.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_fleet(workdir: Path, names: Sequence[str] = HOST_NAMES) -> SshdFleet:
    """Start one sshd per name under `workdir` (a fresh, private directory)."""
    if not os.path.exists(SSHD):
        raise SshdError(f"{SSHD} is missing: install Debian's openssh-server (apt-get install -y openssh-server)")
    if os.geteuid() != 0:
        raise SshdError("the sshd test fixtures must run as root (they create the test user)")
    workdir.mkdir(parents=True, exist_ok=True)
    # sshd reads AuthorizedKeysFile as the test user: it must be able to reach it.
    workdir.chmod(0o755)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    _ensure_user(TEST_USER)

    key_path = workdir / "client_key"
    other_key = workdir / "other_key"
    _keygen(key_path)
    _keygen(other_key)
    authorized = workdir / "authorized_keys"
    authorized.write_text(Path(str(key_path) + ".pub").read_text())
    authorized.chmod(0o644)

    servers: dict[str, SshdServer] = {}
    fleet = SshdFleet(workdir, TEST_USER, key_path, other_key, workdir / "known_hosts", servers)
    try:
        for name in names:
            servers[name] = _start_server(workdir, name, authorized)
        fleet.known_hosts.write_text("".join(fleet.known_hosts_line(name) for name in sorted(servers)))
    except BaseException:
        fleet.stop()
        raise
    return fleet


def start_extra_server(fleet: SshdFleet, name: str, *, max_sessions: int = 1000, users: Sequence[str] = (TEST_USER,)) -> SshdServer:
    """Another server for the fleet's client key (a stock MaxSessions, other users); the caller stops it."""
    server = _start_server(fleet.workdir, name, fleet.workdir / "authorized_keys", max_sessions=max_sessions, users=users)
    with open(fleet.known_hosts, "a") as known:
        known.write(f"[127.0.0.1]:{server.port} {_public_key(server.host_key)}\n")
    return server


def ensure_chatty_user(user: str = "essh-chatty") -> str:
    """A second test user whose .bashrc prints `Welcome ` (no newline) to stderr on every login."""
    return ensure_shell_user(user, "/bin/bash", "printf 'Welcome ' >&2\n")


def ensure_shell_user(user: str, shell: str, bashrc: str) -> str:
    """A test user whose login shell is `shell` and whose .bashrc holds `bashrc` (the other start-up files empty)."""
    _ensure_user(user)
    subprocess.run(["usermod", "-s", shell, user], check=True, capture_output=True)
    entry = pwd.getpwnam(user)
    path = Path(entry.pw_dir) / ".bashrc"
    path.write_text(bashrc)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    return user


def _public_key(host_key: Path) -> str:
    kind, key = Path(str(host_key) + ".pub").read_text().split()[:2]
    return f"{kind} {key}"


def _start_server(
    workdir: Path, name: str, authorized: Path, *, max_sessions: int = 1000, users: Sequence[str] = (TEST_USER,)
) -> SshdServer:
    host_key = workdir / f"host_key_{name}"
    _keygen(host_key)
    log_path = workdir / f"sshd_{name}.log"
    for _ in range(5):  # another session may take the probed port before sshd binds it
        port = free_port()
        config = workdir / f"sshd_config_{name}"
        config.write_text(_sshd_config(port, host_key, authorized, max_sessions, users))
        with open(log_path, "ab") as log:
            process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
        if _wait_listening(port, process):
            return SshdServer(name, port, host_key, log_path, process)
        process.kill()
        process.wait()
    raise SshdError(f"sshd for test host {name} did not start; see {log_path}")


def _sshd_config(port: int, host_key: Path, authorized: Path, max_sessions: int = 1000, users: Sequence[str] = (TEST_USER,)) -> str:
    return f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile none
AuthorizedKeysFile {authorized}
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers {" ".join(users)}
MaxStartups 1000
MaxSessions {max_sessions}
MaxAuthTries 20
LogLevel VERBOSE
PrintMotd no
Subsystem sftp internal-sftp
"""


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                return sock.recv(4).startswith(b"SSH-")
        except OSError:
            time.sleep(0.05)
    return False


def _keygen(path: Path) -> None:
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def _ensure_user(user: str) -> None:
    """The test user: unlocked for key logins, empty start-up files, NOPASSWD sudo when sudo exists."""
    try:
        pwd.getpwnam(user)
    except KeyError:
        done = subprocess.run(["useradd", "-m", "-s", "/bin/bash", user], capture_output=True, text=True)
        if done.returncode not in (0, 9):  # 9: created meanwhile by another session
            raise SshdError(f"useradd {user} failed: {done.stderr.strip()}") from None
    # useradd leaves the account locked ('!'), which sshd refuses even for keys without PAM.
    subprocess.run(["usermod", "-p", "*", user], check=True, capture_output=True)
    entry = pwd.getpwnam(user)
    home = Path(entry.pw_dir)
    for startup in (".bashrc", ".profile", ".bash_profile", ".bash_logout"):
        path = home / startup
        if not path.exists() or path.stat().st_size:
            path.write_text("")
            os.chown(path, entry.pw_uid, entry.pw_gid)
    if shutil.which("sudo") and os.path.isdir("/etc/sudoers.d"):
        sudoers = Path("/etc/sudoers.d") / user
        rule = f"{user} ALL=(ALL) NOPASSWD: ALL\n"
        if not sudoers.exists() or sudoers.read_text() != rule:
            # Atomically: another session's sudo must never read half a file.
            staged = sudoers.parent / f".{user}.{os.getpid()}"
            staged.write_text(rule)
            staged.chmod(0o440)
            os.replace(staged, sudoers)
