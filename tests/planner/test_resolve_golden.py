"""Golden plans: each `golden/<case>.lua` beside the plan it must give, as sorted JSON.

The first line of a case names the request: `-- request: TASK... [-- ARGS...]`.
Paths of the golden folder appear as `<golden>` so the files do not depend on
where the repository is checked out. After an intended change, regenerate with
`ESSH_REGEN_GOLDEN=1 pytest tests/planner/test_resolve_golden.py` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import pytest
from resolve_build import round_trip

from essh.planner import load_config, make_plan

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.lua"))


def request_of(lua: Path) -> tuple[list[str], list[str]]:
    first = lua.read_text().splitlines()[0]
    assert first.startswith("-- request:"), f"{lua} must start with '-- request: TASK...'"
    words = first.removeprefix("-- request:").split()
    if "--" in words:
        cut = words.index("--")
        return words[:cut], words[cut + 1 :]
    return words, []


def plan_json(lua: Path) -> str:
    tasks, args = request_of(lua)
    plan = round_trip(make_plan(load_config([str(lua)]), tasks, args, created_at=0, essh_version="golden"))
    text = json.dumps(msgspec.to_builtins(plan), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    return text.replace(str(GOLDEN), "<golden>")


@pytest.mark.parametrize("case", CASES)
def test_golden_plan(case):
    got = plan_json(GOLDEN / f"{case}.lua")
    expected_path = GOLDEN / f"{case}.json"
    if os.environ.get("ESSH_REGEN_GOLDEN") or not expected_path.exists():
        expected_path.write_text(got)
        if not os.environ.get("ESSH_REGEN_GOLDEN"):
            pytest.fail(f"wrote the missing {expected_path.name}: review it and commit it")
    assert got == expected_path.read_text()
