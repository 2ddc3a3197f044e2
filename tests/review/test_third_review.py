"""Third review: defects found after the "seams and hardening" issue (#6).

Each test states what an attacker or a bad day does and what essh should do; it
was a strict xfail until the product was fixed. SSH tests use the real sshd fleet
(tests/sshd.py); the essh command runs as a subprocess with a scratch HOME.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "executor"))

from essh.schema import decode_report_json, write_plan  # noqa: E402

from plans import PlanBuilder  # noqa: E402
from sshd import start_extra_server  # noqa: E402


@pytest.fixture
def scratch():
    path = Path(tempfile.mkdtemp(prefix="essh-review3-"))
    path.chmod(0o777)
    (path / "home").mkdir()
    yield path
    subprocess.run(["rm", "-rf", str(path)])


def _env(scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESSH_")}
    env.update(HOME=str(scratch / "home"), XDG_STATE_HOME=str(scratch / "state"))
    return env


def _start(scratch: Path, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "essh", *args], cwd=scratch, env=_env(scratch),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs,
    )


def _plan(scratch: Path, builder: PlanBuilder) -> str:
    path = scratch / "plan.bin"
    write_plan(str(path), builder.build())
    return str(path)


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _leftovers(mark: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", mark], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def _end(pids: list[int]) -> None:
    for pid in pids:  # only the processes this test started
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.sshd
def test_a_timed_out_step_is_killed_on_a_server_allowing_one_session(sshd, scratch):
    """Bad day: a host's sshd has `MaxSessions 1` (hardened images do this). A step times out.

    essh says "could not end the remote command: open failed" and the step's processes keep
    running on the host, although the docs (docs/cli.md, "A server that allows few sessions per
    connection ... never makes a host unreachable", issue #6 item 3: "keep a session for kills")
    promise the kill goes through another connection when the session is refused. Should: the
    step's process group is ended (TERM, then KILL), no process of it is left."""
    server = start_extra_server(sshd, "single-1", max_sessions=1)
    mark = str(uuid.uuid4().int)[:9]
    try:
        b = PlanBuilder([sshd.schema_host("single-1", Port=str(server.port))])
        b.task("t", f"sleep 100.{mark}", hosts=["single-1"], timeout=1)
        process = _start(scratch, "apply", _plan(scratch, b), "--report", str(scratch / "report.json"))
        _, err = process.communicate(timeout=60)
        assert process.returncode == 1, err
        time.sleep(3)  # TERM at once, KILL after the 2 s grace
        left = _leftovers(mark)
        _end(left)
        assert left == [], err.decode()
    finally:
        server.process.kill()
        server.process.wait()


@pytest.mark.sshd
def test_a_pty_task_with_a_large_program_starts_promptly(sshd, scratch):
    """Bad day: a `pty = true` task whose script embeds a file (about 600 KB: a config, a
    certificate bundle, a base64 archive). The terminal delivery's bootstrap builds the program
    with `__essh_program=$__essh_program$__essh_line` once per 76-byte base64 line, which is
    quadratic: 420 KB takes 15 s of host CPU before the first command runs, 1.2 MB more than a
    minute, and the task's `timeout` (counted from the command's start) expires before the
    script runs. The same program on stdin (no pty) starts at once. Should: delivery linear in
    the program's size (e.g. `base64 -d` reading the lines itself up to the "." line, or a
    single `head`/`sed` call), so the script runs within a few seconds."""
    body = "".join(f"# filler line {i} {'x' * 60}\n" for i in range(8000)) + "echo done-$(( 6 * 7 ))\n"
    b = PlanBuilder([sshd.schema_host("web-1")])
    b.task("t", body, hosts=["web-1"], pty=True, timeout=10)
    process = _start(scratch, "apply", _plan(scratch, b), "--report", str(scratch / "report.json"))
    out, err = process.communicate(timeout=60)
    assert b"done-42" in out and process.returncode == 0, err.decode()[-500:]


@pytest.mark.sshd
def test_a_report_fifo_without_reader_neither_hangs_nor_ignores_signals(sshd, scratch):
    """Bad day: `essh apply plan.bin --report /tmp/x.fifo` where the reader died (or never came).

    Every step succeeds, then essh blocks forever opening the FIFO for the final report, before
    the summary, and SIGTERM, SIGHUP and Ctrl-C are all ignored (the write runs inside trio's
    guest run, so the asyncio loop that receives signals never runs again): only SIGKILL ends it.
    docs/cli.md promises clean-up bounded to about 5 s after SIGTERM and a summary on every path.
    Should: open a FIFO non-blocking (O_NONBLOCK, ENXIO = no reader: say so, exit 74), or at
    least let SIGTERM/SIGINT end the wait with the summary printed."""
    b = PlanBuilder([sshd.schema_host("web-1")])
    b.task("t", "echo hi", hosts=["web-1"])
    fifo = scratch / "report.fifo"
    os.mkfifo(fifo)
    process = _start(scratch, "apply", _plan(scratch, b), "--report", str(fifo))
    try:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)  # bounded clean-up after SIGTERM
        _, err = process.communicate(timeout=5)
        assert b"Apply finished" in err or b"Apply interrupted" in err
        assert process.returncode in (74, 130)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _descendants(pid: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    found = []
    for child in map(int, children):
        found += [child, *_descendants(child)]
    return found


@pytest.mark.sshd
def test_sigterm_with_an_unresponsive_host_ends_within_docker_stops_grace(sshd, scratch):
    """Bad day: a host stops answering (frozen VM, network partition that drops packets) while a
    step runs, and CI cancels the job: `docker stop` sends SIGTERM, then SIGKILL 10 s later.

    docs/cli.md: "clean-up is bounded (about 5 s), well inside docker stop's 10 s". essh waits
    5 s for the kill channel (`_kill`'s `wait_for(conn.run(...), CLEANUP_TIMEOUT)`), then another
    5 s for the step's channel to close (`_end_remote`), and more for the connection: it exits
    after about 10.5 s, so under docker stop it is SIGKILLed before the final report and the
    summary. Should: one deadline for the whole clean-up (about 5 s from the signal), then the
    report (`"complete": true`) and exit 130."""
    server = start_extra_server(sshd, "frozen-1")
    mark = str(uuid.uuid4().int)[:9]
    stopped: list[int] = []
    try:
        b = PlanBuilder([sshd.schema_host("frozen-1", Port=str(server.port))])
        b.task("t", f"touch {scratch}/started; sleep 100.{mark}", hosts=["frozen-1"])
        process = _start(scratch, "apply", _plan(scratch, b), "--report", str(scratch / "report.json"))
        _wait_for(scratch / "started", process)
        time.sleep(0.5)
        # Freeze the host: the per-connection sshd processes of this test's own server stop answering.
        stopped = [pid for pid in _descendants(server.process.pid) if b"sshd" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        took = time.monotonic() - began
        assert process.returncode == 130, err.decode()
        assert took < 8, f"exited {took:.1f} s after SIGTERM: {err.decode()}"
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        _end(_leftovers(mark))
        server.process.kill()
        server.process.wait()


def _full_device(scratch: Path) -> Path:
    """A private copy of /dev/full (character device 1,7): writes fail with ENOSPC."""
    path = scratch / "full"
    os.mknod(path, 0o666 | 0o020000, os.makedev(1, 7))
    return path


@pytest.mark.sshd
def test_apply_piped_to_head_with_stderr_exits_0_after_every_step_succeeded(sshd, scratch):
    """Bad day: `essh apply plan.bin 2>&1 | head -1` (issue #6 item 12, claimed closed).

    Every step succeeds, but the summary is written to stderr after the reader left: click's
    EPIPE handling exits 1, so CI reports a failed deployment that succeeded. docs/cli.md:
    exit 0 "also when stdout's reader left early". Should: 0, as with `| head` on stdout alone."""
    b = PlanBuilder([sshd.schema_host("web-1")])
    b.task("t", "seq 1 50000", hosts=["web-1"])
    process = subprocess.Popen(
        [sys.executable, "-m", "essh", "apply", _plan(scratch, b), "--report", str(scratch / "report.json")],
        cwd=scratch, env=_env(scratch), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    assert process.stdout.readline()  # (the plan's provenance line, on stderr, comes first)
    process.stdout.close()  # `head -1` has had enough
    assert process.wait(timeout=60) == 0
    report = decode_report_json((scratch / "report.json").read_bytes())
    assert [s.status for s in report.steps] == ["succeeded"]


@pytest.mark.sshd
def test_apply_with_an_unwritable_stderr_does_not_claim_a_step_failed(sshd, scratch):
    """Bad day: essh's stderr is on a full disk (`2>>/var/log/deploy.err` with /var full).

    Every step succeeds; the summary cannot be written and essh exits 1, the code for "a step
    failed". docs/cli.md: 74 is "an I/O error on this machine"; 1 means a step failed. Should: 74
    (or 0: the report says everything succeeded), never 1."""
    b = PlanBuilder([sshd.schema_host("web-1")])
    b.task("t", "echo ok", hosts=["web-1"])
    with open(_full_device(scratch), "wb") as full:
        result = subprocess.run(
            [sys.executable, "-m", "essh", "apply", _plan(scratch, b), "--report", str(scratch / "report.json")],
            cwd=scratch, env=_env(scratch), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=full, timeout=60,
        )
    report = decode_report_json((scratch / "report.json").read_bytes())
    assert [s.status for s in report.steps] == ["succeeded"]
    assert result.returncode in (0, 74)


@pytest.mark.sshd
def test_a_report_path_planted_as_a_symlink_to_another_users_fifo_is_not_followed(sshd, scratch):
    """Attack: in a shared, group-writable folder (a CI workspace, a project share, or /tmp where
    fs.protected_symlinks is 0, as in many containers), another local user plants
    `report.json -> /home/mallory/fifo` before the operator runs `essh apply --report report.json`.

    essh stats the path through the symlink, sees a FIFO, and writes the whole report (every
    step's output tail, here a secret the step printed) into the attacker's FIFO. docs/cli.md: the
    report is created "through fresh files that never follow a symlink". The same path serves
    `plan -o`, which would hand over every env value of the plan. Should: follow a symlink only
    when it is the user's own or root's (as /dev/stdout is), else replace it or refuse."""
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    nobody = 65534
    mallory = Path(tempfile.mkdtemp(prefix="essh-mallory-"))
    try:
        fifo = mallory / "fifo"
        os.mkfifo(fifo, 0o622)
        os.chown(mallory, nobody, nobody)
        os.chown(fifo, nobody, nobody)
        planted = scratch / "report.json"
        planted.symlink_to(fifo)
        os.chown(planted, nobody, nobody, follow_symlinks=False)
        stolen = bytearray()

        def read() -> None:  # mallory's reader; she opens with O_NONBLOCK so she never blocks the test
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    chunk = None
                if chunk:
                    stolen.extend(chunk)
                time.sleep(0.05)
            os.close(fd)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        b = PlanBuilder([sshd.schema_host("web-1")])
        b.task("t", f"echo {secret}", hosts=["web-1"])
        process = _start(scratch, "apply", _plan(scratch, b), "--report", str(planted))
        process.communicate(timeout=60)
        time.sleep(0.5)
        assert secret.encode() not in bytes(stolen)
    finally:
        subprocess.run(["rm", "-rf", str(mallory)])


@pytest.mark.sshd
def test_a_pty_steps_crlf_split_across_chunks_is_still_a_line_end(sshd, scratch):
    """Bad day: a `pty = true` task without a prefix prints many lines (a build log, `seq`).

    A terminal ends lines with CRLF; docs/cli.md: "A line's CRLF (a terminal's) is its end". When
    a chunk from the channel ends between the CR and the LF (any large output), the passthrough
    path (`TerminalSink._write_passthrough`) escapes the lone CR at the chunk's end, so the
    output gets a literal `\\r` at the end of dozens of lines (48 in 300,000 here), in the
    terminal and in `essh run x > file`. Should: hold a trailing CR back until the next chunk
    (as an incomplete UTF-8 sequence is held), so no line shows `\\r`."""
    b = PlanBuilder([sshd.schema_host("web-1")])
    b.task("t", "seq 1 300000", hosts=["web-1"], pty=True)
    process = _start(scratch, "apply", _plan(scratch, b), "--report", str(scratch / "report.json"))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    assert out.count(b"\n") == 300000
    assert out.count(b"\\r") == 0


@pytest.mark.sshd
def test_a_plan_whose_shell_is_not_bash_never_succeeds_without_running(sshd, scratch):
    """Bad day: a plan file whose task `shell` is `["sh", "-c"]` (hand-written, produced by another
    tool or a later driver; docs/plan-format.md documents `shell` as "the interpreter" and
    `check_plan` accepts any non-empty argv).

    The bootstrap `{ __essh_program=$(</dev/stdin); } 2>/dev/null || __essh_program=$(cat); eval ...`
    is bash-only: dash runs `$(</dev/stdin)` as an empty command, status 0, so the `cat` fallback
    never runs, the program is empty, and the step reports success (exit 0) without running a
    line of its script (here: `echo ran; exit 3`). The same for local steps (`/dev/fd/3`).
    Should: refuse such a plan on reading (`shell` must be bash), or a POSIX bootstrap
    (`__essh_program=$(cat)`), so the step runs or fails, never succeeds silently."""
    b = PlanBuilder([sshd.schema_host("web-1")])
    b.task("t", "echo ran; exit 3", hosts=["web-1"], shell=("sh", "-c"))
    process = _start(scratch, "apply", _plan(scratch, b), "--report", str(scratch / "report.json"))
    out, err = process.communicate(timeout=60)
    if process.returncode == 2:  # refused before anything ran: also a fix
        return
    assert b"ran" in out and process.returncode == 1, (out, err)


@pytest.mark.sshd
def test_a_connection_dropped_between_steps_does_not_make_the_host_unreachable(sshd, scratch):
    """Bad day: the host drops essh's connection (its sshd session monitor dies, an idle timeout, a
    failover) just as a step ends. The host still accepts connections.

    The next step on that host is opened on the dying pooled connection and reported
    `unreachable` (kind `connection_lost`), with asyncio's "Future exception was never retrieved
    ... ConnectionLost" printed on the operator's terminal. Nothing of that step ran, so a new
    connection is safe. Issue #6 item 3: "never report a reachable host as unreachable". Should:
    a channel that could not even be opened because the connection was closing is retried once on
    a new connection; no asyncio noise on stderr."""
    server = start_extra_server(sshd, "drop-1")
    try:
        b = PlanBuilder([sshd.schema_host("drop-1", Port=str(server.port))])
        first = b.task("t", f"touch {scratch}/started; sleep 3", hosts=["drop-1"])
        b.task("u", "echo second-ok", hosts=["drop-1"], after=(first,))
        process = _start(scratch, "apply", _plan(scratch, b), "--report", str(scratch / "report.json"))
        _wait_for(scratch / "started", process)
        # The per-connection sshd monitor of this test's own server dies; the session lives on to its end.
        for pid in subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True).stdout.split():
            os.kill(int(pid), signal.SIGKILL)
        out, err = process.communicate(timeout=60)
        report = decode_report_json((scratch / "report.json").read_bytes())
        assert [(s.task, s.status) for s in report.steps] == [("t", "succeeded"), ("u", "succeeded")], err.decode()
        assert b"never retrieved" not in err
    finally:
        server.process.kill()
        server.process.wait()
