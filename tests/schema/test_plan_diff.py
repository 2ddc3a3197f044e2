"""essh/plan_diff.py over generated plans (here for tests/schema's plan strategies): a plan equals
itself, the diff is symmetric, and each kind of change is found."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings

from essh.plan_diff import diff_json, diff_plans, render_diff
from essh.schema import Host, Location, Plan, PlanMeta, Step, Task

from plan_strategies import plans


@settings(max_examples=150, deadline=None)
@given(plans())
def test_a_plan_equals_itself_and_a_moved_definition_is_no_change(plan):
    moved = msgspec.structs.replace(
        plan, tasks=tuple(msgspec.structs.replace(t, defined_at=Location(file="elsewhere.lua", line=99)) for t in plan.tasks)
    )
    assert diff_plans(plan, moved).equal
    assert list(render_diff(diff_plans(plan, plan))) == ["The plans run the same steps with the same settings."]


@settings(max_examples=150, deadline=None)
@given(plans(), plans())
def test_the_diff_is_symmetric(a, b):
    there, back = diff_plans(a, b), diff_plans(b, a)
    assert there.equal == back.equal
    flip = {"added": "removed", "removed": "added", "changed": "changed"}
    assert sorted((t.name, flip[t.status], t.hosts_removed, t.hosts_added) for t in there.tasks) == sorted(
        (t.name, t.status, t.hosts_added, t.hosts_removed) for t in back.tasks
    )
    msgspec.json.decode(diff_json(there))  # always JSON
    for line in render_diff(there):
        assert "\x1b" not in line and "\n" not in line


def _plan(script: str, hosts: list[str], **task: object) -> Plan:
    return Plan(
        meta=PlanMeta(essh_version="t", created_at=0, lua_version="none", requested=("deploy",)),
        hosts=tuple(Host(name=h) for h in ["a", "b", "c"]),
        tasks=(Task(name="deploy", **task),),
        scripts=(script,),
        steps=tuple(Step(0, ["a", "b", "c"].index(h), 0) for h in hosts),
    )


def test_hosts_settings_and_scripts_of_a_task():
    d = diff_plans(_plan("echo 1\necho 2", ["a", "b"]), _plan("echo 1\necho 3", ["b", "c"], parallel=0, timeout=5.0))
    (task,) = d.tasks
    assert (task.status, task.hosts_added, task.hosts_removed) == ("changed", ("c",), ("a",))
    assert [(c.field, c.old, c.new) for c in task.changes] == [("parallel", 1, 0), ("timeout", None, 5.0)]
    (script,) = task.scripts
    assert script.hosts == ("b",) and "-echo 2" in script.diff and "+echo 3" in script.diff


def test_file_operations_changed_show_their_destination_and_a_text_diff():
    import hashlib

    import msgspec

    from plan_strategies import stored_plan_generator

    from essh.plan_diff import diff_plans, render_diff
    from essh.schema import FileBlob, Upload

    old = stored_plan_generator(3).build_plan()
    upload = next(i for i, op in enumerate(old.operations) if isinstance(op, Upload))
    blob_at = old.operations[upload].blob
    text = b"listen 8080;\n"
    files = list(old.files)
    files[blob_at] = FileBlob(sha256=hashlib.sha256(text).hexdigest(), data=text, size=len(text))
    new = msgspec.structs.replace(old, files=tuple(files))
    lines = list(render_diff(diff_plans(old, new)))
    dest = old.operations[upload].dest
    assert any(line.strip().startswith(f"upload {dest} on") and "sha256" in line for line in lines), lines
    assert "      +listen 8080;" in lines
    assert list(render_diff(diff_plans(old, old))) == ["The plans run the same steps with the same settings."]
