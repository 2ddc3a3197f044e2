"""essh's standard output, for a reader that may leave early (`essh hosts | head -1`).

A reader that closes its end of the pipe has had enough: that is not an error.
Output that cannot be written for another reason (`essh show > /dev/full`) is
one: `OutputError`, one line and exit 74.
On the first EPIPE, descriptor 1 is pointed at the null device, so nothing
written later fails (not even the interpreter's last flush), what was left to
show is not computed, and the command ends with its own exit code, quietly. A
descriptor 1 closed from the start (`essh hosts >&-`) is the same.

Every line the CLI prints to stdout goes through here; text from the
configuration or a plan is escaped by its caller (`essh.schema.escape_text`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import TextIO


class OutputError(Exception):
    """Standard output cannot be written (a full disk, an I/O error): not a reader that left."""


def write_lines(lines: Iterable[str]) -> bool:
    """Print each of `lines` and a newline, flushed; False once the reader is gone
    (the rest of `lines` is then never read)."""

    def write(stream) -> None:
        for line in lines:
            stream.write(line + "\n")
        stream.flush()

    return _written(write)


def write_bytes(data: bytes) -> bool:
    """Print `data` as it is, flushed; False once the reader is gone."""

    def write(stream) -> None:
        stream.flush()
        stream.buffer.write(data)
        stream.buffer.flush()

    return _written(write)


def _written(write: Callable[[TextIO], None]) -> bool:
    """Run `write` on stdout: False if the reader left; OutputError if stdout failed otherwise."""
    stream = sys.stdout
    if stream is None:
        return False
    try:
        write(stream)
    except BrokenPipeError:
        _reader_gone(stream)
        return False
    except OSError as exc:
        _reader_gone(stream)
        raise OutputError(f"cannot write to standard output: {exc.strerror or exc}") from None
    return True


def flush() -> None:
    """Flush what is buffered, as the command ends; a reader that left is not an error."""
    stream = sys.stdout
    if stream is None:
        return
    try:
        stream.flush()
    except BrokenPipeError:
        _reader_gone(stream)
    except (OSError, ValueError):  # closed or unusable: nothing more can be shown
        pass


def _reader_gone(stream) -> None:
    """Send whatever is still buffered, and anything written later, to the null device."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, stream.fileno())
        finally:
            os.close(null)
    except (OSError, ValueError):
        pass
