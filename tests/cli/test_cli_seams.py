"""Smaller seams of the command line: missing plan files, the places essh writes,
report names, and where exit codes come from."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cli_workspace import Workspace, one_error_line

from essh.places import reserve_default_report
from essh.schema import exit_codes

REPO = Path(__file__).resolve().parents[2]
TASK = 'task "hello" { backend = "local", script = "echo hello" }\n'


def test_apply_of_a_missing_plan_path_says_the_plan_file_is_missing(ws: Workspace):
    # No configuration here at all: the argument must not be taken for a task name.
    for word in ("artifacts/plan", "plan.bin", "./plan"):
        result = ws.essh("apply", word)
        assert result.returncode == 2
        assert one_error_line(result) == f"essh: cannot read plan file {word}: No such file or directory"


def test_apply_of_a_path_that_is_not_a_plan_file(ws: Workspace):
    ws.write("artifacts/notes.txt", "hello")
    result = ws.essh("apply", "artifacts/notes.txt")
    assert result.returncode == 2
    assert "not an essh plan file" in one_error_line(result)


def test_plan_out_creates_its_folders_private(ws: Workspace):
    ws.write(".esshconfig.lua", TASK)
    result = ws.essh("plan", "hello", "-o", "out/nested/plan.bin")
    assert result.returncode == 0, result.stderr
    assert (ws.path / "out" / "nested" / "plan.bin").read_bytes().startswith(b"ESSHPLAN")
    for folder in ("out", "out/nested"):
        assert (ws.path / folder).stat().st_mode & 0o777 == 0o700


def test_reports_of_the_same_plan_never_overwrite_each_other(ws: Workspace):
    ws.write(".esshconfig.lua", TASK)
    assert ws.essh("plan", "hello", "-o", "plan.bin").returncode == 0
    for _ in range(2):
        result = ws.essh("apply", "plan.bin")
        assert result.returncode == 0, result.stderr
    reports = sorted((ws.path / "state" / "essh" / "reports").iterdir())
    assert len(reports) == 2
    assert all(json.loads(p.read_text())["exit_code"] == 0 for p in reports)
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in reports)


def test_default_report_names_are_unique_and_sort_by_time(tmp_path):
    digest = "ab" * 32
    names = [reserve_default_report(tmp_path, digest) for _ in range(50)]  # many within one second
    assert len(set(names)) == 50 and all(p.exists() for p in names)
    stamps = [p.name.split("-")[0] for p in names]
    assert stamps == sorted(stamps)
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z-abababababab-[0-9a-f]{6}\.json", names[0].name)


def test_exit_codes_come_from_one_list_and_are_all_documented():
    codes = {name: value for name, value in vars(exit_codes).items() if name.startswith("EXIT_")}
    for path in sorted((REPO / "essh").glob("*.py")):
        text = path.read_text()
        assert not re.search(r"\b(Exit|exit)\(\s*\d", text), f"{path.name}: an exit code as a number"
        assert not re.search(r"^EXIT_\w+\s*=", text, re.M), f"{path.name}: a second list of exit codes"
    table = (REPO / "docs" / "cli.md").read_text().split("## Exit codes", 1)[1]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert documented == set(codes.values())
