"""Dependency order (planner/deps.py), alone and as `Task.after` in plans."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from resolve_build import config, round_trip, task

from essh.planner import ConfigError, make_plan
from essh.planner.deps import order_tasks


def order(tasks, requested):
    """[(name, sorted after names)] in execution order."""
    return [(o.name, sorted(o.after)) for o in order_tasks({t.name: t for t in tasks}, requested)]


def test_requested_tasks_run_in_the_order_given():
    assert order([task("a"), task("b"), task("c")], ["c", "a", "b"]) == [("c", []), ("a", ["c"]), ("b", ["a"])]


def test_depends_run_before_the_task_in_the_order_listed():
    tasks = [task("a"), task("b"), task("t", depends=["b", "a"])]
    assert order(tasks, ["t"]) == [("b", []), ("a", ["b"]), ("t", ["a"])]


def test_a_task_reached_by_several_paths_runs_once():
    tasks = [task("base"), task("x", depends=["base"]), task("y", depends=["base"]), task("top", depends=["x", "y"])]
    got = order(tasks, ["top", "base"])
    assert [name for name, _ in got] == ["base", "x", "y", "top"]
    assert got[2] == ("y", ["base", "x"])  # y waits for x (listed order) and base (its own dependency)


def test_a_parallel_composite_starts_its_depends_together():
    tasks = [task("pre"), task("a"), task("b"), task("both", None, depends=["a", "b"], parallel=True), task("post")]
    got = order(tasks, ["pre", "both", "post"])
    assert got == [("pre", []), ("a", ["pre"]), ("b", ["pre"]), ("both", ["a", "b"]), ("post", ["both"])]


def test_a_sequential_composite_runs_its_depends_one_after_another():
    tasks = [task("a"), task("b"), task("both", None, depends=["a", "b"])]
    assert order(tasks, ["both"]) == [("a", []), ("b", ["a"]), ("both", ["b"])]


def test_a_cycle_is_refused_with_its_path():
    tasks = [task("a", depends=["b"], line=3), task("b", depends=["c"]), task("c", depends=["a"]), task("top", depends=["a"])]
    with pytest.raises(ConfigError) as err:
        order(tasks, ["top"])
    assert "a -> b -> c -> a" in str(err.value)
    assert str(err.value).startswith("/cfg/esshconfig.lua:3: ")


def test_a_task_depending_on_itself_is_a_cycle():
    with pytest.raises(ConfigError, match="a -> a"):
        order([task("a", depends=["a"])], ["a"])


def test_an_unknown_dependency_names_the_closest_task_and_where():
    tasks = [task("deploy", depends=["biuld"], line=7), task("build")]
    with pytest.raises(ConfigError) as err:
        order(tasks, ["deploy"])
    assert str(err.value) == '/cfg/esshconfig.lua:7: task deploy depends on "biuld", which is not defined; did you mean "build"?'


def test_an_unknown_requested_task_names_the_closest_task():
    with pytest.raises(ConfigError, match='task "deplyo" is not defined; did you mean "deploy"'):
        order([task("deploy")], ["deplyo"])


def test_a_long_chain_plans_without_recursion_limits():
    n = 5000
    tasks = [task(f"t{i}", depends=[f"t{i - 1}"] if i else []) for i in range(n)]
    got = order(tasks, [f"t{n - 1}"])
    assert [name for name, _ in got] == [f"t{i}" for i in range(n)]


# Properties over random DAGs, checked on the plan's `after` indices.


@st.composite
def dags(draw):
    n = draw(st.integers(1, 12))
    names = [f"t{i}" for i in range(n)]
    tasks = []
    for i, name in enumerate(names):
        deps = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=3)) if i else []
        composite = bool(deps) and draw(st.booleans())
        parallel = composite and draw(st.booleans())
        tasks.append(task(name, None if composite else "echo", depends=deps, parallel=parallel))
    requested = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4))
    return tasks, requested


def happens_before(plan):
    """before[i]: every task index that finishes before task i starts."""
    before: list[set[int]] = []
    for t in plan.tasks:
        seen: set[int] = set()
        for j in t.after:
            seen |= {j} | before[j]
        before.append(seen)
    return before


@settings(max_examples=300, deadline=None)
@given(dags())
def test_random_dags_plan_in_a_valid_order(dag):
    tasks, requested = dag
    plan = round_trip(make_plan(config(tasks=tasks), requested, created_at=0, essh_version="t"))
    names = [t.name for t in plan.tasks]
    assert len(names) == len(set(names)), "each task once"
    where = {name: i for i, name in enumerate(names)}
    before = happens_before(plan)
    defs = {t.name: t for t in tasks}
    # Everything reachable from the request is planned, and nothing else.
    reach, todo = set(), list(requested)
    while todo:
        name = todo.pop()
        if name not in reach:
            reach.add(name)
            todo.extend(defs[name].depends)
    assert set(names) == reach
    for name, i in where.items():
        for dep in defs[name].depends:
            assert where[dep] in before[i], f"{dep} finishes before {name}"
    for k in range(1, len(requested)):
        # A requested task not planned yet when its turn comes waits for every one before it.
        if where[requested[k]] > max(where[r] for r in requested[:k]):
            assert all(where[r] in before[where[requested[k]]] for r in requested[:k])
    if not any(d.parallel and not d.script for d in tasks):
        # Without parallel composites everything runs one after another.
        assert all(before[i] == set(range(i)) for i in range(len(names)))


@st.composite
def trees(draw):
    """Tasks where each one is a dependency of at most one other: no shared paths."""
    n = draw(st.integers(1, 12))
    names = [f"t{i}" for i in range(n)]
    parent_of = {name: draw(st.sampled_from(names[:i])) for i, name in enumerate(names) if i}
    tasks = []
    for name in names:
        deps = [child for child in names if parent_of.get(child) == name]
        deps = draw(st.permutations(deps))
        composite = bool(deps) and draw(st.booleans())
        tasks.append(task(name, None if composite else "echo", depends=list(deps), parallel=composite and draw(st.booleans())))
    return tasks


@settings(max_examples=300, deadline=None)
@given(trees())
def test_listed_depends_keep_their_order_and_parallel_members_do_not_wait(tasks):
    plan = round_trip(make_plan(config(tasks=tasks), ["t0"], created_at=0, essh_version="t"))
    where = {t.name: i for i, t in enumerate(plan.tasks)}
    before = happens_before(plan)
    assert len(where) == len(tasks)
    for d in tasks:
        pairs = list(zip(d.depends, d.depends[1:]))
        if d.parallel:
            assert all(where[a] not in before[where[b]] for a, b in pairs)
        else:
            assert all(where[a] < where[b] and where[a] in before[where[b]] for a, b in pairs)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True))
def test_members_of_a_parallel_composite_do_not_wait_for_each_other(members):
    tasks = [task(m) for m in members] + [task("group", None, depends=members, parallel=True)]
    plan = round_trip(make_plan(config(tasks=tasks), ["group"], created_at=0, essh_version="t"))
    assert [t.after for t in plan.tasks[:-1]] == [()] * len(members)
    assert plan.tasks[-1].after == tuple(range(len(members)))
    assert plan.tasks[-1].role == "composite"


def test_reduce_after_drops_what_another_entry_implies():
    from essh.planner.deps import reduce_after

    after = [frozenset(), frozenset({0}), frozenset({0}), frozenset({1, 2}), frozenset({0, 3}), frozenset({2, 1, 0})]
    assert reduce_after(after) == [(), (0,), (0,), (1, 2), (3,), (1, 2)]


def test_plans_list_only_the_direct_waits():
    tasks = [task("fetch"), task("a", depends=["fetch"]), task("b", depends=["fetch"])]
    tasks += [task("checks", None, depends=["a", "b"], parallel=True), task("release", depends=["checks", "fetch"])]
    plan = round_trip(make_plan(config(tasks=tasks), ["release"], created_at=0, essh_version="t"))
    assert [(t.name, t.after) for t in plan.tasks] == [
        ("fetch", ()),
        ("a", (0,)),
        ("b", (0,)),
        ("checks", (1, 2)),
        ("release", (3,)),
    ]
