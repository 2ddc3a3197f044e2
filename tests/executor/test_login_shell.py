"""The step's shell on the host, whatever the user's login shell (real sshd).

A bash login shell runs the step's bootstrap itself: the user's `.bashrc` is read
once per step, as under a plain `ssh host cmd`, and the program sees what it
defines. Any other POSIX login shell hands the bootstrap to bash, so the program
is still a bash program. A sudo step keeps its own login shell (`bash -l`).
"""

from __future__ import annotations

import pwd
from pathlib import Path

import pytest

from essh.executor.ssh_channel import exec_request
from essh.schema import Task

from plans import PlanBuilder
from sshd import ensure_shell_user, start_extra_server
from test_apply import apply

pytestmark = pytest.mark.sshd

RC = 'printf "%s\\n" "$$" >> "$HOME/rc-reads"\ngreet() { echo "hello from rc"; }\n'
# Bash features a POSIX sh lacks: the program is run by bash either way.
SCRIPT = 'greet 2>/dev/null || echo "no greet"; words=(a b); [[ ${#words[@]} == 2 ]] && echo "bash ${BASH_VERSINFO[0]}"'


def run_as_login(sshd, user: str, shell: str, steps: int = 3):
    ensure_shell_user(user, shell, RC)
    reads = Path(pwd.getpwnam(user).pw_dir) / "rc-reads"
    reads.unlink(missing_ok=True)
    server = start_extra_server(sshd, f"{user}-1", users=(user,))
    try:
        host = sshd.schema_host(f"{user}-1", Port=str(server.port), User=user)
        b = PlanBuilder([host])
        for number in range(steps):
            b.task(f"t{number}", SCRIPT, hosts=[f"{user}-1"], after=(number - 1,) if number else ())
        report, _, _ = apply(b.build())
    finally:
        server.process.kill()
        server.process.wait()
    return report, reads.read_text().splitlines() if reads.exists() else []


def test_a_bash_login_shell_runs_the_step_itself_reading_bashrc_once(sshd):
    report, reads = run_as_login(sshd, "essh-bash-login", "/bin/bash")
    assert [s.status for s in report.steps] == ["succeeded"] * 3
    assert {s.stdout_tail for s in report.steps} == {"hello from rc\nbash 5\n"}
    assert len(reads) == 3, reads  # once per step, not twice


def test_a_posix_sh_login_shell_hands_the_step_to_bash(sshd):
    report, reads = run_as_login(sshd, "essh-sh-login", "/bin/sh")
    assert [s.status for s in report.steps] == ["succeeded"] * 3
    # The inner bash is the session's first bash: it reads .bashrc (as the ssh-started shell it is).
    assert {s.stdout_tail for s in report.steps} == {"hello from rc\nbash 5\n"}
    assert len(reads) == 3, reads


def test_bash_started_as_sh_hands_the_step_to_a_bash_not_in_posix_mode(sshd, tmp_path_factory):
    """sshd starts the login shell as `sh` when its path ends so: bash then runs in POSIX mode, which a
    bash program must not get. The request sees it and hands the step to a plain bash."""
    place = Path("/usr/local/lib/essh-test")
    place.mkdir(parents=True, exist_ok=True)
    shell = place / "sh"
    if not shell.is_symlink():
        shell.symlink_to("/bin/bash")
    script = 'shopt -oq posix && echo posix || echo "not posix"; words=(a b); echo "${#words[@]} words"'
    user = "essh-bash-as-sh"
    ensure_shell_user(user, str(shell), RC)
    server = start_extra_server(sshd, f"{user}-1", users=(user,))
    try:
        host = sshd.schema_host(f"{user}-1", Port=str(server.port), User=user)
        b = PlanBuilder([host])
        b.task("t", script, hosts=[f"{user}-1"])
        report, _, _ = apply(b.build())
    finally:
        server.process.kill()
        server.process.wait()
    assert report.steps[0].status == "succeeded" and report.steps[0].stdout_tail == "not posix\n2 words\n"


def test_only_a_plain_bash_task_is_run_by_the_login_shell():
    plain = Task(name="t", shell=("bash", "-c"))
    assert "shopt -oq posix" in exec_request(plain, "n") and "else exec bash -c " in exec_request(plain, "n")
    for task in (Task(name="t", shell=("bash", "-l", "-c"), run_as="root"), Task(name="t", shell=("bash", "-l", "-c"))):
        request = exec_request(task, "n")
        assert "shopt" not in request and "; exec " in request
