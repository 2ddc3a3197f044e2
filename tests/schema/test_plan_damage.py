"""Every damaged, foreign or inconsistent plan file is refused with its own error type
and a one-line message; nothing else ever escapes `decode_plan`."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plan_strategies import plans, seal, seal_builtins, stored_plan_generator

from essh.schema import (
    FORMAT_VERSION,
    SUPPORTED_VERSIONS,
    FileBlob,
    HEADER_SIZE,
    MAGIC,
    NotAPlanFile,
    Plan,
    SecretRef,
    PlanFileDamaged,
    PlanFileError,
    PlanFileInvalid,
    Step,
    UnsupportedPlanVersion,
    decode_plan,
    encode_plan,
    read_plan,
)

PLAN = stored_plan_generator(3).build_plan()
DATA = encode_plan(PLAN)


def refused(data: bytes, kind: type[PlanFileError] = PlanFileError) -> PlanFileError:
    """The error `decode_plan` raises for `data`, checked to be `kind` and one line."""
    with pytest.raises(PlanFileError) as info:
        decode_plan(data)
    assert type(info.value) is kind or kind is PlanFileError, f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    assert message and "\n" not in message
    return info.value


def expected_for_byte(pos: int) -> type[PlanFileError]:
    """Which error a change at byte `pos` of a valid file must give."""
    if pos < len(MAGIC):
        return NotAPlanFile
    if pos < 12:  # format version, flags
        return UnsupportedPlanVersion
    return PlanFileDamaged  # length, digest, payload


def test_every_truncation_is_refused():
    for cut in range(len(DATA)):
        error = refused(DATA[:cut], NotAPlanFile if cut < len(MAGIC) else PlanFileDamaged)
        if cut >= len(MAGIC):
            assert "truncated" in str(error)


@settings(max_examples=50)
@given(plans(), st.data())
def test_truncated_generated_plans_are_refused(plan, data):
    encoded = encode_plan(plan)
    cut = data.draw(st.integers(len(MAGIC), len(encoded) - 1))
    assert "truncated" in str(refused(encoded[:cut], PlanFileDamaged))


def test_a_flipped_bit_in_any_byte_is_refused():
    for pos in range(len(DATA)):
        damaged = bytearray(DATA)
        damaged[pos] ^= 1 << (pos % 8)
        expected = expected_for_byte(pos)
        if pos in (8, 9) and int.from_bytes(damaged[8:10], "big") in SUPPORTED_VERSIONS:
            expected = PlanFileInvalid  # another version this essh reads: its payload says otherwise
        refused(bytes(damaged), expected)


@settings(max_examples=100)
@given(plans(), st.data())
def test_random_bit_flips_are_refused(plan, data):
    encoded = bytearray(encode_plan(plan))
    pos = data.draw(st.integers(0, len(encoded) - 1))
    encoded[pos] ^= 1 << data.draw(st.integers(0, 7))
    refused(bytes(encoded), expected_for_byte(pos))


def test_edited_payload_is_refused():
    edited = DATA.replace(b"systemctl restart app", b"systemctl restart ap!")
    assert edited != DATA
    assert "sha256 does not match" in str(refused(edited, PlanFileDamaged))


@pytest.mark.parametrize("magic", [b"ESSHPLAX", b"essh", b"", b"\x89PNG\r\n\x1a\n", b"ESSHPLA"])
def test_wrong_magic(magic):
    assert "not an essh plan file" in str(refused(magic + DATA[len(MAGIC) :], NotAPlanFile))


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 7, 65535])
def test_future_format_version(version):
    error = refused(seal(DATA[HEADER_SIZE:], version=version), UnsupportedPlanVersion)
    assert f"format version {version}" in str(error) and "newer essh" in str(error)


def test_format_version_zero_is_older():
    assert "an older essh" in str(refused(seal(DATA[HEADER_SIZE:], version=0), UnsupportedPlanVersion))


@pytest.mark.parametrize("flags", [2, 0x8000])
def test_non_zero_flags(flags):
    assert f"{flags:#06x}" in str(refused(seal(DATA[HEADER_SIZE:], flags=flags), UnsupportedPlanVersion))


@pytest.mark.parametrize("extra", [b"\x00", b"signature" * 10])
def test_trailing_bytes(extra):
    assert f"{len(extra)} unexpected bytes" in str(refused(DATA + extra, PlanFileDamaged))


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_random_bytes(data):
    refused(data, PlanFileDamaged if data.startswith(MAGIC) else NotAPlanFile)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_random_bytes_after_a_header(data):
    refused(MAGIC + data)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_random_payload_with_a_valid_digest(payload):
    refused(seal(payload), PlanFileInvalid)


@given(
    st.recursive(
        st.none() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=5),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(max_size=3), inner),
    )
)
def test_msgpack_that_is_not_a_plan(value):
    refused(seal_builtins(value), PlanFileInvalid)


def _mutable(obj):
    """Builtins with lists for tuples, so that tests can damage them in place."""
    if isinstance(obj, (list, tuple)):
        return [_mutable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _mutable(v) for k, v in obj.items()}
    return obj


def _plan_builtins() -> dict:
    return _mutable(msgspec.to_builtins(PLAN, builtin_types=(bytes,)))


def _with(path: list, value) -> dict:
    """The plan's builtins with the item at `path` set to `value`."""
    obj = _plan_builtins()
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


