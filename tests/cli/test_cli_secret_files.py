"""Secrets outside a task's env, through the real command and real sshd: in a host's props and in an
upload's contents. The plan holds the names only (no value, no digest of a file that holds one); the
step and the file get the values; the terminal, the report and the logs show `***`."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from pathlib import Path

import pytest
from cli_workspace import Workspace, one_error_line



def _config(sshd, dest: Path) -> str:
    options = ", ".join(f'{k} = "{v}"' for k, v in sshd.schema_host("web-1").ssh_options)
    return f"""
host "web-1" {{ {options}, props = {{ role = "db", dbp = essh.secret("DB_PASS") }} }}
task "conf" {{
  targets = "web-1",
  files = {{
    {{ content = {{ "user=app\\npassword=", essh.secret("DB_PASS"), "\\napi=", essh.secret("API_TOKEN"), "\\n" }},
       dest = "{dest}/db.conf" }},
  }},
  script = "echo role=$ESSH_HOST_PROPS_ROLE prop=$ESSH_HOST_PROPS_DBP; cat {dest}/db.conf",
}}
"""


@pytest.mark.sshd
def test_secrets_in_host_props_and_upload_contents(ws: Workspace, sshd, dest):
    ws.write(".esshconfig.lua", _config(sshd, dest))
    values = {"ESSH_SECRET_DB_PASS": "pw-5f1c2a9e", "ESSH_SECRET_API_TOKEN": "tok-77aa01"}
    whole = b"user=app\npassword=pw-5f1c2a9e\napi=tok-77aa01\n"
    planned = ws.essh("plan", "conf", "-o", "plan.bin", env=values)
    assert planned.returncode == 0, planned.stderr
    data = (ws.path / "plan.bin").read_bytes()
    assert b"pw-5f1c2a9e" not in data and b"tok-77aa01" not in data
    assert hashlib.sha256(whole).hexdigest().encode() not in data
    shown = ws.essh("show", "plan.bin", "--verbose").stdout
    assert "| password=(secret DB_PASS)" in shown and "| api=(secret API_TOKEN)" in shown
    assert "secret env: ESSH_HOST_PROPS_DBP = (secret DB_PASS)" in shown
    assert f"upload {dest}/db.conf mode 0600" in shown  # a secret's file is the user's alone by default

    missing = ws.essh("apply", "plan.bin")
    assert missing.returncode == 2 and "essh: missing secrets: API_TOKEN, DB_PASS;" in missing.stderr.splitlines()[-1]

    applied = ws.essh("apply", "plan.bin", "--report", "report.json", "--log-dir", "logs", env=values)
    assert applied.returncode == 0, applied.stderr
    assert (dest / "db.conf").read_bytes() == whole
    assert stat.S_IMODE((dest / "db.conf").stat().st_mode) == 0o600
    assert "role=db prop=***" in applied.stdout and "password=***" in applied.stdout and "api=***" in applied.stdout
    shown_anywhere = applied.stdout + applied.stderr + (ws.path / "report.json").read_text() + "".join(
        p.read_text() for p in (ws.path / "logs").rglob("*") if p.is_file())
    assert "pw-5f1c2a9e" not in shown_anywhere and "tok-77aa01" not in shown_anywhere
    report = json.loads((ws.path / "report.json").read_text())
    assert report["steps"][0]["files"][0]["action"] == "created"

    again = ws.essh("apply", "plan.bin", "--report", "again.json", env=values)
    assert again.returncode == 0, again.stderr
    assert json.loads((ws.path / "again.json").read_text())["steps"][0]["files"][0]["action"] == "unchanged"

    rotated = ws.essh("apply", "plan.bin", "--report", "rotated.json", env={**values, "ESSH_SECRET_DB_PASS": "pw-new-0c3d"})
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads((ws.path / "rotated.json").read_text())["steps"][0]["files"][0]["action"] == "updated"
    assert b"password=pw-new-0c3d\n" in (dest / "db.conf").read_bytes()


@pytest.mark.sshd
def test_refresh_never_reads_a_file_that_holds_a_secret(ws: Workspace, sshd, dest):
    (dest / "db.conf").write_text("user=app\npassword=old-secret-93e1\napi=x\n")
    shutil.chown(dest / "db.conf", "essh-test")
    (dest / "db.conf").chmod(0o600)
    ws.write(".esshconfig.lua", _config(sshd, dest))
    refreshed = ws.essh("plan", "conf", "--refresh", "-o", "plan.bin")
    assert refreshed.returncode == 0, refreshed.stderr
    assert f"? {dest}/db.conf: its contents hold secrets: compared when the plan is applied" in refreshed.stdout
    assert "1 with secrets compared when applied" in refreshed.stdout
    data = (ws.path / "plan.bin").read_bytes()
    old = (dest / "db.conf").read_bytes()
    assert b"old-secret-93e1" not in data + refreshed.stdout.encode()
    assert hashlib.sha256(old).hexdigest().encode() not in data


def test_a_secret_in_a_template_or_a_bad_content_is_a_config_error(ws: Workspace):
    ws.write(".esshconfig.lua", 'host "h" { HostName = "127.0.0.1" }\n'
             'task "t" { targets = "h", files = { { content = { "a", 3 }, dest = "/x" } } }\n')
    bad = ws.essh("plan", "t")
    assert bad.returncode == 2 and ".esshconfig.lua:2:" in one_error_line(bad) and "content[2]" in one_error_line(bad)
    ws.write(".esshconfig.lua", 'host "h" { HostName = "127.0.0.1" }\n'
             'task "t" { targets = "h", files = { { content = essh.secret("K"), dest = "/k", mode = "0644" } } }\n')
    warned = ws.essh("plan", "t")
    assert warned.returncode == 0 and "warning: /k: holds a secret, and mode 0644 lets every user on the host read it" in warned.stdout + warned.stderr
