"""The signature block: flag bit 0, the bytes signatures sign, and a damaged block refused."""

from __future__ import annotations

import pytest
from plan_strategies import seal

from essh.schema import (
    HEADER_SIZE,
    PlanFileDamaged,
    decode_plan,
    encode_plan,
    payload_digest,
    split_signed,
    with_signatures,
)
from essh.schema.signature_block import build_block
from essh.schema.plan import Plan, PlanMeta

PLAN = Plan(meta=PlanMeta(essh_version="t", created_at=0, lua_version="5.4"))
UNSIGNED = encode_plan(PLAN)


def test_signing_sets_flag_bit_0_and_keeps_the_payload_and_its_digest():
    signed = with_signatures(UNSIGNED, [b"SSHSIG-one", b"two"])
    assert signed[10:12] == b"\0\1"
    assert payload_digest(signed) == payload_digest(UNSIGNED)
    assert decode_plan(signed) == PLAN
    assert split_signed(signed) == (UNSIGNED, (b"SSHSIG-one", b"two"))
    assert split_signed(UNSIGNED) == (UNSIGNED, ())
    again = with_signatures(split_signed(signed)[0], [*split_signed(signed)[1], b"three"])
    assert split_signed(again)[1] == (b"SSHSIG-one", b"two", b"three")


@pytest.mark.parametrize(
    ("block", "words"),
    [
        (b"", "no ESSHSIGS header"),
        (b"ESSHSIGX\0\0\0\1", "no ESSHSIGS header"),
        (b"ESSHSIGS\0\0\0\0", "0 signatures"),
        (b"ESSHSIGS\0\0\0\1\0\0\0\x09abc", "truncated at signature 1"),
        (build_block([b"x"]) + b"!", "1 unexpected bytes after its signature block"),
    ],
)
def test_a_damaged_block_is_refused(block, words):
    data = seal(UNSIGNED[HEADER_SIZE:], flags=1) + block
    with pytest.raises(PlanFileDamaged, match=words):
        decode_plan(data)
