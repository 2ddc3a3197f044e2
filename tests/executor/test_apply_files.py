"""File operations against the real sshd fleet: upload, template and download on several hosts,
idempotence (`changed`), `plan --refresh` (read-only, stale refusal), privileged uploads, faults."""

from __future__ import annotations

import hashlib
import io
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from essh.executor.apply import ApplyOptions, apply_plan
from essh.executor.observe import refresh_plan
from essh.planner.loader import load_config
from essh.planner.resolve import make_plan
from essh.schema import Plan, Report, decode_plan, encode_plan, payload_digest

pytestmark = pytest.mark.sshd

WEB = ["web-1", "web-2"]


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder the test user (on the 'hosts') and the test (here) both write to."""
    path = Path(tempfile.mkdtemp(prefix="essh-files-"))
    path.chmod(0o777)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def hosts_lua(sshd, names=WEB) -> str:
    out = []
    for name in names:
        options = ", ".join(f'{k} = "{v}"' for k, v in sshd.schema_host(name).ssh_options)
        out.append(f'host "{name}" {{ {options} }}')
    return "\n".join(out) + "\n"


def plan_of(sshd, folder: Path, tasks_lua: str, request=("conf",), names=WEB) -> Plan:
    config = folder / "config.lua"
    config.write_text(hosts_lua(sshd, names) + tasks_lua)
    return make_plan(load_config([str(config)]), list(request), essh_version="test", created_at=0)


def apply(plan: Plan, **options) -> tuple[Report, str]:
    data = encode_plan(plan)
    out, err = io.BytesIO(), io.BytesIO()
    report = apply_plan(decode_plan(data), payload_digest(data), ApplyOptions(**options), stdout=out, stderr=err).report
    return report, err.getvalue().decode()


def test_upload_template_download_on_several_hosts_and_a_second_run_changes_nothing(sshd, shared):
    local = shared / "local"
    local.mkdir()
    (local / "files").mkdir()
    (local / "files" / "app.conf").write_text("port = 80\n")
    (local / "files" / "host.tmpl").write_text("I am {{.Host.Name}}\n")
    remote = shared / "remote"
    remote.mkdir(mode=0o777)
    remote.chmod(0o777)
    for name in WEB:
        (remote / f"{name}.log").write_text(f"log of {name}\n")
    plan = plan_of(sshd, local, f"""
    task "conf" {{
      targets = "web-*",
      files = {{
        {{ upload = "files/app.conf", dest = "{remote}/{{{{.Host.Name}}}}/app.conf", mode = "0640" }},
        {{ template = "files/host.tmpl", dest = "{remote}/{{{{.Host.Name}}}}/host" }},
        {{ download = "{remote}/{{{{.Host.Name}}}}.log", dest = "{local}/logs/{{{{.Host.Name}}}}/app.log" }},
      }},
      script = "cat {remote}/$ESSH_HOSTNAME/host",
    }}
    """)
    for name in WEB:
        (remote / name).mkdir()
        (remote / name).chmod(0o777)
    report, err = apply(plan)
    assert report.exit_code == 0, err
    for name in WEB:
        assert (remote / name / "app.conf").read_text() == "port = 80\n"
        assert (remote / name / "app.conf").stat().st_mode & 0o7777 == 0o640
        assert (remote / name / "host").read_text() == f"I am {name}\n"
        assert (local / "logs" / name / "app.log").read_text() == f"log of {name}\n"
        assert not [p for p in (remote / name).iterdir() if ".essh-" in p.name]  # no temporary file left
    assert [r.changed for r in report.steps] == [True, True]
    assert [f.action for f in report.steps[0].files] == ["created", "created", "downloaded"]
    assert report.steps[0].files[2].sha256 == hashlib.sha256(b"log of web-1\n").hexdigest()
    assert "I am web-1" in report.steps[0].stdout_tail

    again, err = apply(plan)
    assert again.exit_code == 0, err
    assert [[f.action for f in r.files] for r in again.steps] == [["unchanged", "unchanged", "downloaded"]] * 2
    assert again.totals.changed == 2  # the downloads are written again
    before = {name: (remote / name / "app.conf").stat().st_ino for name in WEB}
    apply(plan)
    assert before == {name: (remote / name / "app.conf").stat().st_ino for name in WEB}  # never rewritten


def _snapshot(folder: Path) -> dict[str, tuple[int, int, int, bytes]]:
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            st = path.lstat()
            out[str(path)] = (st.st_mode, st.st_uid, st.st_mtime_ns, path.read_bytes() if path.is_file() else b"")
    return out


def test_refresh_shows_create_update_unchanged_and_changes_nothing_remotely(sshd, shared):
    from essh.refresh import render_refresh

    dest = shared / "dest"
    dest.mkdir()
    dest.chmod(0o777)
    (dest / "same").write_text("same\n")
    (dest / "same").chmod(0o644)
    (dest / "old").write_text("line 1\nold line\n")
    (dest / "old").chmod(0o600)
    for path in dest.iterdir():
        shutil.chown(path, "essh-test", "essh-test")
    plan = plan_of(sshd, shared, f"""
    task "conf" {{
      targets = "web-1",
      files = {{
        {{ content = "same\\n", dest = "{dest}/same" }},
        {{ content = "line 1\\nnew line\\n", dest = "{dest}/old", mode = "0644" }},
        {{ content = "fresh\\n", dest = "{dest}/new" }},
      }},
    }}
    """)
    before = _snapshot(dest)
    result = refresh_plan(plan)
    assert _snapshot(dest) == before  # read-only: nothing created, changed or touched
    text = "\n".join(render_refresh(result))
    assert "= unchanged " + str(dest / "same") in text
    assert "~ update " + str(dest / "old") in text and "mode 0600 -> 0644" in text
    assert "-old line" in text and "+new line" in text
    assert "+ create " + str(dest / "new") in text
    assert "Changes: 1 to create, 1 to change, 1 unchanged." in text
    refreshed = decode_plan(encode_plan(result.plan))
    assert refreshed.meta.refreshed_at is not None
    assert [o.exists for o in refreshed.steps[0].observed] == [True, True, False]

    # Someone edits a file between the review and the apply: that upload is refused, nothing written.
    (dest / "old").write_text("edited by hand\n")
    report, err = apply(refreshed)
    (step,) = report.steps
    assert step.status == "failed" and step.kind == "stale", err
    assert "changed on the host since the plan was made" in (step.error or "")
    assert (dest / "old").read_text() == "edited by hand\n"
    assert [f.action for f in step.files] == ["unchanged"]
    # --force writes it anyway.
    forced, _ = apply(refreshed, force=True)
    assert forced.exit_code == 0 and (dest / "old").read_text() == "line 1\nnew line\n"


def test_privileged_upload_is_owned_by_root_with_no_readable_window(sshd, shared):
    dest = shared / "root-only"
    plan = plan_of(sshd, shared, f"""
    task "conf" {{
      targets = "web-1",
      privileged = true,
      files = {{ {{ content = "secret\\n", dest = "{dest}", mode = "0600", owner = "root", group = "root" }} }},
    }}
    """)
    report, err = apply(plan)
    assert report.exit_code == 0, err
    st = dest.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o600)
    assert dest.read_text() == "secret\n"
    home = Path(pwd.getpwnam("essh-test").pw_dir)
    assert not list(home.glob(".essh-upload-*"))  # the staged copy is gone
    again, _ = apply(plan)
    assert [f.action for f in again.steps[0].files] == ["unchanged"] and again.steps[0].changed is False


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("/root/essh-denied", "Permission denied"),
        ("{shared}/missing-folder/file", "No such file"),
    ],
)
def test_faults_fail_the_step_with_the_reason_and_leave_nothing_behind(sshd, shared, where, reason):
    dest = where.format(shared=shared)
    plan = plan_of(sshd, shared, f'task "conf" {{ targets = "web-1", files = {{ {{ content = "x", dest = "{dest}" }} }} }}')
    report, _ = apply(plan)
    (step,) = report.steps
    assert step.status == "failed" and step.kind == "file_error"
    assert dest in (step.error or "") and reason in (step.error or "")
    assert not Path(dest).exists()


def test_a_changed_destination_keeps_the_old_file_when_the_upload_fails(sshd, shared):
    dest = shared / "keep"
    dest.write_text("old\n")
    dest.chmod(0o666)
    plan = plan_of(sshd, shared, f"""
    task "conf" {{ targets = "web-1", files = {{ {{ content = "new\\n", dest = "{dest}", owner = "root" }} }} }}
    """)
    report, _ = apply(plan)  # the login user cannot give the file to root: chown fails after the write
    (step,) = report.steps
    assert step.status == "failed" and "cannot set its owner or group" in (step.error or "")
    assert dest.read_text() == "old\n"
    assert [p.name for p in shared.iterdir() if ".essh-" in p.name] == []


def test_a_missing_remote_file_fails_the_download_with_a_clear_reason(sshd, shared):
    plan = plan_of(sshd, shared, f"""
    task "conf" {{ targets = "web-1", files = {{ {{ download = "{shared}/nope.log", dest = "{shared}/got/{{{{.Host.Name}}}}" }} }} }}
    """)
    report, _ = apply(plan)
    (step,) = report.steps
    assert step.status == "failed" and step.kind == "file_error"
    assert f"cannot read {shared}/nope.log" in (step.error or "") and "No such file" in (step.error or "")
    assert not (shared / "got" / "web-1").exists()


def test_a_reference_whose_source_changed_is_refused(sshd, shared):
    src = shared / "big.bin"
    src.write_bytes(b"a" * 4096)
    dest = shared / "big.out"
    config = shared / "config.lua"
    config.write_text(hosts_lua(sshd) + f'task "conf" {{ targets = "web-1", files = {{ {{ upload = "big.bin", dest = "{dest}" }} }} }}')
    plan = make_plan(load_config([str(config)]), ["conf"], essh_version="test", created_at=0, inline_limit=1024)
    assert plan.files[0].source == str(src)
    src.write_bytes(b"b" * 4096)
    report, _ = apply(plan)
    (step,) = report.steps
    assert step.status == "failed" and "changed since the plan was made" in (step.error or "")
    assert not dest.exists()
    src.write_bytes(b"a" * 4096)
    ok, _ = apply(plan)
    assert ok.exit_code == 0 and dest.read_bytes() == b"a" * 4096


def test_a_version_1_plan_still_applies(sshd, shared):
    import hashlib as _h
    import struct

    import msgspec

    from essh.schema import MAGIC

    plan = plan_of(sshd, shared, f'task "conf" {{ targets = "web-1", script = "touch {shared}/v1-ran" }}')
    payload = msgspec.msgpack.encode(msgspec.structs.replace(plan, format_version=1))
    data = struct.pack(">8sHHQ32s", MAGIC, 1, 0, len(payload), _h.sha256(payload).digest()) + payload
    old = decode_plan(data)
    report = apply_plan(old, payload_digest(data), ApplyOptions(), stdout=io.BytesIO(), stderr=io.BytesIO()).report
    assert report.exit_code == 0 and (shared / "v1-ran").exists()
    assert report.steps[0].changed is None and report.steps[0].files == ()


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def test_a_connection_lost_mid_file_fails_the_step_and_keeps_the_old_file(sshd, shared):
    import signal
    import threading
    import time

    src = shared / "big.bin"
    with open(src, "wb") as f:
        f.truncate(256 * 1024 * 1024)
    dest = shared / "big.out"
    dest.write_text("old\n")
    dest.chmod(0o666)
    config = shared / "config.lua"
    config.write_text(hosts_lua(sshd) + f'task "conf" {{ targets = "web-2", files = {{ {{ upload = "big.bin", dest = "{dest}" }} }} }}')
    plan = make_plan(load_config([str(config)]), ["conf"], essh_version="test", created_at=0)
    result: list[Report] = []
    runner = threading.Thread(target=lambda: result.append(apply(plan)[0]))
    runner.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        staged = [p for p in shared.iterdir() if ".essh-" in p.name]
        if staged and staged[0].stat().st_size > 0:
            break
        time.sleep(0.005)
    kill_connections(sshd, "web-2")
    runner.join(60)
    (step,) = result[0].steps
    assert step.status == "unreachable" and step.kind == "connection_lost", step
    assert dest.read_text() == "old\n"
    deadline = time.monotonic() + 10  # the host's program sees its input end and removes its temporary file
    while [p for p in shared.iterdir() if ".essh-" in p.name] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p.name for p in shared.iterdir() if ".essh-" in p.name] == []


def kill_connections(sshd, name: str) -> None:
    """SIGKILL the sshd processes of every connection to server `name` (as a dropped network would
    end them); the server keeps listening, and the sessions' own programs see their input end."""
    import signal

    tree, todo = [], _children(sshd.servers[name].process.pid)
    while todo:
        pid = todo.pop()
        if Path(f"/proc/{pid}/comm").read_text().strip() == "sshd":
            tree.append(pid)
            todo.extend(_children(pid))
    for pid in tree:
        os.kill(pid, signal.SIGKILL)


