"""The stored format-version-1 plan file still reads to the same content.

If this fails, the plan format changed: bump FORMAT_VERSION and keep reading
version 1 (or refuse it on purpose); never regenerate the stored files to pass.
"""

from __future__ import annotations

import json

from plan_strategies import DATA_DIR, stored_plan_generator

from essh.schema import FORMAT_VERSION, SUPPORTED_VERSIONS, encode_plan, read_plan, step_argv

make_plan_v1 = stored_plan_generator()


def test_version_1_is_still_read():
    assert 1 in SUPPORTED_VERSIONS


def test_stored_plan_decodes_to_the_stored_content():
    plan = read_plan(str(DATA_DIR / "plan-v1.bin"))
    expected = json.loads((DATA_DIR / "plan-v1.json").read_text(encoding="utf-8"))
    # Every field, defaults included: a changed default would show here too.
    assert make_plan_v1.explicit(plan) == expected


def test_stored_plan_is_what_the_generator_builds():
    plan = read_plan(str(DATA_DIR / "plan-v1.bin"))
    assert plan == make_plan_v1.build_plan()


def test_this_version_writes_the_same_bytes():
    if FORMAT_VERSION == 1:
        assert encode_plan(make_plan_v1.build_plan()) == (DATA_DIR / "plan-v1.bin").read_bytes()


def test_stored_plan_content_in_plain_words():
    plan = read_plan(str(DATA_DIR / "plan-v1.bin"))
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
    argv = step_argv(plan, plan.steps[2])
    assert argv[:2] == ["sudo", "-n"]
    assert argv[-1] == (
        "export ESSH_HOSTNAME=db-1\nexport ESSH_HOST_HOSTNAME=10.0.0.11\nexport ESSH_HOST_TAGS_DB=1\n"
        "export ESSH_TASK_NAME=migrate\ncd /srv/app && ./migrate up\n"
    )
