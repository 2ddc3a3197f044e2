"""The stored format-version-2 plan file still reads to the same content, and this
essh writes exactly its bytes. If this fails, the format changed: bump FORMAT_VERSION
and keep reading version 2; never regenerate the stored files to pass."""

from __future__ import annotations

import json

from plan_strategies import DATA_DIR, stored_plan_generator, without_v3_fields

from essh.schema import FORMAT_VERSION, SUPPORTED_VERSIONS, encode_plan, read_plan

make_plan_v2 = stored_plan_generator(2)
V2 = DATA_DIR / "plan-v2.bin"


def test_version_2_is_read():
    assert 2 in SUPPORTED_VERSIONS


def test_stored_plan_decodes_to_the_stored_content():
    plan = read_plan(str(V2))
    expected = json.loads((DATA_DIR / "plan-v2.json").read_text(encoding="utf-8"))
    assert without_v3_fields(make_plan_v2.explicit(plan)) == expected
    assert plan == make_plan_v2.build_plan()


def test_this_version_writes_the_same_bytes():
    if FORMAT_VERSION == 2:
        assert encode_plan(make_plan_v2.build_plan()) == V2.read_bytes()


def test_privileged_task_in_plain_words():
    migrate = read_plan(str(V2)).tasks[2]
    assert (migrate.name, migrate.run_as, migrate.shell) == ("migrate", "root", ("bash", "-c"))
