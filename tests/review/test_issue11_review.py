"""Review of issue 11 (a bash login shell runs the step's bootstrap itself; `essh apply PLAN_FILE` without
typer; dataclasses turned msgspec Structs), as an adversary.

Four defects were found, each held by a test here, and fixed: a restricted bash (rbash) login shell ran
steps and reported refused work as success; BASH_VERSION in a dash session's environment made dash run the
bash bootstrap; the step ran in the login shell's bash rather than the `bash` PATH finds; and (older) a
`set -x` in .bashrc hid the pid line, so a timed-out step's processes were never ended. The other tests hold
what was tried and held up, where the suite did not already: the new exec request behaves as the old one (`exec bash -c
BOOTSTRAP`) for a bash login shell on real sshd, and Ctrl-C on the fast apply path ends as docs/cli.md says.
SSH tests use real sshd servers (tests/sshd.py) and real users with the login shell under test.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "executor"))

import sshd as sshd_module
from plans import PlanBuilder
from sshd import ensure_shell_user, start_extra_server
from test_apply import apply, gone

from essh.schema import Task, decode_report_json, write_plan
from essh.schema.command import encode_program, login_command, task_argv

pytestmark = pytest.mark.sshd


def _home(user: str) -> Path:
    return Path(pwd.getpwnam(user).pw_dir)


def _own(path: Path, user: str, mode: int = 0o644) -> None:
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(mode)


def _end_mine(marker: str) -> None:
    """Kill (by pid) what is left of this test's own uniquely named `sleep` processes."""
    wanted = marker.replace(" ", "\0").encode() + b"\0"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes() == wanted:
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


def _apply_as(sshd, user: str, script: str, *, name: str, users: tuple[str, ...] | None = None, **task_fields):
    """Apply one step of `script` as `user` on a fresh server; the report."""
    server = start_extra_server(sshd, name, users=users or (user,))
    try:
        host = sshd.schema_host(name, Port=str(server.port), User=user, **task_fields.pop("ssh", {}))
        b = PlanBuilder([host])
        b.task("t", script, hosts=[name], **task_fields)
        report, _, _ = apply(b.build())
    finally:
        server.process.kill()
        server.process.wait()
    return report


# -- 1. the login shell runs the bootstrap ------------------------------------------------------------------


def test_a_restricted_login_shell_never_reports_a_refused_step_as_succeeded(sshd):
    user = ensure_shell_user("essh-rv11-rbash", "/bin/rbash", "")
    out = _home(user) / "rbash-wrote-this"
    out.unlink(missing_ok=True)
    report = _apply_as(sshd, user, f"echo written > {out}; cd /tmp; echo done", name="rv11-rbash-1")
    step = report.steps[0]
    # Either the step ran whole (the file is there) or it failed: never "succeeded" with its work refused.
    assert out.exists() or step.status != "succeeded", (step.status, step.stdout_tail, step.stderr_tail)


def test_bash_version_in_the_session_environment_does_not_break_a_dash_login(sshd, monkeypatch):
    user = ensure_shell_user("essh-rv11-dash", "/bin/sh", "")
    plain = sshd_module._sshd_config
    monkeypatch.setattr(sshd_module, "_sshd_config", lambda *a, **k: plain(*a, **k) + "AcceptEnv BASH_VERSION\n")
    report = _apply_as(sshd, user, 'echo "bash ${BASH_VERSINFO[0]}"', name="rv11-dash-1",
                       ssh={"SetEnv": "BASH_VERSION=5.2.15(1)-release"})
    step = report.steps[0]
    assert step.status == "succeeded", (step.exit_code, step.stderr_tail)
    assert step.stdout_tail == "bash 5\n"


def test_the_step_runs_in_the_bash_the_plan_names(sshd):
    user = "essh-rv11-pathbash"
    ensure_shell_user(user, "/bin/bash", 'PATH="$HOME/bin:$PATH"\n')
    bin_dir = _home(user) / "bin"
    bin_dir.mkdir(exist_ok=True)
    _own(bin_dir, user, 0o755)
    wrapper = bin_dir / "bash"
    wrapper.write_text('#!/bin/sh\nESSH_RV11_BASH=from-path exec /bin/bash "$@"\n')
    _own(wrapper, user, 0o755)
    report = _apply_as(sshd, user, 'echo "bash=${ESSH_RV11_BASH-login-shell}"', name="rv11-pathbash-1")
    step = report.steps[0]
    assert step.status == "succeeded", step.stderr_tail
    assert step.stdout_tail == "bash=from-path\n"


def test_xtrace_in_bashrc_does_not_stop_a_timeout_from_ending_the_remote_processes(sshd):
    user = ensure_shell_user("essh-rv11-xtrace", "/bin/bash", "set -x\n")
    marker = "sleep 7311.5"
    try:
        report = _apply_as(sshd, user, f"{marker}; echo never", name="rv11-xtrace-1", timeout=1.0)
        assert report.steps[0].status == "timed_out"
        assert gone(marker, within=6.0), "the timed-out step's sleep still runs on the host"
        assert not re.search(r"^ESSH-PID-[0-9a-f]+ \d+$", report.steps[0].stderr_tail, re.MULTILINE), "the pid line was shown"
    finally:
        _end_mine(marker)


