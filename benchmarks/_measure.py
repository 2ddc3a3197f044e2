"""Timing a whole child process: wall time and the CPU it used, Python start-up included.

`measure(argv)` runs `argv` with stdout to /dev/null and stderr kept (shown when
the command fails), with byte-code caching on (an installed essh has its .pyc
files; PYTHONDONTWRITEBYTECODE in the caller's environment would make every run
compile essh from source), reaps it with `os.wait4` so its own rusage is exact (user +
sys of the child and of anything it reaped), and also reports the CPU the
benchmark's sshd spent meanwhile.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass

from _fleet import Server


class RunFailed(RuntimeError):
    """A benchmarked command exited non-zero: the benchmark's figures would mean nothing."""


@dataclass(frozen=True)
class Sample:
    """One run of one client."""

    wall: float  # seconds, from spawn to reaped
    cpu: float  # the client's user+sys seconds
    server_cpu: float  # sshd's user+sys seconds (listener and connection processes)
    logins: int  # connections the server authenticated
    peak_rss_kib: int = 0  # the largest resident set of the client or of any process it reaped (ru_maxrss)


def measure(argv: list[str], server: Server, label: str, env: dict[str, str] | None = None) -> Sample:
    """Run `argv` once (`env`: variables to set for it); raise `RunFailed` with its stderr's last lines when it fails."""
    server.settle()
    cpu_before, logins_before = server.server_cpu(), server.logins()
    with tempfile.TemporaryFile() as err, open(os.devnull, "wb") as devnull:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=devnull, stderr=err, env=_child_env(env))
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-5:]
            raise RunFailed(f"{label} exited {process.returncode}: " + " | ".join(tail))
    server.settle()
    return Sample(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        server_cpu=server.server_cpu() - cpu_before,
        logins=server.logins() - logins_before,
        peak_rss_kib=usage.ru_maxrss,
    )


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra or {})
    return env
