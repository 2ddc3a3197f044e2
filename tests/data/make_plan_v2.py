"""Writes plan-v2.bin and plan-v2.json (format version 2) next to this script.

Version 2 is version 1's plan with the sudo wrapping moved out of `Task.shell`
into `Task.run_as`, and the reserved `files`/`secrets` tables empty (a reader
refuses them until a format gives them meaning). Run once:
`python tests/data/make_plan_v2.py`; tests/schema/test_plan_v2_file.py checks
that this essh still reads the files to the same content. Never regenerate them
to make a test pass: a difference means the format changed.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import msgspec

from essh.schema import Plan, encode_plan

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("make_plan_v1", HERE / "make_plan_v1.py")
make_plan_v1 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_plan_v1)
explicit = make_plan_v1.explicit


def build_plan() -> Plan:
    v1 = make_plan_v1.build_plan()
    tasks = list(v1.tasks)
    tasks[2] = msgspec.structs.replace(tasks[2], shell=("bash", "-c"), run_as="root")
    return msgspec.structs.replace(v1, format_version=2, tasks=tuple(tasks), files=(), secrets=())


def main() -> int:
    plan = build_plan()
    (HERE / "plan-v2.bin").write_bytes(encode_plan(plan))
    text = json.dumps(explicit(plan), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (HERE / "plan-v2.json").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
