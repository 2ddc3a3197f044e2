"""Every entry of a task's `targets` and `filters` must select some host: a typo in a list is an
error, as a single pattern that matches nothing always was (ESSH itself drops such an entry quietly)."""

from __future__ import annotations

import fnmatch

import pytest
from essh.planner import ConfigError, make_exec_plan, make_plan
from hypothesis import given, settings
from hypothesis import strategies as st
from resolve_build import FILE, config, host, task

WEB = [host("web-1", "web", "prod"), host("web-2", "web"), host("db-1", "db", "prod")]


def plan_error(targets, filters=()):
    with pytest.raises(ConfigError) as caught:
        make_plan(config(WEB, [task("a", targets=list(targets), filters=list(filters), line=4)]), ["a"], essh_version="t")
    return str(caught.value)


def test_a_typo_inside_a_target_list_is_an_error_with_the_closest_name():
    assert plan_error(["web-1", "wbe-2"]) == f'{FILE}:4: task a: target "wbe-2" matches no host name or tag; did you mean "web-2"?'


def test_a_tag_typo_suggests_the_tag():
    assert plan_error(["db", "prdo"]).endswith('target "prdo" matches no host name or tag; did you mean "prod"?')


def test_a_glob_in_a_list_that_matches_nothing_is_an_error_without_a_guess():
    assert plan_error(["web-*", "cache-*"]).endswith('task a: target "cache-*" matches no host name or tag')


def test_a_filter_that_matches_nothing_is_an_error_too():
    assert plan_error(["web"], ["prodd"]).endswith('filter "prodd" matches no host name or tag; did you mean "prod"?')


def test_entries_that_each_match_but_do_not_meet_still_say_so():
    assert plan_error(["web-2"], ["db"]).endswith("task a: targets web-2 filtered by db select no host")


def test_the_same_rule_for_essh_exec():
    with pytest.raises(ConfigError, match='target "wbe-1" matches no host name or tag; did you mean "web-1"'):
        make_exec_plan(config(WEB), "uptime", targets=["web-1", "wbe-1"], essh_version="t")


def test_from_lua_with_its_line(load):
    cfg = load('host "web-1" {}\nhost "web-2" {}\n\ntask "deploy" {\n  targets = {"web-1", "wbe-2"}, script = "x" }\n')
    with pytest.raises(ConfigError) as caught:
        make_plan(cfg, ["deploy"], essh_version="t")
    assert caught.value.source.line == 4
    assert caught.value.message == 'task deploy: target "wbe-2" matches no host name or tag; did you mean "web-2"?'


NAMES = st.sampled_from(["web-1", "web-2", "web-10", "db-1", "db-2", "api", "cache-a"])
TAGS = st.sampled_from(["web", "db", "prod", "blue"])
ENTRIES = st.one_of(NAMES, TAGS, st.sampled_from(["all", "web-*", "db-?", "[ab]*", "*-1", "zz-*", "nope", "wbe-1"]))


@settings(max_examples=200, deadline=None)
@given(
    hosts=st.dictionaries(NAMES, st.lists(TAGS, unique=True, max_size=3), min_size=1, max_size=6),
    targets=st.lists(ENTRIES, min_size=1, max_size=4),
)
def test_a_target_list_selects_the_union_of_its_entries_or_names_the_first_that_matches_nothing(hosts, targets):
    defs = [host(name, *tags) for name, tags in hosts.items()]

    def matches(entry: str) -> set[str]:
        if entry == "all":
            return set(hosts)
        return {name for name, tags in hosts.items() if any(fnmatch.fnmatchcase(x, entry) for x in [name, *tags])}

    try:
        plan = make_plan(config(defs, [task("a", targets=targets)]), ["a"], essh_version="t")
    except ConfigError as error:
        first_empty = next(entry for entry in targets if not matches(entry))
        assert f'target "{first_empty}" matches no host name or tag' in str(error)
        return
    assert all(matches(entry) for entry in targets)
    assert [h.name for h in plan.hosts] == sorted(set().union(*map(matches, targets)))
