"""`essh apply --once` against real sshd: a host that had the plan is skipped, a failed host is not marked.

The mark lives under the login user's home, per plan digest and host name
(executor/once.py); every apply here runs the real `essh` command.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import msgspec
import pytest

from essh.schema import decode_report_json, encode_plan, payload_digest

from plans import PlanBuilder
from test_apply import shared  # noqa: F401 - a fixture

pytestmark = pytest.mark.sshd


def essh(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESSH_", "SSH_AUTH_SOCK"))}
    return subprocess.run([sys.executable, "-m", "essh", *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=120)


def test_once_skips_hosts_that_had_the_plan_and_retries_those_that_failed(sshd, shared, tmp_path):
    tag = uuid.uuid4().hex[:8]
    runs, fail = shared / f"runs-{tag}", shared / f"fail-{tag}"
    b = PlanBuilder([sshd.schema_host("web-1"), sshd.schema_host("web-2")])
    a = b.task("a", f'echo "a $ESSH_HOSTNAME" >> {runs}; test ! -e {fail}-$ESSH_HOSTNAME', hosts=["web-1", "web-2"],
               on_error="continue", parallel=0)
    b.task("b", f'echo "b $ESSH_HOSTNAME" >> {runs}', hosts=["web-1", "web-2"], after=(a,), parallel=0)
    plan = b.build()
    plan = msgspec.structs.replace(plan, meta=msgspec.structs.replace(plan.meta, created_at=int(time.time())))
    path = shared / f"once-{tag}.bin"
    path.write_bytes(encode_plan(plan))
    digest = payload_digest(path.read_bytes())
    home = Path(pwd.getpwnam(sshd.user).pw_dir)
    marks = home / ".local/state/essh/applied" / digest
    (Path(f"{fail}-web-2")).touch()
    try:
        first = essh("apply", str(path), "--once", "--report", str(tmp_path / "r1.json"))
        assert first.returncode == 1, first.stderr
        assert sorted(runs.read_text().splitlines()) == ["a web-1", "a web-2", "b web-1", "b web-2"]
        assert len(list(marks.iterdir())) == 1  # web-1 only: web-2 failed a step
        assert oct(marks.parent.stat().st_mode & 0o777) == "0o700"

        Path(f"{fail}-web-2").unlink()
        runs.write_text("")
        second = essh("apply", str(path), "--once", "--report", str(tmp_path / "r2.json"))
        assert second.returncode == 0, second.stderr
        assert sorted(runs.read_text().splitlines()) == ["a web-2", "b web-2"]
        assert "web-1: this plan was already applied here: skipped (--once)" in second.stderr
        report = decode_report_json((tmp_path / "r2.json").read_bytes())
        statuses = {(s.task, s.host): s.status for s in report.steps}
        assert statuses == {("a", "web-1"): "skipped", ("b", "web-1"): "skipped",
                            ("a", "web-2"): "succeeded", ("b", "web-2"): "succeeded"}
        assert len(list(marks.iterdir())) == 2

        runs.write_text("")
        third = essh("apply", str(path), "--once", "--report", str(tmp_path / "r3.json"))
        assert third.returncode == 0, third.stderr
        assert runs.read_text() == ""
        assert "web-2: this plan was already applied here" in third.stderr

        again = essh("apply", str(path), "--report", str(tmp_path / "r4.json"))  # without --once: a plain apply
        assert again.returncode == 0, again.stderr
        assert sorted(runs.read_text().splitlines()) == ["a web-1", "a web-2", "b web-1", "b web-2"]
    finally:
        shutil.rmtree(marks, ignore_errors=True)
