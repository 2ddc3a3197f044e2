"""Whether a plan file's signatures are good enough to apply it: essh's trust policy.

Every signature in a plan must verify over the plan's signed bytes
(schema.split_signed) in namespace `essh-plan`. With an allowed_signers file,
each signer must also be listed there, for that namespace, within its validity
period (checked at apply time); `require` counts distinct allowed keys, and
each of `principals` must be named by the entry of a valid signer.

Each refusal is a `TrustError` whose message is one line starting with what is
wrong: "not signed", "signature does not verify", "signer not allowed",
"principal not allowed for the namespace", "signature expired" or "not yet
valid"; the CLI exits 2 before any connection is made.
"""

from __future__ import annotations

import time

import msgspec

from essh import schema

from . import sshsig
from .allowed_signers import AllowedSigner, matches_pattern_list, read_allowed_signers

NAMESPACE = "essh-plan"


class TrustError(Exception):
    """The plan's signatures do not meet the policy (one line)."""


class Signer(msgspec.Struct, frozen=True):
    """A signature that verified: the key, and who the allowed_signers file says it is."""

    fingerprint: str
    key_type: str
    principals: tuple[str, ...] = ()  # empty when no allowed_signers file was given

    def __str__(self) -> str:
        who = ",".join(self.principals) if self.principals else "(not checked against allowed signers)"
        return f"{who} {self.key_type} {self.fingerprint}"


class Policy(msgspec.Struct, frozen=True):
    allowed_signers: str | None = None
    require: int = 0  # distinct allowed signers needed
    principals: tuple[str, ...] = ()  # each must be among the signers

    @property
    def demands_signature(self) -> bool:
        return self.require > 0 or bool(self.principals)


def signatures(data: bytes) -> list[sshsig.Signature]:
    """The parsed signatures of a plan file that passed decode_plan; TrustError for a damaged one."""
    _, blobs = schema.split_signed(data)
    parsed = []
    for n, blob in enumerate(blobs, start=1):
        try:
            parsed.append(sshsig.parse(blob))
        except sshsig.SignatureFormatError as exc:
            raise TrustError(f"signature does not verify: signature {n} is damaged ({exc})") from None
    return parsed


def check(data: bytes, policy: Policy, now: float | None = None) -> list[Signer]:
    """The plan's signers, when they meet `policy`; else TrustError."""
    if policy.demands_signature and policy.allowed_signers is None:
        raise TrustError("--require-signature needs --allowed-signers FILE (or ESSH_ALLOWED_SIGNERS) to know whose signature counts")
    message, _ = schema.split_signed(data)
    sigs = signatures(data)
    if not sigs and policy.demands_signature:
        raise TrustError("not signed: the plan has no signature and a signature is required (--require-signature)")
    allowed = read_allowed_signers(policy.allowed_signers) if policy.allowed_signers is not None else None
    now = time.time() if now is None else now
    signers: list[Signer] = []
    for n, sig in enumerate(sigs, start=1):
        fp, kind = sshsig.fingerprint(sig.public_key), sshsig.key_type(sig.public_key)
        if sig.namespace != NAMESPACE:
            raise TrustError(f"signature does not verify: signature {n} ({fp}) is for namespace {sig.namespace!r}, not {NAMESPACE!r}")
        if not sshsig.verifies(sig, message):
            raise TrustError(
                f"signature does not verify: signature {n} ({kind} {fp}) does not match the plan "
                "(the plan or the signature was changed after signing)"
            )
        if allowed is None:
            signers.append(Signer(fp, kind))
            continue
        entry = _allowed_entry(sig, allowed, policy.allowed_signers or "", fp, kind, now)
        signers.append(Signer(fp, kind, entry.principals))
    if allowed is not None:
        distinct = {s.fingerprint for s in signers}
        if len(distinct) < policy.require:
            raise TrustError(f"not signed enough: {policy.require} allowed signers required, the plan has {len(distinct)}")
        for principal in policy.principals:
            if not any(_names(s, principal) for s in signers):
                raise TrustError(f"signer not allowed: no signature by principal {principal!r} (--require-principal)")
    return signers


def describe(data: bytes, allowed_signers: str | None, now: float | None = None) -> list[dict[str, object]]:
    """Each signature of the plan file on its own, for `essh show --json`: key, namespace, whether it
    verifies, and (with an allowed_signers file) its principals or why it is not allowed."""
    message, blobs = schema.split_signed(data)
    allowed = read_allowed_signers(allowed_signers) if allowed_signers is not None else None
    now = time.time() if now is None else now
    records: list[dict[str, object]] = []
    for blob in blobs:
        try:
            sig = sshsig.parse(blob)
        except sshsig.SignatureFormatError as exc:
            records.append({"verifies": False, "problem": f"damaged signature ({exc})"})
            continue
        fp, kind = sshsig.fingerprint(sig.public_key), sshsig.key_type(sig.public_key)
        record: dict[str, object] = {"key_type": kind, "fingerprint": fp, "namespace": sig.namespace}
        record["verifies"] = sig.namespace == NAMESPACE and sshsig.verifies(sig, message)
        problem = None if record["verifies"] else "does not verify (the plan or the signature was changed, or another namespace)"
        if allowed is not None and problem is None:
            try:
                record["principals"] = list(_allowed_entry(sig, allowed, allowed_signers or "", fp, kind, now).principals)
            except TrustError as exc:
                problem = str(exc)
        record["problem"] = problem
        records.append(record)
    return records


def _names(signer: Signer, principal: str) -> bool:
    return matches_pattern_list(principal, signer.principals)


def _allowed_entry(
    sig: sshsig.Signature, allowed: list[AllowedSigner], path: str, fp: str, kind: str, now: float
) -> AllowedSigner:
    """The allowed_signers entry that lets this key sign essh plans now, else TrustError saying why not."""
    entries = [e for e in allowed if e.public_key == sig.public_key]
    if not entries:
        raise TrustError(f"signer not allowed: key {kind} {fp} is not in the allowed signers file {path}")
    in_namespace = [e for e in entries if e.allows_namespace(NAMESPACE)]
    if not in_namespace:
        who = ",".join(entries[0].principals)
        raise TrustError(
            f"principal not allowed for the namespace: {who} ({fp}) may not sign namespace {NAMESPACE!r} "
            f"({path}:{entries[0].line})"
        )
    for e in in_namespace:
        if (e.valid_after is None or now >= e.valid_after) and (e.valid_before is None or now < e.valid_before):
            return e
    e = in_namespace[0]
    who = ",".join(e.principals)
    if e.valid_before is not None and now >= e.valid_before:
        raise TrustError(f"signature expired: {who} ({fp}) was allowed until {_when(e.valid_before)} ({path}:{e.line})")
    raise TrustError(f"not yet valid: {who} ({fp}) is allowed from {_when(e.valid_after or 0)} ({path}:{e.line})")


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
