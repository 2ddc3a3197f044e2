"""`essh apply --once`: each host remembers the plans applied to it, and a plan is not applied twice.

A guard, not a lock. The mark is a file under the connecting user's home,
`${XDG_STATE_HOME:-~/.local/state}/essh/applied/<plan digest>/<host key>` (the
host key: the first 32 hex digits of the sha256 of the plan's name for the
host, so two names for one machine are two hosts, as in the plan), looked for before a host's first step and written once every step of the plan
on that host has succeeded. Two applies started together may both run; a host
where the run failed, was interrupted or ran only part of the plan is not
marked; deleting the file (or `--once` left out) applies the plan again.
Steps without a host (local tasks) are not guarded: they run every time.

The programs run as the login user (no sudo), on the step's own connection,
with the program on standard input like any step's.
"""

from __future__ import annotations

import hashlib
import re

import trio

from essh.schema import Task

from .errors import StepFailure
from .file_steps import run_program
from .transport import Connection

SKIPPED = "not run: this plan was already applied to this host (--once)"
_DIGEST = re.compile(r"[0-9a-f]{64}\Z")
_PLACE = '"${XDG_STATE_HOME:-$HOME/.local/state}/essh/applied"'
_HELPER = Task(name="essh --once", backend="remote", run_as=None)


def host_key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def check_program(digest: str, host: str) -> str:
    """Prints `applied` when the mark of `digest` on `host` is there."""
    return f'if [ -e {_PLACE}/{digest}/{host_key(host)} ]; then echo applied; fi\n'


def mark_program(digest: str, host: str) -> str:
    """Writes the mark of `digest` on `host` (its folders private to the user)."""
    return (
        f"d={_PLACE} && mkdir -p \"$d/{digest}\" && chmod 700 \"$d\" \"$d/{digest}\" "
        f"&& date -u +%Y-%m-%dT%H:%M:%SZ > \"$d/{digest}/{host_key(host)}\"\n"
    )


class OnceGuard:
    """The --once state of one apply: which hosts already had the plan, which may be marked."""

    def __init__(self, digest: str, host_names: list[str], markable: set[int]) -> None:
        if not _DIGEST.match(digest):
            raise ValueError(f"--once needs the plan's sha256 digest, not {digest!r}")
        self.digest = digest
        self._names = host_names
        self._markable = markable  # hosts whose every step of the plan is in this run
        self._known: dict[int, bool] = {}
        self._looking: dict[int, trio.Event] = {}

    async def applied(self, host: int, conn: Connection) -> bool:
        """Whether the plan was applied to `host` before (looked up once per host; False when it
        cannot be known: the step then runs, and meets the trouble itself)."""
        while host not in self._known:
            if host in self._looking:
                await self._looking[host].wait()
                continue
            self._looking[host] = event = trio.Event()
            try:
                try:
                    code, out, _ = await run_program(conn, _HELPER, check_program(self.digest, self._names[host]))
                except StepFailure:  # unreachable too
                    code, out = -1, ""
                self._known[host] = code == 0 and out.strip() == "applied"
            finally:
                del self._looking[host]
                event.set()
        return self._known[host]

    def may_mark(self, host: int) -> bool:
        return host in self._markable and not self._known.get(host, False)

    async def mark(self, host: int, conn: Connection) -> str | None:
        """Write the mark on `host` (over `conn`); why it could not be written, or None."""
        try:
            code, _, _ = await run_program(conn, _HELPER, mark_program(self.digest, self._names[host]))
        except StepFailure as exc:  # unreachable too
            return str(exc)
        return None if code == 0 else f"the mark's program exited with status {code}"
