"""The benchmarks' SSH server: one loopback sshd standing for many host names.

Reuses the test fixture (`tests/sshd.py`: a real OpenSSH sshd, a dedicated
test user with empty shell start-up files, MaxStartups/MaxSessions raised) with
a single server, then names N hosts that all reach it. `server_cpu()` reads the
CPU the server has used: every process sshd started, the users' shells included,
from a cgroup v1 `cpuacct` group of its own when the machine has one; otherwise
from /proc, which counts the listener and the per-connection processes it
reaped but misses the per-channel shells. `logins()` counts the connections it
authenticated, so a run can show what the server paid and how many connections
the client opened.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CPUACCT = Path("/sys/fs/cgroup/cpuacct")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _fixture():
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from tests import sshd

    return sshd


@dataclass(frozen=True)
class Target:
    """Where every benchmark host connects: one sshd on loopback, and the client's key."""

    address: str
    port: int
    user: str
    key: str
    known_hosts: str
    ciphers: str = ""  # ssh_config Ciphers for both clients; empty: asyncssh's default order

    def ssh_options(self) -> tuple[tuple[str, str], ...]:
        """The ssh_config options a plan's host carries to reach this server, sorted by keyword."""
        return tuple(
            sorted(
                {
                    "HostName": self.address,
                    "Port": str(self.port),
                    "User": self.user,
                    "IdentityFile": self.key,
                    "IdentitiesOnly": "yes",
                    "UserKnownHostsFile": self.known_hosts,
                    **({"Ciphers": self.ciphers} if self.ciphers else {}),
                }.items()
            )
        )

    def floor_args(self) -> list[str]:
        """The same connection settings as `floor_asyncssh.py` arguments."""
        return [
            "--address", self.address,
            "--port", str(self.port),
            "--user", self.user,
            "--key", self.key,
            "--known-hosts", self.known_hosts,
            *(["--ciphers", self.ciphers] if self.ciphers else []),
        ]  # fmt: skip


class Server:
    """A running benchmark sshd; `with Server(workdir) as server:` stops it on exit."""

    def __init__(self, workdir: Path, ciphers: str = "") -> None:
        self._fleet = _fixture().start_fleet(workdir, names=("bench",))
        self._server = self._fleet.servers["bench"]
        self.target = Target(
            address="127.0.0.1",
            port=self._server.port,
            user=self._fleet.user,
            key=str(self._fleet.key_path),
            known_hosts=str(self._fleet.known_hosts),
            ciphers=ciphers,
        )
        self._cgroup = _own_cpuacct_group(self.pid)
        self.cpu_source = "cgroup cpuacct" if self._cgroup else "/proc (listener and reaped connections only)"

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._fleet.stop()
        deadline = time.monotonic() + 5
        while self._cgroup is not None and time.monotonic() < deadline:
            try:
                self._cgroup.rmdir()  # refused while a last session process is still exiting
                self._cgroup = None
            except OSError:
                time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self._server.process.pid

    def logins(self) -> int:
        """Connections authenticated so far."""
        return self._server.accepted_logins()

    def server_cpu(self) -> float:
        """CPU seconds the server has used so far (see the module's docstring for what is counted)."""
        if self._cgroup is not None:
            return int((self._cgroup / "cpuacct.usage").read_text()) / 1e9
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        # After the command name: state, ppid, ... utime, stime, cutime, cstime are fields 14-17 of stat.
        utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
        return (utime + stime + cutime + cstime) / _CLOCK_TICKS

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every per-connection sshd has exited and been reaped (so its CPU is counted)."""
        deadline = time.monotonic() + timeout
        while self._children() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _children(self) -> int:
        count = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    ppid = int(f.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            count += ppid == self.pid
        return count


def _own_cpuacct_group(pid: int) -> Path | None:
    """Put process `pid` (and so everything it starts) in a new cpuacct group; None where that is impossible."""
    group = CPUACCT / f"essh-bench-sshd-{pid}"
    try:
        group.mkdir()
        (group / "cgroup.procs").write_text(str(pid))
        return group
    except OSError:
        try:
            group.rmdir()
        except OSError:
            pass
        return None
