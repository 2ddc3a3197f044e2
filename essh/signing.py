"""Signing a plan file with an SSH key: `--sign-key KEY`, where KEY is

- a private key file (ed25519, ecdsa, rsa; unencrypted, as CI secret stores hold
  them), or
- a public key file (`.pub`) or a fingerprint (`SHA256:...`) naming a key held by
  ssh-agent (SSH_AUTH_SOCK): people sign with the keys they already use.

An encrypted private key file is refused with a hint to load it into the agent:
essh never asks for a passphrase.
"""

from __future__ import annotations

import asyncio
import os

from essh import schema

from . import sshsig
from .trust import NAMESPACE


class SigningError(Exception):
    """The key cannot sign (one line)."""


def sign_plan(data: bytes, key_spec: str) -> bytes:
    """`data` (a plan file) with one more signature, by `key_spec`."""
    message, blobs = schema.split_signed(data)
    blob = signature_blob(message, key_spec)
    return schema.with_signatures(message, [*blobs, blob])


def attach_signature(data: bytes, blob: bytes) -> bytes:
    message, blobs = schema.split_signed(data)
    return schema.with_signatures(message, [*blobs, blob])


def attach_armored(data: bytes, path: str) -> bytes:
    """`data` with the armored signature in file `path` (ssh-keygen -Y sign's), once it is checked
    to be a good signature of this plan in namespace essh-plan."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            blob = sshsig.dearmor(f.read())
        sig = sshsig.parse(blob)
    except OSError as exc:
        raise SigningError(f"cannot read signature {path}: {exc.strerror or exc}") from None
    except sshsig.SignatureFormatError as exc:
        raise SigningError(f"{path}: {exc}") from None
    message, _ = schema.split_signed(data)
    if sig.namespace != NAMESPACE or not sshsig.verifies(sig, message):
        raise SigningError(
            f"{path}: signature does not verify: not a signature of this plan in namespace {NAMESPACE!r} "
            f"(make it with: essh sign PLAN --signed-data - | ssh-keygen -Y sign -f KEY -n {NAMESPACE})"
        )
    return attach_signature(data, blob)


def signature_blob(message: bytes, key_spec: str) -> bytes:
    import asyncssh

    if key_spec.startswith("SHA256:"):
        return _agent_sign(message, lambda key: sshsig.fingerprint(key.public_data) == key_spec, key_spec)
    try:
        with open(key_spec, "rb") as f:
            text = f.read()
    except OSError as exc:
        raise SigningError(f"cannot read signing key {key_spec}: {exc.strerror or exc}") from None
    if b"PRIVATE KEY" not in text:  # a public key: the agent holds its private half
        try:
            blob = asyncssh.import_public_key(text).public_data
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise SigningError(f"signing key {key_spec} is not an SSH key: {exc}") from None
        return _agent_sign(message, lambda key: key.public_data == blob, key_spec)
    try:
        key = asyncssh.import_private_key(text)
    except (asyncssh.KeyEncryptionError, asyncssh.KeyImportError) as exc:
        if isinstance(exc, asyncssh.KeyImportError) and "assphrase" not in str(exc):
            raise SigningError(f"signing key {key_spec} is not an SSH private key: {exc}") from None
        raise SigningError(
            f"signing key {key_spec} is encrypted: add it to ssh-agent (ssh-add) and pass its .pub file as --sign-key"
        ) from None
    except ValueError as exc:
        raise SigningError(f"signing key {key_spec} is not an SSH private key: {exc}") from None
    return sshsig.sign_with_key(key, message, NAMESPACE)


def _agent_sign(message: bytes, wanted, spec: str) -> bytes:
    import asyncssh

    if not os.environ.get("SSH_AUTH_SOCK"):
        raise SigningError(f"--sign-key {spec} names a key held by ssh-agent, but SSH_AUTH_SOCK is not set")

    async def sign() -> bytes:
        try:
            agent = await asyncssh.connect_agent()
        except (OSError, asyncssh.Error) as exc:
            raise SigningError(f"cannot reach ssh-agent at SSH_AUTH_SOCK: {exc}") from None
        if agent is None:
            raise SigningError("cannot reach ssh-agent at SSH_AUTH_SOCK")
        try:
            for key in await agent.get_keys():
                if wanted(key):
                    try:
                        return await sshsig.sign_with_agent_key(key, message, NAMESPACE)
                    except ValueError as exc:
                        raise SigningError(f"ssh-agent refused to sign with {spec}: {exc}") from None
            raise SigningError(f"ssh-agent holds no key matching {spec}")
        finally:
            agent.close()
            await agent.wait_closed()

    return asyncio.run(sign())
