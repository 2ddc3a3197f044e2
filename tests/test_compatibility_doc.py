"""docs/essh-compatibility.md: every row that works names its tests, and every test file it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKS = ("same", "equivalent", "essh's own")


def _rows():
    for line in (ROOT / "docs" / "essh-compatibility.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| ") and not line.startswith("| ESSH ") and not line.startswith("|---"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if len(cells) == 4:
                yield cells


def test_every_working_row_names_tests_that_exist():
    rows = list(_rows())
    assert len(rows) > 60
    for feature, _, status, tests in rows:
        if status.startswith(WORKS):
            assert tests, f"row {feature!r} works ({status}) but names no test"
        for name in re.findall(r"[\w/]+\.py", tests):
            assert (ROOT / "tests" / name).is_file(), f"row {feature!r} names {name}, which does not exist"
    assert not [f for f, _, status, _ in rows if status.startswith("not yet")]
