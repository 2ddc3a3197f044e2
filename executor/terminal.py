"""The terminal sink: steps' output and essh's notes, on the applying process's stdout and stderr.

Every write is one or more whole lines of one step, prefixed with the step's
output prefix (padded to its task's widest), so lines of two hosts never mix.
Text from hosts is hostile: control, C1 and bidi characters are shown escaped
(`essh.schema.escape_line`), so no host can move the cursor, erase lines or
retitle the terminal; only `raw` (the operator's explicit opt-in) passes bytes
unchanged. Raw bytes are always kept in the log files.

Passthrough (output shown as it comes, partial lines included, with no prefix)
is decided here and only here: a step without a prefix, while it is the only
step running. When a second step starts, a partial line left open is ended
first, and from then on every step's lines are whole.

Options (`essh apply` flags): `timestamps` puts the UTC time before every
line (and turns passthrough off: a time needs a line of its own); `show_task`
puts the task's name before the prefix (`[deploy] [web-1] ...`), so a handler's
lines and its task's differ; `colour` gives each host's prefix a colour of its
own (essh.colour: stable across runs). Remote text is never coloured.

Memory is bounded whatever a command prints: at most one partial line (up to
`MAX_LINE` bytes) per stream of each running step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import BinaryIO

from essh.colour import host_sgr
from essh.schema import Plan, escape_line, escape_text

from .events import AttemptEnded, Event, FileDone, Notice, OutputChunk, StepEnded, StepStarted

MAX_LINE = 64 * 1024  # a longer line is written in pieces of this size


class Terminal:
    """The applying process's own stdout or stderr, shared by every step.

    When the reader goes away (`essh apply | head`), the output cannot be
    written at all (a full disk) or the terminal hung up, writing stops for good
    instead of failing the steps: their logs and report still get every byte,
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
            self._stream.flush()
        except (OSError, ValueError):  # gone, full, or closed under us
            self.broken = True