@pytest.mark.parametrize(
    "path, value, where",
    [
        (["steps", 2, 0], -1, "`$.steps[2][0]`"),
        (["steps", 0, 2], "zero", "`$.steps[0][2]`"),
        (["tasks", 1, "parallel"], -3, "`$.tasks[1].parallel`"),
        (["tasks", 1, "timeout"], 0, "`$.tasks[1].timeout`"),
        (["tasks", 0, "backend"], "cloud", "`$.tasks[0].backend`"),
        (["tasks", 0, "on_error"], "retry", "`$.tasks[0].on_error`"),
        (["hosts", 1, "ssh_options", 0], ["HostName"], "`$.hosts[1].ssh_options[0]`"),
        (["meta", "created_at"], "yesterday", "`$.meta.created_at`"),
        (["hosts", 0, "colour"], "red", "`$.hosts[0]`"),
        (["surprise"], 1, "unknown field `surprise`"),
    ],
)
def test_payload_errors_show_msgspecs_path(path, value, where):
    error = refused(seal_builtins(_with(path, value)), PlanFileInvalid)
    assert where in str(error), str(error)


def test_missing_required_field():
    obj = _plan_builtins()
    del obj["meta"]
    assert "missing required field `meta`" in str(refused(seal_builtins(obj), PlanFileInvalid))


def test_payload_version_must_match_the_header():
    plan = msgspec.structs.replace(PLAN, format_version=1)
    error = refused(seal_builtins(msgspec.to_builtins(plan, builtin_types=(bytes,))), PlanFileInvalid)
    assert f"header says format version {FORMAT_VERSION} but its payload says 1" in str(error)


def _task(i: int, **changes) -> Plan:
    tasks = list(PLAN.tasks)
    tasks[i] = msgspec.structs.replace(tasks[i], **changes)
    return msgspec.structs.replace(PLAN, tasks=tuple(tasks))


def _step(i: int, step: Step) -> Plan:
    steps = list(PLAN.steps)
    steps[i] = step
    return msgspec.structs.replace(PLAN, steps=tuple(steps))


@pytest.mark.parametrize(
    "plan, where",
    [
        (_task(2, after=(2,)), "$.tasks[2].after[0]"),
        (_task(2, after=(1, 5)), "$.tasks[2].after[1]"),
        (_task(2, handler=None), "$.tasks[2].handler"),
        (_task(2, handler=99), "$.tasks[2].handler"),
        (_task(2, handler=1), "$.tasks[2].handler"),
        (_task(3, handles=0), "$.tasks[2].handler"),
        (_task(3, handles=None), "$.tasks[2].handler"),
        (_task(1, role="handler"), "$.tasks[1].handles"),
        (_task(1, role="handler", handles=42), "$.tasks[1].handles"),
        (_task(0, shell=()), "$.tasks[0].shell"),
        (_step(1, Step(60, 0, 1)), "$.steps[1].task"),
        (_step(1, Step(1, 3, 1)), "$.steps[1].host"),
        (_step(1, Step(1, None, 1)), "$.steps[1].host"),
        (_step(1, Step(1, 0, 5)), "$.steps[1].script"),
        (_step(1, Step(4, 0, 1)), "$.steps[1].task"),
    ],
)
def test_cross_reference_errors(plan, where):
    error = refused(encode_plan(plan), PlanFileInvalid)
    assert f"inconsistent at {where}:" in str(error)


