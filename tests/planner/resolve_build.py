"""Helpers for the resolution tests: `Config` objects built in Python, and a
round trip through the plan file codec that proves a plan is valid."""

from __future__ import annotations

from essh.planner.model import Config, ConfigFileRead, DriverDef, HostDef, ScriptPart, Source, TaskDef
from essh.schema import Plan, decode_plan, encode_plan

FILE = "/cfg/esshconfig.lua"


def host(name: str, *tags: str, line: int = 1, **kw) -> HostDef:
    return HostDef(name=name, defined_at=Source(FILE, line), tags=list(tags), **kw)


def task(name: str, script: str | list[str] | None = "echo hi", *, line: int = 10, **kw) -> TaskDef:
    if script is None:
        parts: list[ScriptPart] = []
    else:
        parts = [ScriptPart(code) for code in ([script] if isinstance(script, str) else script)]
    return TaskDef(name=name, defined_at=Source(FILE, line), script=parts, **kw)


def driver(name: str, template: str, **kw) -> DriverDef:
    return DriverDef(name=name, defined_at=Source(FILE, 99), engine=lambda ctx: template, **kw)


def config(hosts=(), tasks=(), drivers=()) -> Config:
    return Config(
        files=[ConfigFileRead(FILE, "ab" * 32)],
        hosts={h.name: h for h in sorted(hosts, key=lambda h: h.name)},
        tasks={t.name: t for t in tasks},
        drivers={d.name: d for d in drivers},
        lua_version="Lua 5.4",
    )


def round_trip(plan: Plan) -> Plan:
    """The plan after encode and decode (which runs every schema check)."""
    back = decode_plan(encode_plan(plan))
    assert back == plan
    return back
