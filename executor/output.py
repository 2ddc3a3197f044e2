"""A step's output: streamed to the terminal line by line, its tail kept, optionally logged.

Every terminal write is one or more whole lines of one step, so lines of two
hosts never mix. Memory is bounded whatever a command prints: at most one
partial line (up to `MAX_LINE` bytes) per stream plus the kept tail.
"""

from __future__ import annotations

import os

from typing import BinaryIO, Literal

from essh.schema import TAIL_BYTES

Stream = Literal["stdout", "stderr"]
MAX_LINE = 64 * 1024  # a longer line is written in pieces of this size


def _private_file(path: str) -> BinaryIO:
    """`path` opened for writing, 0600, refusing to follow a symlink planted there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    return open(fd, "wb")  # noqa: SIM115 - closed by StepOutput.close


class Terminal:
    """The applying process's own stdout or stderr, shared by every step.

    When the reader goes away (`essh apply | head`) or the output cannot be
    written at all (a full disk), writing stops for good
    instead of failing the steps: their logs and tails still get every byte,
    and the run goes on to its report.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.broken = False

    def write(self, data: bytes) -> None:
        if self.broken:
            return
        try:
            self._stream.write(data)
        except OSError:  # the reader went away, the disk is full: the log keeps everything
            self.broken = True

    def flush(self) -> None:
        if self.broken:
            return
        try:
            self._stream.flush()
        except OSError:
            self.broken = True


class StepOutput:
    """Receives a step's bytes (`feed`) and writes them out as they come; `close` when done.

    `prefix` (padded to `width`) starts every terminal line; with `prefix=None`
    and `passthrough=True` bytes go to the terminal untouched. `log_path`
    receives every byte of both streams, in arrival order.
    """

    def __init__(
        self,
        *,
        prefix: str | None,
        width: int,
        stdout: BinaryIO,
        stderr: BinaryIO,
        log_path: str | None,
        passthrough: bool,
    ) -> None:
        self._targets = {"stdout": stdout, "stderr": stderr}
        self._passthrough = passthrough and prefix is None
        if prefix is None:
            self._lead = b""
        else:
            # A template that ends in a space (ESSH's style) brings its own separator.
            separator = "" if prefix[-1:].isspace() else " "
            self._lead = (prefix.ljust(width) + separator).encode()
        self._pending = {"stdout": bytearray(), "stderr": bytearray()}
        self._tails = {"stdout": bytearray(), "stderr": bytearray()}
        self._log: BinaryIO | None = (
            _private_file(log_path) if log_path else None
        )
        self.log_path = log_path
        self.closed = False

    def feed(self, stream: Stream, data: bytes) -> None:
        """Take the next bytes of `stream`; complete lines are written out at once."""
        if not data:
            return
        tail = self._tails[stream]
        tail += data[-TAIL_BYTES:]
        if len(tail) > TAIL_BYTES:
            del tail[: len(tail) - TAIL_BYTES]
        if self._log is not None:
            self._log.write(data)
        target = self._targets[stream]
        if self._passthrough:
            target.write(data)
            target.flush()
            return
        pending = self._pending[stream]
        pending += data
        end = pending.rfind(b"\n") + 1
        chunks = []
        if end:
            chunks.extend(self._framed(bytes(pending[: end - 1]).split(b"\n")))
            del pending[:end]
        while len(pending) > MAX_LINE:
            chunks.extend(self._framed([bytes(pending[:MAX_LINE])]))
            del pending[:MAX_LINE]
        if chunks:
            target.write(b"".join(chunks))
            target.flush()

    def _framed(self, lines: list[bytes]) -> list[bytes]:
        # A terminal (pty=True) ends lines with CRLF; the CR would hide the prefix.
        return [self._lead + line.rstrip(b"\r") + b"\n" for line in lines]

    def close(self) -> None:
        """Write out unfinished lines (a newline added) and close the log file. Idempotent."""
        if self.closed:
            return
        self.closed = True
        for stream, pending in self._pending.items():
            if pending:
                target = self._targets[stream]
                target.write(b"".join(self._framed([bytes(pending)])))
                target.flush()
                pending.clear()
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, stream: Stream) -> str:
        """The last TAIL_BYTES of `stream`, decoded with replacement characters."""
        return self._tails[stream].decode("utf-8", errors="replace")
