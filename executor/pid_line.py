"""The remote shell's pid line: found in a step's output stream and removed from it.

`ssh_channel.py` starts every remote command with
`printf 'ESSH-PID-<nonce> %d\\n' "$$" >&2`, so it can end the step's process
group on cancel. The nonce is new for every apply, so no output of an earlier
run (or a log replayed by a command) is taken for it. Whatever the login shell
prints first passes through untouched, even when it ends without a newline
(`printf 'Welcome '` in a .bashrc): the mark is looked for anywhere, not only
at a line's start, and only the mark, its number and its newline are removed.
A mark not followed by a number and a newline is not the line (a `set -x`
trace of the printf that writes it): the search goes on after it. After
`SCAN_LIMIT` bytes without the line, the filter gives up and passes everything.
"""

from __future__ import annotations

PID_MARK = b"ESSH-PID-"
SCAN_LIMIT = 64 * 1024
_MAX_NUMBER = 24  # digits, a CR: more than that after the mark is not our line


class PidLineFilter:
    """Feed a stream's bytes in; get back the bytes to show. `pid` is set once the line is seen."""

    def __init__(self, nonce: str) -> None:
        self.mark = PID_MARK + nonce.encode("ascii") + b" "
        self.pid: int | None = None
        self.done = False  # found, given up, or finished: everything passes from now on
        self._held = b""  # bytes that may be (the start of) our line
        self._scanned = 0

    def feed(self, data: bytes) -> bytes:
        if self.done:
            return data
        buf = self._held + data
        self._held = b""
        start = 0  # a mark before it was not our line
        while (at := buf.find(self.mark, start)) >= 0:
            after = at + len(self.mark)
            end = buf.find(b"\n", after)
            if end < 0 and len(buf) - after <= _MAX_NUMBER:
                return self._pass(buf, at)  # perhaps our line: held from its mark
            number = buf[after:end].rstrip(b"\r") if end >= 0 else b""
            if number.isdigit() and int(number) > 1:  # never -0 or -1: every process there is
                self.pid = int(number)
                self.done = True
                return buf[:at] + buf[end + 1 :]
            start = after  # not our line (`set -x` in a .bashrc traces the printf that writes it): look on
        return self._pass(buf, len(buf) - _partial_mark(buf[start:], self.mark))

    def _pass(self, buf: bytes, held_from: int) -> bytes:
        """`buf` up to `held_from` to show, the rest held; everything once SCAN_LIMIT bytes went by."""
        self._scanned += held_from
        if self._scanned > SCAN_LIMIT:
            self.done = True
            return buf
        self._held = buf[held_from:]
        return buf[:held_from]

    def finish(self) -> bytes:
        """The stream ended: whatever was held back, to pass on."""
        held, self._held = self._held, b""
        self.done = True
        return held


def _partial_mark(buf: bytes, mark: bytes) -> int:
    """The length of the longest end of `buf` that is a start of `mark` (shorter than it)."""
    for size in range(min(len(mark) - 1, len(buf)), 0, -1):
        if mark.startswith(buf[-size:]):
            return size
    return 0
