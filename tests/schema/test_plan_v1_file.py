"""The stored format-version-1 plan file: still read, upgraded to today's form, and
refused where it carries reserved tables (files, secrets) no reader may skip.

If this fails, the plan format changed: never regenerate the stored files to pass.
"""

from __future__ import annotations

import hashlib
import json
import struct

import msgspec
import pytest
from plan_strategies import DATA_DIR, stored_plan_generator, without_later_fields

from essh.schema import MAGIC, SUPPORTED_VERSIONS, Plan, PlanFileInvalid, decode_plan, read_plan, step_command

make_plan_v1 = stored_plan_generator()
V1 = DATA_DIR / "plan-v1.bin"


def _payload_plan() -> Plan:
    """plan-v1.bin's payload decoded as it was written, before any upgrade or check."""
    plan = msgspec.msgpack.decode(V1.read_bytes()[52:], type=Plan)
    return msgspec.structs.replace(plan, format_version=1)  # left out as the default of its day


def _as_v1_file(plan: Plan) -> bytes:
    payload = msgspec.msgpack.encode(plan)
    return struct.pack(">8sHHQ32s", MAGIC, 1, 0, len(payload), hashlib.sha256(payload).digest()) + payload


def test_version_1_is_still_read():
    assert 1 in SUPPORTED_VERSIONS


def test_stored_payload_is_what_the_generator_built():
    plan = _payload_plan()
    assert plan == make_plan_v1.build_plan()
    expected = json.loads((DATA_DIR / "plan-v1.json").read_text(encoding="utf-8"))
    # Every field of version 1, defaults included; run_as came with version 2, the others later.
    got = without_later_fields(make_plan_v1.explicit(plan))
    for task in got["tasks"]:
        assert task.pop("run_as") is None
    assert got == expected


def test_stored_plan_with_reserved_tables_is_refused():
    # Version 1 reserved `files`: a version-1 reader refused it, and so do we (file operations are format 3).
    with pytest.raises(PlanFileInvalid, match=r"\$\.files: .*format version 3"):
        read_plan(str(V1))


def test_a_version_1_plan_is_upgraded_when_read():
    plain = msgspec.structs.replace(_payload_plan(), files=(), secrets=())
    plan = decode_plan(_as_v1_file(plain))
    migrate = plan.tasks[2]
    assert (migrate.run_as, migrate.shell) == ("root", ("bash", "-c"))
    assert all(t.run_as is None and t.shell == ("bash", "-c") for i, t in enumerate(plan.tasks) if i != 2)
    assert step_command(plan, plan.steps[2]).startswith("sudo -n -u root -H -- bash -c ")


def test_a_version_1_shell_essh_never_wrote_is_refused():
    plain = _payload_plan()
    tasks = list(plain.tasks)
    tasks[2] = msgspec.structs.replace(tasks[2], shell=("sudo", "-n", "-u", "root", "bash", "-c"))
    plan = msgspec.structs.replace(plain, tasks=tuple(tasks), files=(), secrets=())
    with pytest.raises(PlanFileInvalid, match=r"\$\.tasks\[2\]\.shell"):
        decode_plan(_as_v1_file(plan))


def test_stored_plan_content_in_plain_words():
    plan = _payload_plan()
    assert [h.name for h in plan.hosts] == ["db-1", "web-1", "web-2"]
    assert [(t.name, t.role, t.backend) for t in plan.tasks] == [
        ("build", "task", "local"),
        ("backup", "task", "remote"),
        ("migrate", "task", "remote"),
        ("migrate-failed", "handler", "local"),
        ("deploy", "composite", "remote"),
        ("restart", "task", "remote"),
    ]
    migrate = plan.tasks[2]
    assert (migrate.on_error, migrate.handler, plan.tasks[3].handles) == ("handler", 3, 2)
    assert plan.tasks[1].timeout == 300.5 and plan.tasks[1].retries == 2 and plan.tasks[1].parallel == 0
    assert plan.tasks[4].after == (0, 1, 2) and plan.tasks[5].after == (4,)
    assert [s.prefix for s in plan.steps] == [None, "[remote:db-1] ", None, None, "[remote:web-1] ", "[remote:web-2] "]
    assert plan.hosts[1].ssh_options[1:3] == (("IdentityFile", "~/.ssh/id_ed25519"), ("IdentityFile", "~/.ssh/id_rsa"))
    assert plan.files[0].data == b"\x00\x01release\xff"
