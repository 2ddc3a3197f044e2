"""The remote shell's pid line: found in a step's output stream and removed from it.

`ssh.py` starts every remote command with `printf 'ESSH-PID %d\\n' "$$" >&2`
so it can end the step's process group on cancel. Whatever the login shell
prints first (a chatty .bashrc, a banner on a terminal) passes through
untouched; the first complete line that is exactly the mark and a number is
taken out. After `SCAN_LIMIT` bytes without it (a shell that is not POSIX sh),
the filter gives up and passes everything.
"""

from __future__ import annotations

PID_MARK = b"ESSH-PID "
SCAN_LIMIT = 64 * 1024


class PidLineFilter:
    """Feed a stream's bytes in; get back the bytes to show. `pid` is set once the line is seen."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.done = False  # found, given up, or finished: everything passes from now on
        self._held = bytearray()  # a partial line that may still become the pid line
        self._mid_line = False  # inside a line that is not ours (it began in earlier data)
        self._scanned = 0

    def feed(self, data: bytes) -> bytes:
        if self.done:
            return data
        held = self._held
        held += data
        passed = bytearray()
        while not self.done:
            end = held.find(b"\n")
            if end < 0:
                if self._mid_line or not PID_MARK.startswith(bytes(held[: len(PID_MARK)])) or len(held) > 64:
                    # Not the start of our line: our line can only begin after this one ends.
                    self._pass(passed, len(held), ends_line=False)
                break
            line = bytes(held[: end + 1])
            if not self._mid_line and _pid_of(line) is not None:
                self.pid = _pid_of(line)
                del held[: end + 1]
                self._stop(passed)
                break
            self._pass(passed, end + 1, ends_line=True)
        return bytes(passed)

    def _pass(self, passed: bytearray, count: int, *, ends_line: bool) -> None:
        if count:
            passed += self._held[:count]
            del self._held[:count]
            self._mid_line = not ends_line
            self._scanned += count
        if self._scanned > SCAN_LIMIT:
            self._stop(passed)

    def _stop(self, passed: bytearray) -> None:
        passed += self._held
        self._held.clear()
        self.done = True

    def finish(self) -> bytes:
        """The stream ended: whatever was held back, to pass on."""
        passed = bytearray()
        self._stop(passed)
        return bytes(passed)


def _pid_of(line: bytes) -> int | None:
    if not line.startswith(PID_MARK):
        return None
    number = line[len(PID_MARK) :].rstrip(b"\r\n")
    return int(number) if number.isdigit() else None
