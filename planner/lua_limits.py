"""Limits on every call into one Lua state: CPU time, wall-clock time, memory, Ctrl-C.

Lua runs in the calling thread with the GIL released. What stops it:

- `prelude.lua` puts a count hook on every Lua thread; every `HOOK_COUNT`
  instructions it asks `Watch.tick`, and once the answer is not GO_ON it raises
  again at every hook and after every `pcall`, so no loop can swallow the stop;
- Ctrl-C sets a flag `tick` reads (Python's own handler would only run once Lua
  returns); the call then ends with KeyboardInterrupt;
- work that never returns to the hook (a C library call: a pattern match that
  backtracks, `os.execute` of a command that does not end) cannot be stopped
  inside the process: a watchdog thread calls `on_stuck` `grace_seconds` after a
  limit (or Ctrl-C) went unanswered, and by default that ends the process;
- memory is capped by lupa's allocator (`memory_bytes`, see `lua_runtime`).
"""

from __future__ import annotations

import math
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import msgspec

# What `tick` answers: go on, or why the call must stop.
GO_ON, CPU, WALL, INTERRUPT = 0, 1, 2, 3
# Instructions between two questions to `tick`: about a millisecond of Lua.
HOOK_COUNT = 100_000
_DONE = b"\0"  # written by the caller when a call ends; signal numbers are never 0


class Limits(msgspec.Struct, frozen=True):
    """What one call into Lua (a file, a `prepare`, an `engine`) may use."""

    cpu_seconds: float = 30.0
    wall_seconds: float = 60.0
    memory_bytes: int = 512 * 2**20
    grace_seconds: float = 1.0  # after a limit, how long C code may keep the call before the hard stop

    def stop_message(self, reason: int) -> str:
        if reason == CPU:
            return f"still running after {self.cpu_seconds:g} s of CPU time; is there an endless loop?"
        if reason == WALL:
            return f"still running after {self.wall_seconds:g} s; is it waiting for something that does not come?"
        return "interrupted"

    def memory_message(self) -> str:
        return f"Lua ran out of memory: a configuration may use {self.memory_bytes / 2**20:g} MiB"


def hard_stop(message: str, exit_code: int) -> None:
    """End the process: Lua is stuck inside C code, which nothing in the process can stop."""
    os.write(2, f"essh: {message}\n".encode("utf-8", "replace"))
    os._exit(exit_code)


class Watch:
    """The limits of the calls into one Lua state, one call at a time."""

    def __init__(self, limits: Limits, on_stuck: Callable[[str, int], None] = hard_stop) -> None:
        self.limits = limits
        self._on_stuck = on_stuck
        self.reason = GO_ON  # why the current (or last) call was stopped
        self._interrupted = False
        self._clock = time.CLOCK_THREAD_CPUTIME_ID  # the CPU clock of the thread running Lua
        self._cpu_deadline = self._wall_deadline = math.inf

    def tick(self) -> int:
        """Asked by the Lua hook: GO_ON, or why to stop (it stays so until the call ends). Never raises."""
        if self.reason == GO_ON:
            if self._interrupted:
                self.reason = INTERRUPT
            elif time.clock_gettime(self._clock) > self._cpu_deadline:
                self.reason = CPU
            elif time.monotonic() > self._wall_deadline:
                self.reason = WALL
        return self.reason

    @contextmanager
    def call(self, blame: str) -> Iterator[None]:
        """Watch one call into Lua; after Ctrl-C it ends with KeyboardInterrupt, whatever it raised.

        `blame` (a file or file:line) names the call if the watchdog has to stop the process.
        """
        self.reason, self._interrupted = GO_ON, False
        self._clock = time.pthread_getcpuclockid(threading.get_ident())
        self._cpu_deadline = time.clock_gettime(self._clock) + self.limits.cpu_seconds
        self._wall_deadline = time.monotonic() + self.limits.wall_seconds
        reader, writer = os.pipe()
        watchdog = threading.Thread(target=self._watchdog, args=(reader, blame), name="essh-lua-watchdog", daemon=True)
        try:
            with _ctrl_c_sets_flag(self, writer):
                watchdog.start()
                try:
                    yield
                except BaseException:
                    if self._interrupted:
                        raise KeyboardInterrupt from None
                    raise
                finally:
                    os.write(writer, _DONE)
                    watchdog.join()
        finally:
            os.close(reader)
            os.close(writer)
        if self._interrupted:
            raise KeyboardInterrupt

    def interrupt(self, signum: int = signal.SIGINT, frame: object = None) -> None:
        self._interrupted = True

    def _watchdog(self, reader: int, blame: str) -> None:
        """Wait for the call to end; if a limit or Ctrl-C stays unanswered past the grace, call `on_stuck`."""
        grace = self.limits.grace_seconds
        interrupted_at = math.inf
        # A thread's CPU time grows no faster than the wall clock: nothing to check before this.
        next_check = time.monotonic() + min(self.limits.cpu_seconds, self.limits.wall_seconds) + grace
        while True:
            ready, _, _ = select.select([reader], [], [], max(0.0, min(next_check, interrupted_at + grace) - time.monotonic()))
            if ready:
                data = os.read(reader, 64)
                if _DONE in data or not data:
                    return
                if bytes([signal.SIGINT]) in data:
                    self.interrupt()
                    interrupted_at = min(interrupted_at, time.monotonic())
            now = time.monotonic()
            if now >= interrupted_at + grace:
                self._on_stuck("interrupted", 130)
                return
            if now >= next_check:
                over_cpu = time.clock_gettime(self._clock) > self._cpu_deadline + grace
                over_wall = now > self._wall_deadline + grace
                if over_cpu or over_wall:
                    message = self.limits.stop_message(CPU if over_cpu else WALL)
                    self._on_stuck(f"configuration error: {blame}: {message} (stuck in a Lua library call)", 2)
                    return
                next_check = now + 0.1


@contextmanager
def _ctrl_c_sets_flag(watch: Watch, wake: int) -> Iterator[None]:
    """While Lua runs, Ctrl-C sets the watch's flag and wakes its watchdog instead of raising.

    Only in the main thread (where signals are handled) and only when SIGINT has
    Python's default handler and no wakeup fd is set (an event loop's is left alone).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    os.set_blocking(wake, False)
    previous_fd = signal.set_wakeup_fd(wake, warn_on_full_buffer=False)
    if previous_fd != -1:
        signal.set_wakeup_fd(previous_fd)
    signal.signal(signal.SIGINT, watch.interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if previous_fd == -1:
            signal.set_wakeup_fd(-1)
