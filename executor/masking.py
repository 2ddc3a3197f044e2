"""Secret values masked as `***` in everything an apply tells: one stage before the sinks.

`MaskingBus` stands where the engine's `EventBus` stood: every event passes
through it, masked, to the real bus, so the terminal, the log files, the report
(its tails and errors) and any later sink see the same masked stream.

Output arrives in chunks that may split a secret anywhere. Per step and stream,
the end of a chunk that could be the beginning of a secret is held back until
the next chunk shows whether it is one; what is held is let go at the end of the
attempt (AttemptEnded), the step, or the run. Only a tail that matches the start
of a secret is ever held, so ordinary output is not delayed.

What is masked: each value, a multi-line value's lines (4 characters or more:
a program may print them one by one), the value with `\\r\\n` line ends (a
terminal's output), and the value as bash's `set -x` shows it inside quotes
(`'` written `'\\''`; control characters as in `$'...'`). Text fields of events
(errors, notices) are masked too.

Where one secret begins another (`abc` and `abc:def`), a chunk that ends after
the shorter holds it back: the next chunk may make it the longer one.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from .events import AttemptEnded, Event, EventBus, HostLost, Notice, OutputChunk, RunEnded, StepEnded

MASK = "***"
MIN_LINE = 4  # a multi-line secret's lines shorter than this are masked only as part of the whole


_ANSI_C = {"\a": "\\a", "\b": "\\b", "\x1b": "\\E", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
           "\v": "\\v", "\\": "\\\\", "'": "\\'"}


def _ansi_c(value: str) -> str:
    """The inside of bash's `$'...'` quoting of `value` (how `set -x` shows a word with control characters)."""
    return "".join(_ANSI_C.get(c, f"\\{ord(c):03o}" if ord(c) < 32 or ord(c) == 127 else c) for c in value)


def mask_patterns(values: Iterable[str]) -> list[str]:
    """Every text to mask for `values`, longest first."""
    found: set[str] = set()
    for value in values:
        if not value:
            continue
        found.add(value)
        if "'" in value:
            found.add(value.replace("'", "'\\''"))
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            found.add(_ansi_c(value))
        if "\n" in value:
            found.add(value.replace("\r\n", "\n").replace("\n", "\r\n"))
            found.update(line.rstrip("\r") for line in value.split("\n") if len(line.rstrip("\r")) >= MIN_LINE)
    return sorted(found, key=lambda p: (-len(p), p))


class Masker:
    """Replaces secret values in bytes and text; holds back a chunk's possible secret start."""

    def __init__(self, values: Iterable[str]) -> None:
        patterns = mask_patterns(values)
        self._texts = patterns
        self._bytes = [p.encode("utf-8", "surrogateescape") for p in patterns]
        self._any = bool(patterns)
        self._longest = max((len(p) for p in self._bytes), default=0)
        self._heads = [(p, p[:4]) for p in self._bytes]

    def __bool__(self) -> bool:
        return self._any

    def text(self, text: str | None) -> str | None:
        if text is None or not self._any:
            return text
        for p in self._texts:
            text = text.replace(p, MASK)
        return text

    def scan(self, data: bytes, final: bool) -> tuple[bytes, bytes]:
        """(what may be shown now, what to hold until more arrives)."""
        if not self._any:
            return data, b""
        n = len(data)
        hold = n if final else self._unfinished(data, 0)
        out, last = bytearray(), 0
        for start, end in self._spans(data):
            if end > hold:  # it reaches what may begin a secret (a longer one, or one it overlaps): held
                hold = min(start, hold)
                break
            out += data[last:start]
            out += MASK.encode()
            last = end
        return bytes(out + data[last:hold]), data[hold:]

    def _spans(self, data: bytes) -> list[tuple[int, int]]:
        """Where secrets are in `data`: overlapping finds joined into one span, in order. Each secret is
        looked for by its first 4 bytes (bytes.find), which stays cheap with many long patterns (a key's lines)."""
        found = []
        for p, head in self._heads:
            i = data.find(head)
            while i != -1:
                if data.startswith(p, i):
                    found.append((i, i + len(p)))
                i = data.find(head, i + 1)
        found.sort()
        spans: list[tuple[int, int]] = []
        for start, end in found:
            if spans and start < spans[-1][1]:
                spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
            else:
                spans.append((start, end))
        return spans

    def _unfinished(self, data: bytes, start: int) -> int:
        """The first position from `start` where the rest of `data` is a secret's beginning (shorter than it),
        else len(data). Looked for by each secret's first 4 bytes, so long secrets (keys) cost little."""
        n = len(data)
        low = max(start, n - self._longest + 1)
        best = n
        for p, head in self._heads:
            for i in range(max(low, n - len(head) + 1), best):  # a rest shorter than the head
                if len(p) > n - i and p.startswith(data[i:]):
                    best = i
                    break
            i = data.find(head, low)
            while -1 < i < best:
                if len(p) > n - i and p.startswith(data[i:]):
                    best = i
                    break
                i = data.find(head, i + 1)
        return best


class MaskingBus:
    """An EventBus in front of `bus` that masks every event on its way."""

    def __init__(self, bus: EventBus, values: Iterable[str]) -> None:
        self._bus = bus
        self._masker = Masker(values)
        self._held: dict[tuple[int, str], bytes] = {}

    def emit(self, event: Event) -> None:
        if not self._masker:
            self._bus.emit(event)
            return
        if isinstance(event, OutputChunk):
            key = (event.step, event.stream)
            shown, held = self._masker.scan(self._held.pop(key, b"") + event.data, final=False)
            if held:
                self._held[key] = held
            if shown:
                self._bus.emit(msgspec.structs.replace(event, data=shown))
            return
        if isinstance(event, (AttemptEnded, StepEnded)):
            self._release(event.step)
        elif isinstance(event, RunEnded):
            self._release(None)
        self._bus.emit(self._masked(event))

    def _release(self, step: int | None) -> None:
        for key in [k for k in self._held if step is None or k[0] == step]:
            shown, _ = self._masker.scan(self._held.pop(key), final=True)
            if shown:
                self._bus.emit(OutputChunk(key[0], key[1], shown))  # type: ignore[arg-type]

    def _masked(self, event: Event) -> Event:
        m = self._masker.text
        if isinstance(event, (AttemptEnded, StepEnded, RunEnded)) and event.error:
            return msgspec.structs.replace(event, error=m(event.error))
        if isinstance(event, Notice):
            return msgspec.structs.replace(event, text=m(event.text) or "")
        if isinstance(event, HostLost):
            return msgspec.structs.replace(event, reason=m(event.reason) or "")
        return event
