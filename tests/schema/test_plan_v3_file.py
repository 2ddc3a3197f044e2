"""The stored format-version-3 plan file (file operations) reads to the same content, and
this essh writes exactly its bytes. If this fails, the format changed: bump FORMAT_VERSION
and keep reading version 3; never regenerate the stored files to pass."""

from __future__ import annotations

import json

from plan_strategies import DATA_DIR, stored_plan_generator, without_later_fields

from essh.schema import FORMAT_VERSION, SUPPORTED_VERSIONS, Download, Upload, encode_plan, read_plan

make_plan_v3 = stored_plan_generator(3)
V3 = DATA_DIR / "plan-v3.bin"


def test_version_3_is_read():
    assert 3 in SUPPORTED_VERSIONS


def test_stored_plan_decodes_to_the_stored_content():
    plan = read_plan(str(V3))
    expected = json.loads((DATA_DIR / "plan-v3.json").read_text(encoding="utf-8"))
    assert without_later_fields(make_plan_v3.explicit(plan), v3=False) == expected  # fields since: defaults
    assert plan == make_plan_v3.build_plan()


def test_this_version_writes_the_same_bytes():
    if FORMAT_VERSION == 3:
        assert encode_plan(make_plan_v3.build_plan()) == V3.read_bytes()


def test_file_operations_in_plain_words():
    plan = read_plan(str(V3))
    step = plan.steps[-1]
    assert step.script is None
    kinds = [type(plan.operations[i]).__name__ for i in step.ops]
    assert kinds == ["Upload", "Upload", "Upload", "Download"]
    first = plan.operations[0]
    assert isinstance(first, Upload) and plan.files[first.blob].data == b"worker_processes 4;\n"
    assert plan.files[2].source == "files/big.tar" and plan.files[2].data == b""
    assert isinstance(plan.operations[3], Download)
    assert step.observed[1].exists is False and step.observed[2] is None