# What the new request must keep from the old one (`exec bash -c BOOTSTRAP`) when the login shell is bash.
# (rc file, program, pty)
SAME_AS_BEFORE = [
    ("", "echo hi; exit 3", False),
    ("set -e", "echo a; false; echo b", False),
    ("set -u; set -o pipefail", 'false | true; echo "pipe=$?"; echo "${nothing-default}"; echo "$nothing"; echo no', False),
    ("shopt -s expand_aliases; alias ls='echo rc-alias'", "ls /; alias hello='echo prog-alias'\nhello", False),
    ('trap "echo rc-exit >&2" EXIT', 'trap "echo prog-exit" EXIT; exit 4', False),
    ("", 'echo a; sh -c "kill -KILL \\$\\$"', False),
    ("", "echo a; kill -TERM $$; echo b", False),
    ("", 'cat; echo "stdin at eof: $?"; read -r x; echo "read: $?"', False),
    ("", 'echo "$0 $# ${SHLVL}"', False),
    ("set -e", 'echo "on a terminal: $(tty >/dev/null && echo yes)"; exit 6', True),
]


@pytest.fixture(scope="module")
def bash_login(sshd):
    user = ensure_shell_user("essh-rv11-same", "/bin/bash", "")
    server = start_extra_server(sshd, "rv11-same-1", users=(user,))
    yield user, server
    server.process.kill()
    server.process.wait()
    _home(user).joinpath(".bashrc").write_text("")


def _ssh(sshd, server, user: str, request: str, stdin: bytes, pty: bool) -> tuple[int, str, str]:
    args = ["ssh", *(["-tt"] if pty else []), "-p", str(server.port), "-i", str(sshd.key_path), "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={sshd.known_hosts}", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
            f"{user}@127.0.0.1", request]
    done = subprocess.run(args, input=stdin, capture_output=True, timeout=30, check=False)
    settle = lambda b: re.sub(r"(ESSH-PID-rv11 |line \d+: +)\d+", r"\1<pid>", b.decode(errors="replace"))
    return done.returncode, settle(done.stdout), settle(done.stderr)


@pytest.mark.parametrize(("rc", "program", "pty"), SAME_AS_BEFORE, ids=[f"{r}|{p}" for r, p, _ in SAME_AS_BEFORE])
def test_a_bash_login_shell_running_the_bootstrap_behaves_as_the_exec_d_bash_did(sshd, bash_login, rc, program, pty):
    user, server = bash_login
    rc_path = _home(user) / ".bashrc"
    rc_path.write_text(rc + "\n")
    _own(rc_path, user)
    task = Task(name="t", shell=("bash", "-c"), pty=pty)
    delivery = "terminal" if pty else "stdin"
    prelude = "printf 'ESSH-PID-rv11 %d\\n' \"$$\" >&2; "
    old = prelude + "exec " + shlex.join(task_argv(task, delivery))
    new = prelude + login_command(task, delivery)
    assert new != old and "shopt -oq posix" in new
    data = encode_program(program, delivery)
    results = [_ssh(sshd, server, user, request, data, pty) for request in (new, old)]
    if pty:  # the terminal echoes the program's lines until the bootstrap turns echo off: when, is timing
        sent = set(data.decode().splitlines())
        results = [(code, "".join(line for line in out.splitlines(keepends=True) if line.rstrip("\r\n") not in sent), err)
                   for code, out, err in results]
    assert results[0] == results[1]


# -- 2. `essh apply PLAN_FILE` without typer ---------------------------------------------------------------


def test_ctrl_c_twice_on_the_fast_path_ends_as_documented(sshd, tmp_path):
    """Two SIGINTs during a real-sshd apply started as `python -m essh apply plan.bin` (the typer-free path):
    exit 130, the running step cancelled and its remote process ended, the report written, no traceback."""
    place = tmp_path
    (place / "home").mkdir()
    marker = "sleep 7312.5"
    b = PlanBuilder([sshd.schema_host("web-1")])
    b.task("slow", f"echo started; {marker}; echo never", hosts=["web-1"])
    write_plan(str(place / "plan.bin"), b.build())
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESSH_")} | {"HOME": str(place / "home")}
    process = subprocess.Popen(
        [sys.executable, "-m", "essh", "apply", "plan.bin", "--report", "r.json", "--progress", "plain"],
        cwd=place, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["pgrep", "-f", marker], capture_output=True, check=False).returncode != 0:
            assert time.monotonic() < deadline and process.poll() is None, "the step never started"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        _end_mine(marker)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "started" in out
    assert err.count("Report: ") == 1
    report = decode_report_json((place / "r.json").read_bytes())
    assert report.exit_code == 130 and [s.status for s in report.steps] == ["cancelled"]
    assert gone(marker)