def test_privileged_download_of_a_root_only_file(sshd, shared):
    secret = shared / "root-only.log"
    secret.write_text("for root\n")
    secret.chmod(0o600)
    plan = plan_of(sshd, shared, f"""
    task "conf" {{ targets = "web-1", privileged = true,
      files = {{ {{ download = "{secret}", dest = "{shared}/got/{{{{.Host.Name}}}}.log" }} }} }}
    """)
    report, err = apply(plan)
    assert report.exit_code == 0, err
    assert (shared / "got" / "web-1.log").read_text() == "for root\n"
    assert [f.action for f in report.steps[0].files] == ["downloaded"]


def test_refresh_reports_an_unreachable_host_and_goes_on(sshd, shared):
    from essh.refresh import render_refresh

    config = shared / "config.lua"
    down = sshd.closed_port_host("down-1")
    options = ", ".join(f'{k} = "{v}"' for k, v in down.ssh_options)
    config.write_text(hosts_lua(sshd, ["web-1"]) + f'host "down-1" {{ {options} }}\n'
                      + f'task "conf" {{ targets = ["web-1", "down-1"], files = {{ {{ content = "x", dest = "{shared}/x" }} }} }}')
    plan = make_plan(load_config([str(config)]), ["conf"], essh_version="test", created_at=0)
    result = refresh_plan(plan)
    text = "\n".join(render_refresh(result))
    assert "down-1: unreachable, not observed" in text
    assert "Changes: 1 to create, 0 to change, 0 unchanged (1 host unreachable: not observed)." in text
    assert [s.observed for s in result.plan.steps][0] == (None,)  # down-1 sorts first
    assert not (shared / "x").exists()


@pytest.fixture
def small_disk(shared: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs the test user can write to: a disk that fills up."""
    mount = shared / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0777", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_fails_the_step_and_keeps_the_old_file(sshd, shared, small_disk):
    dest = small_disk / "data"
    dest.write_text("old\n")
    dest.chmod(0o666)
    big = shared / "big.bin"
    big.write_bytes(b"z" * (3 * 1024 * 1024))
    config = shared / "config.lua"
    config.write_text(hosts_lua(sshd) + f'task "conf" {{ targets = "web-1", files = {{ {{ upload = "big.bin", dest = "{dest}" }} }} }}')
    plan = make_plan(load_config([str(config)]), ["conf"], essh_version="test", created_at=0)
    report, _ = apply(plan)
    (step,) = report.steps
    assert step.status == "failed" and step.kind == "file_error", step.error
    assert str(dest) in (step.error or "")
    assert dest.read_text() == "old\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["data"]  # the partial temporary file was removed
