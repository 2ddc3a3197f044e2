"""Hosts as the plan records them, and the SSH options essh's executor applies.

An option the executor does not apply is kept in the plan (it is what the user
wrote) but reported in the plan's warnings, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from essh.schema import Host, Location
from essh.schema.ssh_options import proxy_jump_host, proxy_jump_loops, unapplied_ssh_options

from .env import host_env, host_secret_env
from .model import ConfigError, HostDef


def unapplied_options(host: HostDef) -> list[str]:
    """Warnings for the host's SSH options the executor does not apply, by keyword
    (the lists are the schema's: `essh.schema.ssh_options`)."""
    keys = unapplied_ssh_options([key for key, _ in host.ssh_options])
    return [f"host {host.name}: SSH option {key} is not applied by essh" for key in keys]


def login_only_warnings(host: HostDef, ssh_config: str) -> list[str]:
    """Warnings for what of `host` serves `essh ssh` logins only: its hooks (ESSH never
    runs them in tasks either), and options reading the generated ssh_config, which
    essh writes for logins (`essh.ssh_config`), not when a plan is applied."""
    found = []
    if any(host.hooks.values()):
        found.append(f"host {host.name}: its hooks run only around `essh ssh` logins, never in tasks (as ESSH)")
    for key, value in host.ssh_options:
        if ssh_config and ssh_config in value:
            found.append(
                f"host {host.name}: {key} reads essh.ssh_config ({ssh_config}), which essh writes only for"
                " `essh ssh` logins: run `essh ssh --gen` before applying, or use ProxyJump for tasks"
            )
    return found


def with_jump_hosts(names: set[str], hosts: dict[str, HostDef]) -> set[str]:
    """`names` and every essh host their ProxyJump names, transitively: the executor
    connects through a bastion defined in the configuration with its own options."""
    result, todo = set(names), list(names)
    while todo:
        jump = proxy_jump_host(hosts[todo.pop()].ssh_options, hosts)
        if jump is not None and jump not in result:
            result.add(jump)
            todo.append(jump)
    return result


def refuse_jump_loops(plan_hosts: Sequence[Host], hosts: Mapping[str, HostDef]) -> None:
    """A ConfigError, at the host's definition, for the first plan host whose
    ProxyJump chain comes back on itself (the executor could never connect it)."""
    loops = proxy_jump_loops(plan_hosts)
    if loops:
        first = plan_hosts[min(loops)].name
        raise ConfigError(f"host {first}: its ProxyJump hosts loop back: {loops[min(loops)]}", hosts[first].defined_at)


def plan_host(host: HostDef) -> Host:
    """The plan's record of `host`, with its share of the environment."""
    return Host(
        name=host.name,
        ssh_options=tuple(sorted(host.ssh_options, key=lambda pair: pair[0].lower())),
        description=host.description,
        tags=tuple(host.tags),
        props=tuple(sorted(host.props.items())),
        env=host_env(host),
        defined_at=Location(file=host.defined_at.file, line=host.defined_at.line),
        secret_env=host_secret_env(host),
        registry=host.registry,  # type: ignore[arg-type]
    )
