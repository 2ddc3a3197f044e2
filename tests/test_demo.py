"""The README's main command runs its real example end to end (scripts/demo.sh minus the set-up)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.sshd


def test_demo_plans_shows_and_applies(tmp_path):
    env = {**os.environ, "DEMO_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "demo" / "run_demo.py")],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Saved the plan to plan.bin" in out and "essh apply plan.bin" in out
    assert "[remote:web-1] deploying release demo to web-1" in out
    assert "[remote:db-2]  up since" in out  # aligned with the longer names of the task
    assert "Apply finished" in result.stderr and "9 succeeded, 0 failed" in result.stderr
    assert (tmp_path / "dist" / "VERSION").read_text().startswith("release ")
