"""Uploads streamed on the step's channel, against the real sshd fleet: a task `user` other than
root uploads and downloads as that user; Ctrl-C mid-upload leaves the old file and no temporary
file (a lost connection: `test_apply_files.py`); a source that changes while it is sent is
refused; a directory upload creates missing folders; the digest of a source is taken once per
run, and not shared when the file was modified too recently."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sshd import _ensure_user
from test_apply_files import apply, hosts_lua, plan_of, shared  # noqa: F401 - shared is a fixture

from essh.executor.ssh_upload import RACY_SECONDS, Sources
from essh.planner.loader import load_config
from essh.planner.resolve import make_plan
from essh.schema import Report, decode_report_json, write_plan

pytestmark = pytest.mark.sshd

OTHER = "essh-files-other"


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".essh-" in p.name)


def _no_temporaries(folder: Path, within: float = 10.0) -> bool:
    """Whether `folder` holds no upload temporary file (waiting for the host's own clean-up)."""
    deadline = time.monotonic() + within
    while _temporaries(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _temporaries(folder)


def _big_upload_plan(sshd, shared: Path, dest: Path, host: str = "web-1", mb: int = 512):
    src = shared / "big.bin"
    with open(src, "wb") as f:
        f.truncate(mb * 1024 * 1024)
    dest.write_text("old\n")
    dest.chmod(0o666)
    config = shared / "config.lua"
    config.write_text(hosts_lua(sshd) + f'task "conf" {{ targets = "{host}", files = {{ {{ upload = "big.bin", dest = "{dest}" }} }} }}')
    return make_plan(load_config([str(config)]), ["conf"], essh_version="test", created_at=0)


def _wait_for_bytes(folder: Path, within: float = 30.0) -> None:
    """Until an upload's temporary file in `folder` has received some bytes."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for p in folder.iterdir():
            try:
                if ".essh-" in p.name and p.stat().st_size > 0:
                    return
            except FileNotFoundError:
                pass
        time.sleep(0.005)
    raise AssertionError("the upload never started")


def test_a_task_user_uploads_and_downloads_as_that_user(sshd, shared):
    _ensure_user(OTHER)
    other = pwd.getpwnam(OTHER)
    box = shared / "box"  # only the other user may enter it: not the login user, and not through root's files
    box.mkdir()
    os.chown(box, other.pw_uid, other.pw_gid)
    box.chmod(0o700)
    private = box / "private.log"
    private.write_text("only for the other user\n")
    os.chown(private, other.pw_uid, other.pw_gid)
    private.chmod(0o600)
    plan = plan_of(sshd, shared, f"""
    task "conf" {{
      targets = "web-1",
      user = "{OTHER}",
      files = {{
        {{ content = "mine\\n", dest = "{box}/conf", mode = "0640" }},
        {{ download = "{private}", dest = "{shared}/got/{{{{.Host.Name}}}}.log" }},
      }},
    }}
    """)
    report, err = apply(plan)
    assert report.exit_code == 0, (err, report.steps)
    st = (box / "conf").stat()
    assert (st.st_uid, st.st_mode & 0o7777) == (other.pw_uid, 0o640)
    assert (box / "conf").read_text() == "mine\n"
    assert (shared / "got" / "web-1.log").read_text() == "only for the other user\n"
    assert [f.action for f in report.steps[0].files] == ["created", "downloaded"]
    assert _temporaries(box) == [] and _temporaries(shared / "got") == []
    again, _ = apply(plan)
    assert [f.action for f in again.steps[0].files] == ["unchanged", "downloaded"]


def test_a_task_user_cannot_write_where_that_user_may_not(sshd, shared):
    _ensure_user(OTHER)
    plan = plan_of(sshd, shared, f"""
    task "conf" {{ targets = "web-1", user = "{OTHER}", files = {{ {{ content = "x", dest = "/root/essh-other-denied" }} }} }}
    """)
    report, _ = apply(plan)
    (step,) = report.steps
    assert step.status == "failed" and step.kind == "file_error"
    assert "cannot create a temporary file beside it" in (step.error or "") and "Permission denied" in (step.error or "")


def test_ctrl_c_mid_upload_keeps_the_old_file_removes_the_temporary_and_writes_the_report(sshd, shared):
    dest = shared / "big.out"
    plan = _big_upload_plan(sshd, shared, dest)
    write_plan(str(shared / "plan.bin"), plan)
    process = subprocess.Popen(
        [sys.executable, "-m", "essh", "apply", str(shared / "plan.bin"), "--report", str(shared / "report.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    _wait_for_bytes(shared)
    process.send_signal(signal.SIGINT)  # the first stops new starts; the second cancels the running upload
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    report = decode_report_json((shared / "report.json").read_bytes())
    assert report.interrupted and report.exit_code == 130
    assert [s.status for s in report.steps] == ["cancelled"]
    assert dest.read_text() == "old\n"
    assert _no_temporaries(shared), _temporaries(shared)


def test_a_source_that_changes_while_it_is_sent_is_refused(sshd, shared):
    dest = shared / "big.out"
    plan = _big_upload_plan(sshd, shared, dest, mb=256)
    result: list[Report] = []
    runner = threading.Thread(target=lambda: result.append(apply(plan)[0]))
    runner.start()
    _wait_for_bytes(shared)
    with open(shared / "big.bin", "r+b") as f:  # same size, other contents, near the end
        f.seek(250 * 1024 * 1024)
        f.write(b"changed")
    runner.join(60)
    (step,) = result[0].steps
    assert step.status == "failed" and "changed since the plan was made" in (step.error or ""), step
    assert dest.read_text() == "old\n"
    assert _no_temporaries(shared), _temporaries(shared)


def test_a_source_is_hashed_once_per_run_unless_it_was_modified_too_recently(tmp_path):
    import asyncio
    import hashlib

    from essh.executor.ssh_upload import _identity

    path = tmp_path / "src"
    path.write_bytes(b"x" * 100_000)

    async def main() -> None:
        sources = Sources()
        identity = _identity(os.stat(path))
        later = time.time_ns() + int(RACY_SECONDS * 1e9) * 2  # as if planned a while ago
        first = sources.digest(str(path), identity, later)
        assert sources.digest(str(path), identity, later) is first  # shared, at once or later
        digest, hashed = await first
        assert digest == hashlib.sha256(b"x" * 100_000).hexdigest() and hashed == identity
        path.write_bytes(b"y" * 100_000)  # modified now: another identity, and too recent to share
        fresh = _identity(os.stat(path))
        assert fresh != identity
        a, b = sources.digest(str(path), fresh, time.time_ns()), sources.digest(str(path), fresh, time.time_ns())
        assert a is not b and (await a)[0] == (await b)[0] == hashlib.sha256(b"y" * 100_000).hexdigest()
        far = time.time_ns() + int(RACY_SECONDS * 1e9) * 2  # once the change is old enough, shared again
        assert sources.digest(str(path), fresh, far) is sources.digest(str(path), fresh, far)

    asyncio.run(main())


def test_a_directory_upload_creates_missing_folders_and_a_second_run_changes_nothing(sshd, shared):
    site = shared / "local" / "site"
    (site / "css").mkdir(parents=True)
    (site / "index.html").write_text("<h1>hi</h1>\n")
    (site / "css" / "main.css").write_text("body {}\n")
    remote = shared / "remote"
    remote.mkdir(mode=0o777)
    remote.chmod(0o777)
    plan = plan_of(sshd, shared / "local", f"""
    task "conf" {{ targets = "web-*", files = {{ {{ upload = "site", dest = "{remote}/{{{{.Host.Name}}}}/www" }} }} }}
    """)
    report, err = apply(plan)
    assert report.exit_code == 0, err
    for host in ("web-1", "web-2"):
        assert (remote / host / "www" / "index.html").read_text() == "<h1>hi</h1>\n"
        assert (remote / host / "www" / "css" / "main.css").read_text() == "body {}\n"
    assert [f.action for f in report.steps[0].files] == ["created", "created"]
    again, _ = apply(plan)
    assert [f.action for f in again.steps[0].files] == ["unchanged", "unchanged"] and again.steps[0].changed is False
