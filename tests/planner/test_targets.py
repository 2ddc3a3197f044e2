"""Host selection by names, tags, globs, `all` and filters (planner/targets.py)."""

from __future__ import annotations

import fnmatch

from hypothesis import given, settings
from hypothesis import strategies as st
from resolve_build import config, host

from essh.planner import select_hosts
from essh.planner.targets import HostIndex

HOSTS = [
    host("web-1", "web", "prod"),
    host("web-2", "web", "stage"),
    host("web-10", "web", "prod"),
    host("db-1", "db", "prod"),
    host("bastion", hidden=True),
]


def names(targets, filters=()):
    return HostIndex({h.name: h for h in HOSTS}).select(targets, filters)


def test_a_plain_entry_matches_names_and_tags():
    assert names(["db-1"]) == ["db-1"]
    assert names(["web"]) == ["web-1", "web-10", "web-2"]
    assert names(["prod"]) == ["db-1", "web-1", "web-10"]


def test_globs_match_names_and_tags():
    assert names(["web-*"]) == ["web-1", "web-10", "web-2"]
    assert names(["web-?"]) == ["web-1", "web-2"]
    assert names(["web-[12]"]) == ["web-1", "web-2"]
    assert names(["web-[!1]"]) == ["web-2"]
    assert names(["pro*"]) == ["db-1", "web-1", "web-10"]
    assert names(["*-1"]) == ["db-1", "web-1"]


def test_globs_are_case_sensitive():
    assert names(["WEB-*"]) == []


def test_all_means_every_host_hidden_ones_too():
    assert names(["all"]) == ["bastion", "db-1", "web-1", "web-10", "web-2"]
    assert names(["bastion"]) == ["bastion"]


def test_filters_intersect_and_results_are_sorted_without_duplicates():
    assert names(["web", "web-1", "prod"], ["prod"]) == ["db-1", "web-1", "web-10"]
    assert names(["all"], ["stage"]) == ["web-2"]
    assert names(["web"], ["db"]) == []
    assert names(["db"], ["all"]) == ["db-1"]


def test_a_host_must_match_every_filter_as_in_essh():
    # ESSH's HostQuery applies its filters one after another: web AND prod, not web OR prod.
    assert names(["all"], ["web", "prod"]) == ["web-1", "web-10"]
    assert names(["all"], ["stage", "prod"]) == []
    assert names(["all"], ["web-*", "prod"]) == ["web-1", "web-10"]


def test_no_targets_select_nothing():
    assert names([]) == []
    assert names(["nope"]) == []


def test_select_hosts_without_patterns_gives_every_host():
    cfg = config(HOSTS)
    assert [h.name for h in select_hosts(cfg, [])] == ["bastion", "db-1", "web-1", "web-10", "web-2"]
    assert [h.name for h in select_hosts(cfg, [], ["prod"])] == ["db-1", "web-1", "web-10"]
    assert [h.name for h in select_hosts(cfg, ["web-*"], ["stage"])] == ["web-2"]


# Property: the index agrees with a naive reading of the rules.

_piece = st.sampled_from(["a", "b", "ab", "-", "1", "x"])
_name = st.lists(_piece, min_size=1, max_size=4).map("".join)
_pattern = st.one_of(
    _name,
    st.just("all"),
    st.lists(st.sampled_from(["a", "b", "-", "1", "*", "?", "[ab]", "[!a]"]), min_size=1, max_size=4).map("".join),
)
_hosts = st.dictionaries(_name, st.lists(_name, max_size=3, unique=True), max_size=12)


def _naive(hosts: dict[str, list[str]], entries: list[str]) -> set[str]:
    if "all" in entries:
        return set(hosts)
    return {
        name
        for name, tags in hosts.items()
        for entry in entries
        if fnmatch.fnmatchcase(name, entry) or any(fnmatch.fnmatchcase(tag, entry) for tag in tags)
    }


@settings(max_examples=300, deadline=None)
@given(_hosts, st.lists(_pattern, max_size=3), st.lists(_pattern, max_size=2))
def test_selection_matches_the_naive_rules(hosts, targets, filters):
    index = HostIndex({name: host(name, *tags) for name, tags in hosts.items()})
    got = index.select(targets, filters)
    expected = _naive(hosts, targets) if targets else set()
    for entry in filters:  # every filter narrows (ESSH's rule)
        expected &= _naive(hosts, [entry])
    assert got == sorted(expected)