def test_read_plan_names_the_file(tmp_path):
    path = tmp_path / "plan.bin"
    path.write_bytes(DATA[:-1])
    with pytest.raises(PlanFileDamaged, match=rf"^{path}: plan file is truncated"):
        read_plan(str(path))
    with pytest.raises(PlanFileInvalid, match="cannot read plan file .*missing.bin: No such file"):
        read_plan(str(tmp_path / "missing.bin"))


def test_reserved_tables_are_never_skipped():
    plan = msgspec.structs.replace(PLAN, files=(FileBlob(sha256="cd" * 32, data=b"x", size=1),))
    error = refused(seal(msgspec.msgpack.encode(plan), version=2), PlanFileInvalid)
    assert "$.files: " in str(error) and "format version 3" in str(error)


def test_a_secret_source_this_essh_does_not_know_is_refused():
    plan = msgspec.structs.replace(PLAN, secrets=(SecretRef(name="db", source="env:DB"),))
    error = refused(seal(msgspec.msgpack.encode(plan)), PlanFileInvalid)
    assert "$.secrets[0].source" in str(error)


def test_a_secret_variable_must_name_a_listed_secret():
    tasks = list(PLAN.tasks)
    tasks[0] = msgspec.structs.replace(tasks[0], secret_env=(("DB_PASSWORD", "DB"),))
    plan = msgspec.structs.replace(PLAN, tasks=tuple(tasks))
    error = refused(seal(msgspec.msgpack.encode(plan)), PlanFileInvalid)
    assert "$.tasks[0].secret_env[0]" in str(error) and "not in $.secrets" in str(error)
    listed = msgspec.structs.replace(plan, secrets=(SecretRef(name="DB"),))
    assert decode_plan(seal(msgspec.msgpack.encode(listed))).tasks[0].secret_env == (("DB_PASSWORD", "DB"),)


def test_secrets_of_hosts_and_uploads_must_be_listed_and_in_place():
    v3 = stored_plan_generator(3).build_plan()
    hosts = (msgspec.structs.replace(v3.hosts[0], secret_env=(("ESSH_HOST_PROPS_PW", "DB"),)), *v3.hosts[1:])
    error = refused(seal(msgspec.msgpack.encode(msgspec.structs.replace(v3, hosts=hosts))), PlanFileInvalid)
    assert "$.hosts[0].secret_env[0]" in str(error) and "not in $.secrets" in str(error)
    inline = next(i for i, op in enumerate(v3.operations) if hasattr(op, "blob") and v3.files[op.blob].source is None)
    size = v3.files[v3.operations[inline].blob].size

    def with_places(places, secrets=(SecretRef(name="DB"),)):
        ops = list(v3.operations)
        ops[inline] = msgspec.structs.replace(ops[inline], secrets=places)
        return seal(msgspec.msgpack.encode(msgspec.structs.replace(v3, operations=tuple(ops), secrets=secrets)))

    assert "not in $.secrets" in str(refused(with_places(((0, "OTHER"),)), PlanFileInvalid))
    assert "out of order or past" in str(refused(with_places(((size + 1, "DB"),)), PlanFileInvalid))
    assert "out of order or past" in str(refused(with_places(((2, "DB"), (1, "DB"))), PlanFileInvalid))
    good = decode_plan(with_places(((0, "DB"), (size, "DB"))))
    assert good.operations[inline].secrets == ((0, "DB"), (size, "DB"))


def test_run_as_must_be_a_user_name():
    error = refused(seal(msgspec.msgpack.encode(_task(2, run_as="-oops"))), PlanFileInvalid)
    assert "$.tasks[2].run_as" in str(error)
