"""The local transport: the plan's script and environment, exit codes, pty, and cancellation."""

from __future__ import annotations

import io
import subprocess
import time
import uuid

import trio

from essh.executor.bridge import run
from essh.executor.local import LocalTransport
from essh.schema import step_script

from harness import Capture, run_on, step
from plans import PlanBuilder


def capture(argv: list[str], *, pty: bool = False, program: str | None = None) -> tuple[int, bytes, bytes]:
    out = Capture()
    stdout, stderr = out.stdout, out.stderr

    async def main() -> int:
        task, shown = step(argv, pty=pty)
        return await run_on(LocalTransport(), None, task, shown if program is None else program, out)

    code = run(main)
    return code, stdout.getvalue(), stderr.getvalue()


def processes(pattern: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return found.stdout.split()


def test_step_script_runs_with_its_environment():
    builder = PlanBuilder()
    builder.task("build", 'echo "$GREETING from $ESSH_TASK_NAME"; echo warn >&2; exit 4', env=(("ESSH_TASK_NAME", "build"), ("GREETING", "it's me")))
    plan = builder.build()
    assert capture([], program=step_script(plan, plan.steps[0])) == (4, b"it's me from build\n", b"warn\n")


def test_signal_death_is_128_plus_n():
    assert capture(["bash", "-c", "kill -KILL $$"])[0] == 137


def test_pty_gives_a_terminal_and_merges_streams():
    # sh, not bash: bash would take the terminal as its controlling one by itself.
    script = "test -t 0 && test -t 1 && echo terminal; : </dev/tty && echo controlling; echo e >&2"
    code, out, err = capture(["sh", "-c", script], pty=True)
    assert (code, err) == (0, b"")
    assert out.replace(b"\r\n", b"\n") == b"terminal\ncontrolling\ne\n"
    assert capture(["bash", "-c", "test -t 1 || echo plain"])[1] == b"plain\n"


def test_cancel_kills_the_whole_process_group():
    marker = f"{4000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6}"
    stdout = io.BytesIO()
    # A shell with a background and a foreground child: killing only the shell would leave both.
    argv = ["bash", "-c", f"sleep {marker} & echo started; sleep {marker}; wait"]

    async def main() -> list[str]:
        out = Capture()
        out.stdout = stdout
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: run_on(LocalTransport(), None, *step(argv, pty=False), out))
            with trio.fail_after(5):
                while b"started" not in stdout.getvalue():
                    await trio.sleep(0.01)
            await trio.sleep(0.1)
            running = processes(f"sleep {marker}")
            nursery.cancel_scope.cancel()
        return running

    started = time.monotonic()
    assert len(run(main)) == 3  # the shell and its two sleeps
    assert time.monotonic() - started < 3
    assert processes(f"sleep {marker}") == []


def test_cancel_of_a_process_ignoring_term_ends_with_kill():
    stdout = io.BytesIO()

    async def main() -> float:
        out = Capture()
        out.stdout = stdout
        with trio.move_on_after(0.3):
            await run_on(LocalTransport(), None, *step(["bash", "-c", "trap '' TERM; echo armed; while :; do sleep 0.05; done"], pty=False), out)
        return trio.current_time()

    started = time.monotonic()
    run(main)
    assert stdout.getvalue() == b"armed\n"
    assert time.monotonic() - started < 4


def test_a_local_step_under_sudo_gets_its_program_with_and_without_a_terminal():
    # sudo closes every descriptor but 0-2: the program comes on stdin, or through the terminal.
    for pty in (False, True):
        task, _ = step([], pty=pty, run_as="root")
        out = Capture()

        async def main() -> int:
            return await run_on(LocalTransport(), None, task, 'echo "ran as $(id -un)"', out)

        assert run(main) == 0
        assert out.stdout.getvalue().replace(b"\r\n", b"\n").endswith(b"ran as root\n"), (pty, out.stdout.getvalue())
