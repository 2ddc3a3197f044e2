"""A reader that leaves early (`essh hosts | head -1`) or a closed stdout is not an
error: the command ends with its own exit code, quietly. Real pipes, real shells."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cli_workspace import Workspace

# Enough output to outgrow a pipe's buffer, so `head -1` leaves while essh still writes.
FLEET = """
for i = 1, 1500 do
    host("host-" .. i, { HostName = "10.0.0." .. (i % 250), description = "a host with a long description", tags = { "t" .. (i % 20), "fleet" } })
end
for i = 1, 60 do task("task-" .. i, { description = "a task with a long description", targets = "t" .. (i % 20), script = "echo hi" }) end
task "big" { targets = "fleet", script = "echo one\\necho two" }
"""

COMMANDS = [
    "hosts",
    "hosts --ssh-config",
    "tasks",
    "tags",
    "validate",
    "plan big",
    "plan big --verbose -o saved.bin",
    "plan big --json",
    "show --verbose plan.bin",
    "show --json plan.bin",
]

READERS = {"reader gone at once": "| true", "head -1": "| head -1", "closed": ">&-"}


def _essh_into(fleet: Workspace, command: str, reader: str) -> subprocess.CompletedProcess[str]:
    shell = f"{sys.executable} -m essh {command} {reader}; exit ${{PIPESTATUS[0]}}"
    env = {**os.environ, "HOME": str(fleet.path / "home"), "XDG_STATE_HOME": str(fleet.path / "state")}
    return subprocess.run(
        ["bash", "-c", shell], cwd=fleet.path, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
    )


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("fleet"))
    (ws.path / "home").mkdir()
    ws.write(".esshconfig.lua", FLEET)
    assert ws.essh("plan", "big", "-o", "plan.bin").returncode == 0
    return ws


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("command", COMMANDS)
def test_a_reader_that_leaves_is_not_an_error(fleet: Workspace, command: str, reader: str):
    (fleet.path / "saved.bin").unlink(missing_ok=True)
    result = _essh_into(fleet, command, READERS[reader])
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no traceback, no "internal error", no "Exception ignored"
    if "-o saved.bin" in command:
        assert (fleet.path / "saved.bin").read_bytes().startswith(b"ESSHPLAN")  # the plan is saved before it is shown


def test_the_issue_s_example_and_an_error_keeps_its_own_code(fleet: Workspace):
    shown = _essh_into(fleet, "show --verbose plan.bin", "| head -c 4000")
    assert (shown.returncode, shown.stderr) == (0, "")
    missing = _essh_into(fleet, "show nothing.bin", "| true")
    assert missing.returncode == 2 and missing.stderr.startswith("essh: cannot read plan file nothing.bin")
