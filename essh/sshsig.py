"""OpenSSH's signature format (PROTOCOL.sshsig), as `ssh-keygen -Y sign` writes it.

    blob   = "SSHSIG" uint32(1) string(public key) string(namespace)
             string(reserved "") string(hash algorithm) string(signature)
    signed = "SSHSIG" string(namespace) string(reserved "")
             string(hash algorithm) string(H(message))

The key signs `signed`, never the message itself, so a signature made for one
namespace (git commits, files) can never pass for one of another (essh plans).
Armored form: base64 of the blob between BEGIN/END SSH SIGNATURE lines.

The cryptography is asyncssh's key classes: `sign` takes a private key
(asyncssh's SSHKey) or an agent's key (SSHAgentKeyPair, async), `verify` the
public key carried in the blob. RSA signs with rsa-sha2-512, as ssh-keygen does.
"""

from __future__ import annotations

import base64
import hashlib
import struct

import msgspec

MAGIC = b"SSHSIG"
VERSION = 1
HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
_BEGIN, _END = "-----BEGIN SSH SIGNATURE-----", "-----END SSH SIGNATURE-----"


class SignatureFormatError(ValueError):
    """Bytes that are not an SSHSIG signature (one line saying why)."""


class Signature(msgspec.Struct, frozen=True):
    """One parsed SSHSIG blob."""

    public_key: bytes  # the SSH wire form of the signer's public key
    namespace: str
    hash_algorithm: str
    signature: bytes  # string(algorithm) string(raw signature)
    blob: bytes  # the whole blob, as stored


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _read_string(data: bytes, at: int) -> tuple[bytes, int]:
    if at + 4 > len(data):
        raise SignatureFormatError("signature is truncated")
    (n,) = struct.unpack_from(">I", data, at)
    if at + 4 + n > len(data):
        raise SignatureFormatError("signature is truncated")
    return data[at + 4 : at + 4 + n], at + 4 + n


def to_be_signed(message: bytes, namespace: str, hash_algorithm: str = "sha512") -> bytes:
    """What the key signs for `message` in `namespace`."""
    digest = HASHES[hash_algorithm](message).digest()
    return MAGIC + _string(namespace.encode()) + _string(b"") + _string(hash_algorithm.encode()) + _string(digest)


def build(public_key: bytes, namespace: str, signature: bytes, hash_algorithm: str = "sha512") -> bytes:
    """An SSHSIG blob."""
    return (
        MAGIC + struct.pack(">I", VERSION) + _string(public_key) + _string(namespace.encode()) + _string(b"")
        + _string(hash_algorithm.encode()) + _string(signature)
    )


def parse(blob: bytes) -> Signature:
    """The fields of an SSHSIG blob; SignatureFormatError when it is not one."""
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 4:
        raise SignatureFormatError("not an SSH signature (no SSHSIG preamble)")
    (version,) = struct.unpack_from(">I", blob, len(MAGIC))
    if version != VERSION:
        raise SignatureFormatError(f"SSH signature version {version} is not supported")
    at = len(MAGIC) + 4
    fields = []
    for _ in range(5):
        value, at = _read_string(blob, at)
        fields.append(value)
    if at != len(blob):
        raise SignatureFormatError("SSH signature has unexpected bytes at its end")
    public_key, namespace, _reserved, hash_algorithm, signature = fields
    try:
        return Signature(public_key, namespace.decode(), hash_algorithm.decode(), signature, blob)
    except UnicodeDecodeError:
        raise SignatureFormatError("SSH signature's namespace or hash algorithm is not text") from None


def armor(blob: bytes) -> str:
    """The blob as `ssh-keygen -Y sign` prints it."""
    text = base64.b64encode(blob).decode()
    return "\n".join([_BEGIN, *(text[i : i + 70] for i in range(0, len(text), 70)), _END]) + "\n"


def dearmor(text: str) -> bytes:
    """The blob in an armored signature; SignatureFormatError when there is none."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != _BEGIN or lines[-1] != _END:
        raise SignatureFormatError("not an armored SSH signature (-----BEGIN SSH SIGNATURE-----)")
    try:
        return base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError:
        raise SignatureFormatError("armored SSH signature is not valid base64") from None


def signature_algorithm(key) -> bytes:
    """The algorithm to sign with: rsa-sha2-512 for RSA (as ssh-keygen), else the key's own."""
    return b"rsa-sha2-512" if key.algorithm in (b"ssh-rsa", b"rsa-sha2-256", b"rsa-sha2-512") else key.algorithm


def sign_with_key(key, message: bytes, namespace: str) -> bytes:
    """An SSHSIG blob for `message`, signed by a private key (asyncssh SSHKey)."""
    sig = key.sign(to_be_signed(message, namespace), signature_algorithm(key))
    return build(key.public_data, namespace, sig)


async def sign_with_agent_key(keypair, message: bytes, namespace: str) -> bytes:
    """An SSHSIG blob for `message`, signed by an ssh-agent's key (asyncssh SSHAgentKeyPair)."""
    if keypair.algorithm == b"ssh-rsa":
        keypair.set_sig_algorithm(b"rsa-sha2-512")
    sig = await keypair.sign_async(to_be_signed(message, namespace))
    return build(keypair.public_data, namespace, sig)


def verifies(sig: Signature, message: bytes) -> bool:
    """True when `sig` is a good signature of `message` by the key it carries (any namespace)."""
    from asyncssh import KeyImportError
    from asyncssh.public_key import decode_ssh_public_key

    if sig.hash_algorithm not in HASHES:
        return False
    try:
        key = decode_ssh_public_key(sig.public_key)
    except (KeyImportError, ValueError):
        return False
    return bool(key.verify(to_be_signed(message, sig.namespace, sig.hash_algorithm), sig.signature))


def fingerprint(public_key: bytes) -> str:
    """`SHA256:...` as ssh-keygen -l prints it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(public_key).digest()).decode().rstrip("=")


def key_type(public_key: bytes) -> str:
    """The key's type name from its wire form (ssh-ed25519, ssh-rsa, ...)."""
    try:
        name, _ = _read_string(public_key, 0)
        return name.decode("ascii")
    except (SignatureFormatError, UnicodeDecodeError):
        return "unknown"
