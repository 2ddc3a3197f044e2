"""Hypothesis strategies for valid plans and reports, and helpers to forge plan files.

A generated `Plan` always passes `check_plan`: `after` names earlier tasks only,
handlers and the tasks they handle name each other, composites have no steps,
remote steps have a host, and every index is in range.
"""

from __future__ import annotations

import hashlib
import importlib.util
import string
import struct
from pathlib import Path
from types import ModuleType

import msgspec
from hypothesis import strategies as st

from essh.schema import (
    FORMAT_VERSION,
    MAGIC,
    Attempt,
    ConfigFile,
    Host,
    Location,
    SecretRef,
    Plan,
    PlanMeta,
    Report,
    Step,
    StepResult,
    Task,
    Totals,
)
from essh.schema.codec import HEADER_SIZE
from essh.schema.report import STEP_STATUSES

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
names = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=10)
hex_digests = st.binary(min_size=32, max_size=32).map(bytes.hex)
pairs = st.lists(st.tuples(names, texts), max_size=3).map(tuple)
env_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
env_pairs = st.lists(st.tuples(env_names, texts), max_size=3).map(tuple)
name_tuples = st.lists(names, max_size=3).map(tuple)
locations = st.none() | st.builds(Location, file=names, line=st.integers(0, 10**6))
seconds = st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False)

metas = st.builds(
    PlanMeta,
    essh_version=names,
    created_at=st.integers(0, 2**40),
    lua_version=names,
    config_files=st.lists(st.builds(ConfigFile, path=texts, sha256=hex_digests), max_size=2).map(tuple),
    requested=name_tuples,
    args=st.lists(texts, max_size=3).map(tuple),
    warnings=st.lists(texts, max_size=2).map(tuple),
)

hosts = st.builds(
    Host,
    name=names,
    ssh_options=pairs,
    description=texts,
    tags=name_tuples,
    props=pairs,
    env=env_pairs,
    defined_at=locations,
)


@st.composite
def tasks(draw, count: int) -> list[Task]:
    """`count` tasks with valid `after`, then handler tasks appended for some of them."""
    result: list[Task] = []
    for i in range(count):
        result.append(
            Task(
                name=draw(names),
                description=draw(texts),
                defined_at=draw(locations),
                role=draw(st.sampled_from(["task", "task", "composite"])),
                backend=draw(st.sampled_from(["remote", "local"])),
                after=tuple(draw(st.lists(st.integers(0, i - 1), unique=True, max_size=3)) if i else ()),
                parallel=draw(st.integers(0, 50)),
                on_error=draw(st.sampled_from(["stop", "continue"])),
                timeout=draw(st.none() | st.floats(min_value=0.001, max_value=1e6, allow_nan=False)),
                retries=draw(st.integers(0, 5)),
                pty=draw(st.booleans()),
                shell=tuple(draw(st.lists(texts, min_size=1, max_size=4))),
                run_as=draw(st.none() | st.sampled_from(["root", "deploy", "www-data", "svc.app"])),
                env=draw(env_pairs),
                props=draw(pairs),
                hidden=draw(st.booleans()),
                requested=draw(st.booleans()),
            )
        )
    handled = draw(st.lists(st.sampled_from(range(count)), unique=True, max_size=2)) if count else []
    for i in sorted(handled):
        if result[i].role != "task":
            continue
        handler_index = len(result)
        backend = draw(st.sampled_from(["remote", "local"]))
        result.append(Task(name=draw(names), role="handler", handles=i, backend=backend))
        result[i] = msgspec.structs.replace(result[i], on_error="handler", handler=handler_index)
    return result


@st.composite
def plans(draw, max_hosts: int = 4, max_tasks: int = 5) -> Plan:
    """A valid plan, as rich as the sizes allow."""
    host_list = draw(st.lists(hosts, max_size=max_hosts))
    task_list = draw(tasks(draw(st.integers(0, max_tasks))))
    scripts = draw(st.lists(texts, min_size=1, max_size=4))
    steps = []
    for t, task in enumerate(task_list):
        if task.role == "composite":
            continue
        if task.backend == "local" and draw(st.booleans()):
            targets: list[int | None] = [None]
        else:
            targets = draw(st.lists(st.sampled_from(range(len(host_list))), max_size=3)) if host_list else []
        for h in targets:
            steps.append(
                Step(t, h, draw(st.integers(0, len(scripts) - 1)), draw(st.none() | texts))
            )
    # Secrets by reference, on hosts (props) and tasks (env), each listed once in `secrets`.
    secret_env = st.lists(st.tuples(st.sampled_from(["DB_PASSWORD", "ESSH_HOST_PROPS_TOKEN"]),
                                    st.sampled_from(["DB", "API_TOKEN"])), max_size=2, unique_by=lambda p: p[0])
    host_list = [msgspec.structs.replace(h, secret_env=tuple(draw(secret_env))) for h in host_list]
    task_list = [msgspec.structs.replace(t, secret_env=tuple(draw(secret_env))) for t in task_list]
    used = {name for x in [*host_list, *task_list] for _, name in x.secret_env}
    return Plan(
        meta=draw(metas),
        hosts=tuple(host_list),
        tasks=tuple(task_list),
        scripts=tuple(scripts),
        steps=tuple(steps),
        secrets=tuple(SecretRef(name=name) for name in sorted(used)),
    )


