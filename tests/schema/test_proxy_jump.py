"""ProxyJump as essh reads it: which plan host a host connects through, and which chains loop."""

from __future__ import annotations

from essh.schema import Host
from essh.schema.ssh_options import proxy_jump_host, proxy_jump_loops
from hypothesis import given
from hypothesis import strategies as st


def hosts(**jumps: str | None) -> list[Host]:
    return [Host(name=name, ssh_options=(("ProxyJump", jump),) if jump else ()) for name, jump in jumps.items()]


def test_a_jump_names_a_plan_host_only_by_its_exact_name_and_the_last_value_wins():
    names = {"bastion", "web"}
    assert proxy_jump_host([("ProxyJump", "bastion")], names) == "bastion"
    assert proxy_jump_host([("proxyjump", "bastion")], names) == "bastion"
    for passed_to_ssh in ("deploy@bastion", "bastion:2222", "bastion,web", "elsewhere", "none"):
        assert proxy_jump_host([("ProxyJump", passed_to_ssh)], names) is None
    assert proxy_jump_host([("ProxyJump", "web"), ("ProxyJump", "bastion")], names) == "bastion"
    assert proxy_jump_host([("ProxyJump", "bastion"), ("ProxyJump", "None")], names) is None


def test_loops_are_given_from_each_host_that_reaches_them():
    plan_hosts = hosts(a="b", b="a", c="a", d="e", e=None, f="f")
    assert proxy_jump_loops(plan_hosts) == {0: "a -> b -> a", 1: "b -> a -> b", 2: "c -> a -> b -> a", 5: "f -> f"}


def test_no_loop_without_plan_host_jumps():
    assert proxy_jump_loops(hosts(a="deploy@b", b="a:22", c=None)) == {}


@given(st.lists(st.one_of(st.none(), st.integers(0, 7)), min_size=1, max_size=8))
def test_a_host_loops_exactly_when_following_its_jumps_repeats_a_host(targets):
    names = [f"h{i}" for i in range(len(targets))]
    plan_hosts = [
        Host(name=name, ssh_options=(("ProxyJump", f"h{t}"),) if t is not None else ()) for name, t in zip(names, targets)
    ]
    loops = proxy_jump_loops(plan_hosts)
    for start in range(len(names)):
        seen, current = [start], start
        while True:
            nxt = targets[current]
            if nxt is None or nxt >= len(names):
                assert start not in loops
                break
            if nxt in seen:
                assert loops[start] == " -> ".join(names[i] for i in [*seen, nxt])
                break
            seen.append(nxt)
            current = nxt
