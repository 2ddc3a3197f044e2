"""Plans survive the file format unchanged, and equal plans give identical bytes."""

from __future__ import annotations

import hashlib

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from plan_strategies import plans

from essh.schema import (
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    Plan,
    PlanMeta,
    check_plan,
    decode_plan,
    encode_plan,
    payload_digest,
    read_plan,
    write_plan,
)
from essh.schema.codec import _HEADER


@settings(max_examples=100)
@given(plans())
def test_round_trip(plan):
    check_plan(plan)  # the strategy makes valid plans
    assert decode_plan(encode_plan(plan)) == plan


@settings(max_examples=50)
@given(plans())
def test_equal_plans_give_identical_bytes(plan):
    rebuilt = msgspec.convert(msgspec.to_builtins(plan), Plan)  # equal, built independently
    data = encode_plan(plan)
    assert encode_plan(rebuilt) == data
    assert encode_plan(decode_plan(data)) == data


@settings(max_examples=50)
@given(plans(), plans())
def test_different_plans_give_different_bytes(a, b):
    assert (encode_plan(a) == encode_plan(b)) == (a == b)


@settings(max_examples=30)
@given(plans())
def test_header_describes_the_payload(plan):
    data = encode_plan(plan)
    magic, version, flags, length, digest = _HEADER.unpack_from(data)
    assert (magic, version, flags, length) == (MAGIC, FORMAT_VERSION, 0, len(data) - HEADER_SIZE)
    assert digest == hashlib.sha256(data[HEADER_SIZE:]).digest()
    assert payload_digest(data) == digest.hex()


def test_write_and_read_a_file(tmp_path):
    plan = Plan(meta=PlanMeta(essh_version="0.1.0", created_at=1, lua_version="Lua 5.4"))
    path = tmp_path / "plan.bin"
    data = write_plan(str(path), plan)
    assert path.read_bytes() == data
    assert read_plan(str(path)) == plan
    assert [p.name for p in tmp_path.iterdir()] == ["plan.bin"]  # no temporary file left


@given(st.integers(0, 3))
def test_empty_plans_round_trip(n):
    plan = Plan(meta=PlanMeta(essh_version="x" * n, created_at=n, lua_version=""))
    assert decode_plan(encode_plan(plan)) == plan