statuses = st.sampled_from(STEP_STATUSES)
attempts = st.builds(
    Attempt,
    number=st.integers(1, 10),
    status=statuses,
    exit_code=st.none() | st.integers(-255, 255),
    started_at=seconds,
    ended_at=seconds,
    error=st.none() | texts,
)
step_results = st.builds(
    StepResult,
    step=st.integers(0, 10**6),
    task=names,
    host=st.none() | names,
    status=statuses,
    exit_code=st.none() | st.integers(-255, 255),
    attempts=st.lists(attempts, max_size=3).map(tuple),
    started_at=st.none() | seconds,
    ended_at=st.none() | seconds,
    duration=st.none() | seconds,
    stdout_tail=texts,
    stderr_tail=texts,
    error=st.none() | texts,
    log_file=st.none() | texts,
)
reports = st.builds(
    Report,
    essh_version=names,
    plan_digest=hex_digests,
    started_at=seconds,
    ended_at=seconds,
    wall_seconds=seconds,
    exit_code=st.sampled_from([0, 1, 2, 130]),
    interrupted=st.booleans(),
    totals=st.builds(Totals, **{s: st.integers(0, 10**6) for s in STEP_STATUSES}),
    steps=st.lists(step_results, max_size=4).map(tuple),
)


def seal(payload: bytes, version: int = FORMAT_VERSION, flags: int = 0) -> bytes:
    """A plan file around `payload` with a correct length and digest."""
    header = struct.pack(">8sHHQ32s", MAGIC, version, flags, len(payload), hashlib.sha256(payload).digest())
    assert len(header) == HEADER_SIZE
    return header + payload


def seal_builtins(obj: object, version: int = FORMAT_VERSION, flags: int = 0) -> bytes:
    """`seal` of `obj` encoded as msgpack: a file whose only fault is its content."""
    return seal(msgspec.msgpack.encode(obj), version, flags)


DATA_DIR = Path(__file__).parents[1] / "data"


# Task fields added with defaults after a stored plan was written (format 2 stays format 2: an essh
# without them refuses a plan that sets them). A stored plan's explicit form must hold the defaults.
LATER_TASK_DEFAULTS = {"max_failures": None, "max_failures_percent": None, "batch": [], "secret_env": [], "registry": "local"}
LATER_META_DEFAULTS = {"made_by": "", "modules": []}
LATER_HOST_DEFAULTS = {"registry": "local", "secret_env": []}  # ESSH's registries (issue 8): optional, no format bump
LATER_UPLOAD_DEFAULTS = {"parents": False, "secrets": []}  # format 3 stays format 3, the same way


def without_later_fields(explicit: dict, *, v3: bool = True) -> dict:
    """`explicit` (a plan's every field) minus the fields added since it was stored, checked to be their defaults."""
    for task in explicit["tasks"]:
        for name, default in LATER_TASK_DEFAULTS.items():
            assert task.pop(name) == default, name
    for name, default in LATER_META_DEFAULTS.items():
        assert explicit["meta"].pop(name) == default, name
    for host in explicit["hosts"]:
        for name, default in LATER_HOST_DEFAULTS.items():
            assert host.pop(name) == default, name
    for op in explicit.get("operations", ()):
        if "blob" in op:  # an upload
            for name, default in LATER_UPLOAD_DEFAULTS.items():
                assert op.pop(name) == default, name
    return without_v3_fields(explicit) if v3 else explicit


def stored_plan_generator(version: int = 1) -> ModuleType:
    """tests/data/make_plan_vN.py, the script that wrote the stored version-N plan."""
    spec = importlib.util.spec_from_file_location(f"make_plan_v{version}", DATA_DIR / f"make_plan_v{version}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def without_v3_fields(got: dict) -> dict:
    """`explicit(plan)` of an older plan without the fields format version 3 added (all at their defaults)."""
    assert got.pop("operations") == [] and got["meta"].pop("refreshed_at") is None
    for step in got["steps"]:
        assert step.pop("ops") == [] and step.pop("observed") == []
    for blob in got["files"]:
        blob.pop("size"), blob.pop("source")
    return got
