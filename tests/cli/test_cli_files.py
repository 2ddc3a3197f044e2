"""File operations through the real command: `essh plan --refresh -o`, `essh show`, `essh apply`, config errors."""

from __future__ import annotations

import json
import shutil

import pytest
from cli_workspace import Workspace, one_error_line


def _hosts(sshd) -> str:
    lines = []
    for name in ("web-1", "web-2"):
        options = ", ".join(f'{k} = "{v}"' for k, v in sshd.schema_host(name).ssh_options)
        lines.append(f'host "{name}" {{ {options} }}')
    return "\n".join(lines) + "\n"



@pytest.mark.sshd
def test_refresh_review_show_and_apply(ws: Workspace, sshd, dest):
    (dest / "web-1.conf").write_text("port = 81\n")
    shutil.chown(dest / "web-1.conf", "essh-test")
    ws.write("files/app.tmpl", "port = 80\n")
    ws.write(".esshconfig.lua", _hosts(sshd) + f"""
task "conf" {{
  targets = "web-*",
  files = {{ {{ template = "files/app.tmpl", dest = "{dest}/{{{{.Host.Name}}}}.conf", mode = "0644" }} }},
}}
""")
    result = ws.essh("plan", "conf", "--refresh", "-o", "plan.bin")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"template {dest}/web-1.conf mode 0644, 10 bytes" in out
    assert f"~ update {dest}/web-1.conf" in out and "-port = 81" in out and "+port = 80" in out
    assert f"+ create {dest}/web-2.conf" in out
    assert "Changes: 1 to create, 1 to change, 0 unchanged." in out
    assert not (dest / "web-2.conf").exists()  # planning wrote nothing

    shown = ws.essh("show", "plan.bin", "--verbose")
    assert shown.returncode == 0 and "| port = 80" in shown.stdout
    doc = json.loads(ws.essh("show", "plan.bin", "--json").stdout)
    assert doc["operations"][0]["kind"] == "upload" and doc["steps"][0]["observed"][0]["exists"] is True

    applied = ws.essh("apply", "plan.bin", "--report", "report.json")
    assert applied.returncode == 0, applied.stderr
    assert "Files: 2 steps changed files, 0 unchanged." in applied.stderr
    report = json.loads((ws.path / "report.json").read_text())
    assert [s["files"][0]["action"] for s in report["steps"]] == ["updated", "created"]
    assert (dest / "web-2.conf").read_text() == "port = 80\n"


def test_a_missing_upload_source_is_a_config_error(ws: Workspace):
    ws.write(".esshconfig.lua", 'host "h" { HostName = "127.0.0.1" }\ntask "t" {\n  targets = "h",\n  files = { { upload = "nope", dest = "/x" } },\n}\n')
    result = ws.essh("plan", "t")
    assert result.returncode == 2
    line = one_error_line(result)
    assert ".esshconfig.lua:2" in line and "cannot read" in line and "nope" in line


@pytest.mark.sshd
def test_refresh_strict_refuses_an_unreachable_host(ws: Workspace, sshd, dest):
    down = sshd.closed_port_host("down-1")
    options = ", ".join(f'{k} = "{v}"' for k, v in down.ssh_options)
    ws.write(".esshconfig.lua", _hosts(sshd) + f'host "down-1" {{ {options} }}\n' + f"""
task "conf" {{ targets = ["web-1", "down-1"], files = {{ {{ content = "x", dest = "{dest}/x" }} }} }}
""")
    lenient = ws.essh("plan", "conf", "--refresh")
    assert lenient.returncode == 0, lenient.stderr
    assert "down-1: unreachable, not observed" in lenient.stdout
    strict = ws.essh("plan", "conf", "--refresh", "--strict", "-o", "plan.bin")
    assert strict.returncode == 1
    assert "--strict: not every host could be looked at (down-1); no plan was saved" in one_error_line(strict)
    assert not (ws.path / "plan.bin").exists()
