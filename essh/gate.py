"""What must hold before `essh apply` connects anywhere: the plan's signatures,
its digest, its age, its freshness against the configuration files it was made from.

`check` returns the lines to tell the operator (who made the plan, who signed
it, stale configuration files) or raises `GateError`, a one-line refusal the
CLI turns into exit 2. Nothing here opens a connection.
"""

from __future__ import annotations

import hashlib
import re
import time

import msgspec

from essh import schema

from . import trust
from .allowed_signers import AllowedSignersError

CLOCK_SKEW = 300  # seconds a plan may be dated ahead of this machine's clock under --max-age


class GateError(Exception):
    """The plan may not be applied (one line)."""


class Gate(msgspec.Struct, frozen=True):
    policy: trust.Policy = msgspec.field(default_factory=trust.Policy)
    expect_digest: str | None = None
    max_age: float | None = None  # seconds
    refuse_stale: bool = False


_DURATION = re.compile(r"(\d+)([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `24h`, `7d`, `1w`, `1h30m` as seconds; ValueError otherwise."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration (e.g. 90s, 15m, 24h, 7d, 1h30m)")
    return float(sum(int(n) * _UNIT[u] for n, u in parts))


def age_text(seconds: float) -> str:
    """`3d4h`, `2h5m`, `42s`: the two largest units."""
    seconds, out = max(0, int(seconds)), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (not out and size == 1):
            out.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(out) == 2:
            break
    return "".join(out)


def provenance(plan: schema.Plan, data: bytes, now: float | None = None) -> list[str]:
    """Digest, age and maker of a plan: shown by `essh show` and at the start of `essh apply`."""
    meta = plan.meta
    now = time.time() if now is None else now
    made = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(meta.created_at))
    by = f" by {meta.made_by}" if meta.made_by else ""
    request = " ".join(meta.requested) or "(default)"
    if meta.args:
        request += " -- " + " ".join(meta.args)
    return [
        f"Plan sha256 {schema.payload_digest(data)}",
        f"Made {made} ({age_text(now - meta.created_at)} ago){by} with essh {meta.essh_version}, for: {request}",
    ]


def signer_lines(data: bytes, allowed_signers: str | None) -> list[str]:
    """Who signed the plan (checked against `allowed_signers` when given), `Unsigned`, or why a signature is bad."""
    try:
        signers = trust.check(data, trust.Policy(allowed_signers))
    except (trust.TrustError, AllowedSignersError) as exc:
        return [f"Signatures: {exc}"]
    return [f"Signed by {s}" for s in signers] or ["Unsigned"]


def stale_files(plan: schema.Plan) -> list[str]:
    """The configuration files the plan recorded that are present here with other contents."""
    changed = []
    for cf in plan.meta.config_files:
        try:
            with open(cf.path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
        except OSError:
            continue  # not here (another checkout, another machine): nothing to compare
        if digest != cf.sha256:
            changed.append(cf.path)
    return changed


def check(plan: schema.Plan, data: bytes, gate: Gate, now: float | None = None) -> list[str]:
    """Lines for the operator; GateError when the plan may not be applied."""
    now = time.time() if now is None else now
    digest = schema.payload_digest(data)
    if gate.expect_digest is not None and gate.expect_digest.lower().removeprefix("sha256:") != digest:
        raise GateError(f"plan digest is {digest}, not the expected {gate.expect_digest} (--expect-digest)")
    try:
        signers = trust.check(data, gate.policy, now)
    except trust.TrustError as exc:
        raise GateError(str(exc)) from None
    except AllowedSignersError as exc:
        raise GateError(str(exc)) from None
    age = now - plan.meta.created_at
    if gate.max_age is not None and age > gate.max_age:
        raise GateError(f"plan is too old: made {age_text(age)} ago, --max-age allows {age_text(gate.max_age)}")
    if gate.max_age is not None and -age > CLOCK_SKEW:
        raise GateError(
            f"plan is dated {age_text(-age)} in the future, so its age is unknown (--max-age): "
            "check this machine's clock and the planner's (or SOURCE_DATE_EPOCH)"
        )
    lines = provenance(plan, data, now) + ([f"Signed by {s}" for s in signers] or ["Unsigned"])
    changed = stale_files(plan)
    if changed:
        what = f"configuration changed since the plan was made: {', '.join(changed)}"
        if gate.refuse_stale:
            raise GateError(f"plan is stale: {what} (--refuse-stale)")
        lines.append(f"warning: {what}; the plan runs as it was reviewed")
    return lines
