"""`essh plan --refresh`: look at every upload's destination, read-only, and record what was seen.

For each host with uploads, over the same SSH transport `apply` uses (one
connection per host, `max_connections` at once), each destination is looked at
with the task's rights (`file_steps.observe`: a `stat` and a `sha256sum`,
nothing written); for a file whose contents differ from the plan's, small
enough and text, its current contents are read (`head -c`) for the review's
diff. Nothing is ever written on a host here.

`refresh_plan` returns the plan with each step's `observed` filled (None for an
operation not observed: a download, or a host that could not be reached) and
`meta.refreshed_at` set, and the `Seen` records the review is made from.
"""

from __future__ import annotations

import secrets
import time
from shlex import quote

import msgspec
import trio

from essh.schema import Observed, Plan, Upload
from essh.schema.files import as_recorded

from .bridge import run
from .errors import HostUnreachable, StepFailure
from .file_steps import observe, run_program
from .ssh_pool import SshTransport

DIFF_LIMIT = 256 * 1024  # current contents are read for a diff up to this size


class Seen(msgspec.Struct):
    """One upload's destination as observed (or why it could not be)."""

    step: int
    op: int
    observed: Observed | None
    old_text: str | None = None  # the current contents, for a diff (text files under DIFF_LIMIT)
    error: str | None = None


class Refresh(msgspec.Struct):
    plan: Plan
    seen: list[Seen] = msgspec.field(default_factory=list)
    unreachable: dict[str, str] = msgspec.field(default_factory=dict)  # host name -> why


def refresh_plan(plan: Plan, *, max_connections: int = 100, clock=time.time) -> Refresh:
    """The plan with what is at its uploads' destinations recorded (see the module's docstring)."""
    by_host: dict[int, list[int]] = {}
    for i, s in enumerate(plan.steps):
        if s.host is not None and any(isinstance(plan.operations[o], Upload) for o in s.ops):
            by_host.setdefault(s.host, []).append(i)
    seen: list[Seen] = []
    unreachable: dict[str, str] = {}

    async def main() -> None:
        ssh = SshTransport(plan.hosts, max_connections=max_connections, nonce=secrets.token_hex(8))
        limit = trio.CapacityLimiter(max_connections)
        try:
            async with trio.open_nursery() as nursery:
                for host, steps in sorted(by_host.items()):
                    nursery.start_soon(_host, ssh, limit, host, steps)
        finally:
            with trio.CancelScope(shield=True):
                await ssh.aclose()

    async def _host(ssh: SshTransport, limit: trio.CapacityLimiter, host: int, steps: list[int]) -> None:
        async with limit:
            try:
                async with ssh.connection(host) as conn:
                    for i in steps:
                        s = plan.steps[i]
                        task = plan.tasks[s.task]
                        for op_index in s.ops:
                            op = plan.operations[op_index]
                            if isinstance(op, Upload):
                                seen.append(await _look(conn, task, i, op_index, op, plan))
                await ssh.release(host)
            except HostUnreachable as exc:
                unreachable[plan.hosts[host].name] = exc.reason

    run(main)
    got = {(x.step, x.op): x.observed for x in seen}
    steps = []
    for i, s in enumerate(plan.steps):
        if s.ops:
            s = msgspec.structs.replace(s, observed=tuple(got.get((i, o)) for o in s.ops))
        steps.append(s)
    refreshed = msgspec.structs.replace(
        plan, steps=tuple(steps), meta=msgspec.structs.replace(plan.meta, refreshed_at=int(clock()))
    )
    seen.sort(key=lambda x: (x.step, x.op))
    return Refresh(refreshed, seen, dict(sorted(unreachable.items())))


async def _look(conn, task, step: int, index: int, op: Upload, plan: Plan) -> Seen:
    try:
        now = await observe(conn, task, op.dest)
    except HostUnreachable:
        raise
    except StepFailure as exc:
        return Seen(step, index, None, error=exc.reason)
    old = None
    blob = plan.files[op.blob]
    if op.secrets:  # the file holds (an older value of) a secret: its text is never read
        return Seen(step, index, as_recorded(now, op))
    if now.exists and now.sha256 != blob.sha256 and now.size <= DIFF_LIMIT and blob.source is None:
        code, out, _ = await run_program(conn, task, f"head -c {DIFF_LIMIT} -- {quote(op.dest)}")
        if code == 0 and "\0" not in out:
            old = out
    return Seen(step, index, now, old)
