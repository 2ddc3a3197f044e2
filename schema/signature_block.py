"""The signature block of a signed plan file: where signatures live, and which bytes they sign.

A signed plan file is an unsigned one with header flag bit 0 (`FLAG_SIGNED`) set
and a block after the payload:

    offset  size  field
    0       8     magic b"ESSHSIGS"
    8       4     count of signatures (>= 1), big-endian
    12      ...   count times: a 4-byte big-endian length, then one SSHSIG blob
                  (OpenSSH's PROTOCOL.sshsig, binary, not armored)

The *signed bytes* are the plan file as it was before any signature: the header
with its flags cleared, then the payload (`signed_bytes`). They hold the
payload's length and sha256, so a signature covers the header and the payload;
adding a signature changes neither, so the payload digest (a plan's identity in
reports) stays what the reviewer saw. `ssh-keygen -Y verify -n essh-plan`
accepts a signature given those bytes, and a signature `ssh-keygen -Y sign`
made over them can be attached (`essh sign --signature`).

This module only cuts and joins bytes; what a signature means is essh.trust's.
"""

from __future__ import annotations

import struct

from .errors import PlanFileDamaged

FLAG_SIGNED = 0x0001
BLOCK_MAGIC = b"ESSHSIGS"
_FLAGS_AT = 10  # offset of the 2-byte flags in the header
_U32 = struct.Struct(">I")
MAX_SIGNATURES = 64  # more is a damaged or hostile file, not a review process


def signed_bytes(header: bytes, payload: bytes) -> bytes:
    """The bytes every signature of the plan signs: header with flags cleared, then payload."""
    return header[:_FLAGS_AT] + b"\0\0" + header[_FLAGS_AT + 2 :] + payload


def parse_block(block: bytes) -> tuple[bytes, ...]:
    """The SSHSIG blobs in a signature block; PlanFileDamaged when it is not one."""
    if not block.startswith(BLOCK_MAGIC) or len(block) < len(BLOCK_MAGIC) + 4:
        raise PlanFileDamaged("plan file's signature block is damaged (no ESSHSIGS header after the payload)")
    (count,) = _U32.unpack_from(block, len(BLOCK_MAGIC))
    if not 1 <= count <= MAX_SIGNATURES:
        raise PlanFileDamaged(f"plan file's signature block is damaged ({count} signatures; 1 to {MAX_SIGNATURES} allowed)")
    at, blobs = len(BLOCK_MAGIC) + 4, []
    for i in range(count):
        if at + 4 > len(block):
            raise PlanFileDamaged(f"plan file's signature block is truncated at signature {i + 1}")
        (length,) = _U32.unpack_from(block, at)
        at += 4
        if at + length > len(block):
            raise PlanFileDamaged(f"plan file's signature block is truncated at signature {i + 1}")
        blobs.append(block[at : at + length])
        at += length
    if at != len(block):
        raise PlanFileDamaged(f"plan file has {len(block) - at} unexpected bytes after its signature block")
    return tuple(blobs)


def build_block(blobs: tuple[bytes, ...] | list[bytes]) -> bytes:
    """A signature block holding `blobs`, in order."""
    if not 1 <= len(blobs) <= MAX_SIGNATURES:
        raise ValueError(f"a plan holds 1 to {MAX_SIGNATURES} signatures, not {len(blobs)}")
    return BLOCK_MAGIC + _U32.pack(len(blobs)) + b"".join(_U32.pack(len(b)) + b for b in blobs)


def with_signatures(unsigned: bytes, blobs: tuple[bytes, ...] | list[bytes]) -> bytes:
    """The signed plan file: `unsigned` (the signed bytes) with flag bit 0 set and the block appended."""
    flags = int.from_bytes(unsigned[_FLAGS_AT : _FLAGS_AT + 2], "big") | FLAG_SIGNED
    return unsigned[:_FLAGS_AT] + flags.to_bytes(2, "big") + unsigned[_FLAGS_AT + 2 :] + build_block(blobs)