class TerminalSink:
    """Consumes output and notices; writes them for a person to read."""

    def __init__(
        self, plan: Plan, stdout: Terminal, stderr: Terminal, *, raw: bool = False, timestamps: bool = False,
        show_task: bool = False, colour: bool = False, clock: Callable[[], float] = time.time,
    ) -> None:
        self._plan = plan
        self._targets = {"stdout": stdout, "stderr": stderr}
        self._raw = raw
        self._timestamps = timestamps
        self._show_task = show_task
        self._colour = colour
        self._clock = clock
        self._width = [0] * len(plan.tasks)
        for step in plan.steps:
            self._width[step.task] = max(self._width[step.task], len(step.prefix or ""))
        self._leads: dict[int, bytes] = {}
        self._pending: dict[tuple[int, str], bytearray] = {}
        self._running: set[int] = set()
        self._open_line: dict[str, int] = {}  # stream -> step whose passthrough left a partial line

    def handle(self, event: Event) -> None:
        if isinstance(event, OutputChunk):
            self._output(event.step, event.stream, event.data)
        elif isinstance(event, StepStarted):
            self._running.add(event.step)
            if len(self._running) > 1:
                for stream in list(self._open_line):
                    self._end_open_line(stream)
        elif isinstance(event, StepEnded):
            if event.step in self._running:
                self._running.discard(event.step)
                self._flush(event.step)
        elif isinstance(event, AttemptEnded) and event.retrying:
            total = self._plan.tasks[self._plan.steps[event.step].task].retries + 1
            self.say(f"attempt {event.number} of {total}: {event.error}; trying again", event.step)
        elif isinstance(event, Notice):
            self.say(event.text, event.step)
        elif isinstance(event, FileDone):
            self.say(f"{event.action} {event.path} ({event.size} bytes, sha256 {event.sha256[:12]})", event.step)

    def say(self, text: str, step: int | None = None) -> None:
        """essh's own line on stderr (after the step's prefix, if any), escaped."""
        lead = self._lead(step) if step is not None else b""
        self._end_open_line("stderr")
        self._targets["stderr"].write(
            self._stamp() + lead + b"essh: " + escape_text(text).encode("utf-8", "replace") + b"\n"
        )

    def hangup(self) -> None:
        """The terminal is gone (SIGHUP): write nothing more."""
        for target in self._targets.values():
            target.broken = True

    # -- output -----------------------------------------------------------------------

    def _lead(self, step: int) -> bytes:
        lead = self._leads.get(step)
        if lead is None:
            s = self._plan.steps[step]
            text = ""
            if s.prefix is not None:
                # A template that ends in a space (ESSH's style) brings its own separator.
                separator = "" if s.prefix[-1:].isspace() else " "
                text = escape_text(s.prefix.ljust(self._width[s.task]) + separator)
                if self._colour and s.host is not None:
                    text = f"\x1b[{host_sgr(self._plan.hosts[s.host].name)}m{text.rstrip()}\x1b[0m" + text[len(text.rstrip()):]
            if self._show_task:
                task = escape_text(f"[{self._plan.tasks[s.task].name}] ")
                text = (f"\x1b[2m{task}\x1b[0m" if self._colour else task) + text
            lead = text.encode("utf-8", "replace")
            self._leads[step] = lead
        return lead

    def _passthrough(self, step: int) -> bool:
        return self._plan.steps[step].prefix is None and len(self._running) <= 1 and not self._timestamps and not self._show_task

    def _stamp(self) -> bytes:
        if not self._timestamps:
            return b""
        now = self._clock()
        return (time.strftime("%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d} ").encode()

    def _output(self, step: int, stream: str, data: bytes) -> None:
        target = self._targets[stream]
        if target.broken:
            return
        if self._passthrough(step):
            self._write_passthrough(step, stream, data)
            return
        key = (step, stream)
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = bytearray()
        pending += data
        end = pending.rfind(b"\n") + 1
        chunks = []
        if end:
            chunks.extend(self._framed(step, bytes(pending[: end - 1]).split(b"\n")))
            del pending[:end]
        while len(pending) > MAX_LINE:
            chunks.extend(self._framed(step, [bytes(pending[:MAX_LINE])]))
            del pending[:MAX_LINE]
        if chunks:
            self._end_open_line(stream)
            target.write(b"".join(chunks))

    def _write_passthrough(self, step: int, stream: str, data: bytes) -> None:
        key = (step, stream)
        pending = self._pending.pop(key, None)
        if pending:
            data = bytes(pending) + data
        if self._raw:
            shown = data
        else:
            data, held = _split_utf8_tail(data)
            if data.endswith(b"\r"):  # maybe a CRLF whose LF is in the next chunk: decide then
                data, held = data[:-1], b"\r" + held
            if held:
                self._pending[key] = bytearray(held)
            lines = data.split(b"\n")
            shown = b"\n".join(escape_line(line.rstrip(b"\r") if i < len(lines) - 1 else line) for i, line in enumerate(lines))
        if not shown:
            return
        if self._open_line.get(stream, step) != step:
            self._end_open_line(stream)
        self._targets[stream].write(shown)
        if shown.endswith(b"\n"):
            self._open_line.pop(stream, None)
        else:
            self._open_line[stream] = step

    def _framed(self, step: int, lines: list[bytes]) -> list[bytes]:
        lead = self._stamp() + self._lead(step)
        if self._raw:
            return [lead + line.rstrip(b"\r") + b"\n" for line in lines]
        # A terminal (pty) ends lines with CRLF; the CR would hide the prefix.
        return [lead + escape_line(line.rstrip(b"\r")) + b"\n" for line in lines]

    def _end_open_line(self, stream: str) -> None:
        if self._open_line.pop(stream, None) is not None:
            self._targets[stream].write(b"\n")

    def _flush(self, step: int) -> None:
        """The step ended: its unfinished framed lines are written out, a newline added."""
        for stream in ("stdout", "stderr"):
            pending = self._pending.pop((step, stream), None)
            if pending:
                self._end_open_line(stream)
                self._targets[stream].write(b"".join(self._framed(step, [bytes(pending)])))
            # A passthrough line left open stays as the command left it (`essh run x > file`
            # gets its exact bytes); it is ended only if something else is written after it.


def _split_utf8_tail(data: bytes) -> tuple[bytes, bytes]:
    """`data` less an incomplete UTF-8 sequence at its end (kept for the next chunk)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return data, b""
        if byte >= 0xC0:  # a lead byte: is its sequence complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return (data, b"") if back >= need else (data[:-back], data[-back:])
    return data, b""
