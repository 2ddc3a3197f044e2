"""The CLI side of trusted plans without a server: secrets in the review, provenance, staleness, usage errors."""

from __future__ import annotations

import json
import os
import subprocess

from cli_workspace import Workspace, one_error_line

CONFIG = """
task "db" {
  backend = "local",
  env = { DB_PASSWORD = essh.secret("DB_PASS"), PLAIN = "x" },
  script = "echo pw=$DB_PASSWORD plain=$PLAIN",
}
task "other" { backend = "local", script = "echo inherited=$(env | grep -c ^ESSH_SECRET_)" }
"""


def test_show_prints_the_secret_reference_never_a_value(ws: Workspace):
    ws.write(".esshconfig.lua", CONFIG)
    planned = ws.essh("plan", "db", "-o", "plan.bin", env={"ESSH_SECRET_DB_PASS": "hunter2"})
    assert planned.returncode == 0, planned.stderr
    assert b"hunter2" not in (ws.path / "plan.bin").read_bytes()
    shown = ws.essh("show", "plan.bin")
    assert "secret env: DB_PASSWORD = (secret DB_PASS)" in shown.stdout
    assert "Unsigned" in shown.stdout and " ago) by " in shown.stdout
    verbose = ws.essh("show", "--verbose", "plan.bin")
    assert "export DB_PASSWORD='(secret DB_PASS)'" in verbose.stdout
    applied = ws.essh("apply", "plan.bin", env={"ESSH_SECRET_DB_PASS": "hunter2"})
    assert applied.returncode == 0, applied.stderr
    assert "pw=*** plain=x" in applied.stdout and "hunter2" not in applied.stdout + applied.stderr
    other = ws.essh("run", "other", env={"ESSH_SECRET_DB_PASS": "hunter2"})
    assert "inherited=0" in other.stdout  # a local step gets only the secrets its task asks for


def test_a_secret_name_must_be_a_word(ws: Workspace):
    ws.write(".esshconfig.lua", 'task "t" { backend = "local", env = { X = essh.secret("no-dash") }, script = "true" }\n')
    done = ws.essh("plan", "t")
    assert done.returncode == 2 and "essh.secret expects a name" in one_error_line(done)


def test_getenv_of_a_secret_looking_name_warns(ws: Workspace):
    ws.write(".esshconfig.lua", 'local t = os.getenv("API_TOKEN")\nlocal h = os.getenv("HOME")\n'
             'task "t" { backend = "local", script = "true" }\n')
    done = ws.essh("plan", "t", env={"API_TOKEN": "abc"})
    assert "warning: os.getenv('API_TOKEN') was read while planning" in done.stdout + done.stderr
    assert "essh.secret('API_TOKEN')" in done.stdout + done.stderr
    assert "HOME" not in done.stdout + done.stderr


def test_a_changed_configuration_is_said_and_refused_with_refuse_stale(ws: Workspace):
    ws.write(".esshconfig.lua", 'task "t" { backend = "local", script = "echo ran" }\n')
    assert ws.essh("plan", "t", "-o", "plan.bin").returncode == 0
    same = ws.essh("apply", "plan.bin")
    assert same.returncode == 0 and "configuration changed" not in same.stderr
    ws.write(".esshconfig.lua", 'task "t" { backend = "local", script = "echo changed" }\n')
    warned = ws.essh("apply", "plan.bin")
    assert warned.returncode == 0 and "ran" in warned.stdout
    assert "warning: configuration changed since the plan was made: .esshconfig.lua" in warned.stderr
    refused = ws.essh("apply", "plan.bin", "--refuse-stale")
    assert refused.returncode == 2 and "plan is stale" in one_error_line(refused)


def test_apply_prints_digest_age_and_maker(ws: Workspace):
    ws.write(".esshconfig.lua", 'task "t" { backend = "local", script = "true" }\n')
    ws.essh("plan", "t", "-o", "plan.bin", "--", "arg1")
    done = ws.essh("apply", "plan.bin")
    digest = json.loads(ws.essh("show", "--json", "plan.bin").stdout)["digest"]
    assert f"Plan sha256 {digest}" in done.stderr
    assert "ago) by " in done.stderr and "for: t -- arg1" in done.stderr
    assert ws.essh("apply", "plan.bin", "--expect-digest", digest).returncode == 0


def test_reproducible_plans_record_no_maker(ws: Workspace):
    ws.write(".esshconfig.lua", 'task "t" { backend = "local", script = "true" }\n')
    ws.essh("plan", "t", "-o", "a.bin", env={"SOURCE_DATE_EPOCH": "1700000000"})
    ws.essh("plan", "t", "-o", "b.bin", env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert (ws.path / "a.bin").read_bytes() == (ws.path / "b.bin").read_bytes()
    assert " by " not in ws.essh("show", "a.bin").stdout.split("Made ")[1]


def test_usage_errors(ws: Workspace):
    ws.write(".esshconfig.lua", 'task "t" { backend = "local", script = "true" }\n')
    no_out = ws.essh("plan", "t", "--sign-key", "k")
    assert no_out.returncode == 2 and "-o FILE" in one_error_line(no_out)
    ws.essh("plan", "t", "-o", "plan.bin")
    age = ws.essh("apply", "plan.bin", "--max-age", "tomorrow")
    assert age.returncode == 2 and "not a duration" in one_error_line(age)
    nothing = ws.essh("sign", "plan.bin")
    assert nothing.returncode == 2 and "--sign-key" in one_error_line(nothing)
    missing = ws.essh("sign", "plan.bin", "--sign-key", "nokey")
    assert missing.returncode == 2 and "cannot read signing key nokey" in one_error_line(missing)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pass", "-f", str(ws.path / "enc")], check=True)
    encrypted = ws.essh("sign", "plan.bin", "--sign-key", "enc")
    assert encrypted.returncode == 2 and "is encrypted: add it to ssh-agent" in one_error_line(encrypted)
    needs = ws.essh("apply", "plan.bin", "--require-signature")
    assert needs.returncode == 2 and "needs --allowed-signers" in one_error_line(needs)
    assert os.stat(ws.path / "plan.bin").st_mode & 0o777 == 0o600
