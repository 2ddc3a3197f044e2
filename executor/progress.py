"""Progress while an apply runs: a live status area on a terminal, banners and a heartbeat without one.

Both sinks read the same events as the others and keep O(1) counters per event
(`Progress`); what they show is computed only when shown.

`LiveSink` (stderr is a terminal): a status area of two lines at the bottom of
the terminal (elapsed time, the running tasks, steps done / failed / running /
waiting, the slowest running steps), redrawn at most `REDRAW` times a second
and on every `Tick`. Coordination, decided once: the area owns the bottom of
the terminal and the terminal sink writes *through* it (`AreaTerminal`): every
write first erases the area, in the same write, so output lines are never cut
or overdrawn, and the area comes back at the next redraw. While a line is left
open (passthrough output without its newline) the area is not drawn. At the
end of the run (and on every way out, `close`) the area is erased: nothing of
it is left on the screen.

`PlainSink` (no terminal: CI logs): no cursor movement; a banner when a task
starts and when its last step ends, and a heartbeat line when nothing was
written for `heartbeat` seconds while steps run (so CI no-output timeouts do
not trip). Its lines go through the terminal sink's `say`, so they are whole
lines, escaped, and timestamped with `--timestamps`.
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Callable
from typing import BinaryIO

from essh.colour import Palette
from essh.schema import Plan, escape_text

from .events import Event, OutputChunk, RunEnded, RunStarted, StepEnded, StepStarted, Tick
from .terminal import Terminal

REDRAW = 0.25  # seconds between redraws of the live area, at least
HEARTBEAT = 30.0  # seconds of silence before a heartbeat line (CI)
_FAILED = ("failed", "timed_out")


class Progress:
    """Counts from the event stream: what ran, what runs, what waits; per task too."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.total = len(plan.steps)
        self.per_task_total = [0] * len(plan.tasks)
        for step in plan.steps:
            self.per_task_total[step.task] += 1
        self.per_task_ended = [0] * len(plan.tasks)
        self.per_task_running = [0] * len(plan.tasks)
        self.task_started: dict[int, float] = {}
        self.running: dict[int, float] = {}  # step -> when it started
        self.ended = 0
        self.counts = _zero()
        self.per_task_counts = [_zero() for _ in plan.tasks]
        self.started_at: float | None = None

    def update(self, event: Event) -> bool:
        """Take `event` into account; True when the counts changed."""
        if isinstance(event, StepStarted):
            task = self.plan.steps[event.step].task
            self.running[event.step] = event.at
            self.per_task_running[task] += 1
            self.task_started.setdefault(task, event.at)
            return True
        if isinstance(event, StepEnded):
            task = self.plan.steps[event.step].task
            if self.running.pop(event.step, None) is not None:
                self.per_task_running[task] -= 1
            self.per_task_ended[task] += 1
            self.ended += 1
            key = "failed" if event.status in _FAILED else event.status
            self.counts[key] += 1
            self.per_task_counts[task][key] += 1
            return True
        if isinstance(event, RunStarted):
            self.started_at = event.at
        return False

    @property
    def waiting(self) -> int:
        return self.total - self.ended - len(self.running)

    def running_tasks(self) -> list[str]:
        return [self.plan.tasks[t].name for t, n in enumerate(self.per_task_running) if n]

    def slowest(self, now: float, count: int = 3) -> list[tuple[str, str, float]]:
        """The `count` steps running longest: (host, task, seconds)."""
        oldest = heapq.nsmallest(count, self.running.items(), key=lambda item: item[1])
        return [(self.where(step), self.plan.tasks[self.plan.steps[step].task].name, now - at) for step, at in oldest]

    def where(self, step: int) -> str:
        host = self.plan.steps[step].host
        return "local" if host is None else self.plan.hosts[host].name

    def tally(self, task: int | None = None) -> str:
        c = self.counts if task is None else self.per_task_counts[task]
        parts = [f"{c['succeeded']} ok"]
        parts += [f"{c[k]} {k}" for k in ("failed", "unreachable", "skipped", "cancelled") if c[k]]
        return ", ".join(parts)

    def status(self) -> str:
        c = self.counts
        bad = c["failed"] + c["unreachable"]
        return (
            f"{c['succeeded'] + c['skipped'] + c['cancelled']}/{self.total} done, {bad} failed, "
            f"{len(self.running)} running, {self.waiting} waiting"
        )

    def slowest_text(self, now: float) -> str:
        return ", ".join(f"{host} ({task}) {_clock(seconds)}" for host, task, seconds in self.slowest(now))


def _zero() -> dict[str, int]:
    return {"succeeded": 0, "failed": 0, "unreachable": 0, "skipped": 0, "cancelled": 0}


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class StatusArea:
    """The bottom lines of a terminal, drawn and erased by essh alone."""

    def __init__(self, stream: BinaryIO, fd: int | None = None) -> None:
        self._out = Terminal(stream)
        self._fd = fd
        self.lines = 0  # lines on screen now (0: erased)
        self.line_open = False  # the cursor is not at the start of a line: do not draw

    def erase_sequence(self) -> bytes:
        if not self.lines:
            return b""
        seq = b"\r\x1b[2K" + b"\x1b[1A\x1b[2K" * (self.lines - 1)
        self.lines = 0
        return seq

    def width(self) -> int:
        try:
            return os.get_terminal_size(self._fd).columns if self._fd is not None else 80
        except OSError:
            return 80

    def draw(self, lines: list[str], style: Callable[[str], str] = lambda s: s) -> None:
        if self.line_open or self._out.broken:
            return
        width = max(10, self.width() - 1)  # one column spare: a full line would wrap on some terminals
        shown = [style(escape_text(line)[:width]) for line in lines]
        data = self.erase_sequence() + "\n".join(shown).encode("utf-8", "replace")
        self._out.write(data)
        self.lines = len(shown)

    def erase(self) -> None:
        seq = self.erase_sequence()
        if seq:
            self._out.write(seq)


class AreaTerminal(Terminal):
    """A terminal stream shared with a status area: every write erases the area first."""

    def __init__(self, stream: BinaryIO, area: StatusArea, *, same_stream: bool) -> None:
        super().__init__(stream)
        self._area = area
        self._same = same_stream

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._same:
            super().write(self._area.erase_sequence() + data)
        else:
            self._area.erase()
            super().write(data)
        self._area.line_open = not data.endswith(b"\n")


class LiveSink:
    """The status area on a terminal, fed by events."""

    def __init__(self, plan: Plan, area: StatusArea, *, palette: Palette | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.progress = Progress(plan)
        self._area = area
        self._palette = palette or Palette(False)
        self._clock = clock
        self._last = -REDRAW
        self._now = 0.0
        self.draws = 0

    def handle(self, event: Event) -> None:
        changed = self.progress.update(event)
        at = getattr(event, "at", None)
        if at is not None:
            self._now = at
        if isinstance(event, RunEnded):
            self.close()
            return
        if isinstance(event, Tick) or ((changed or isinstance(event, OutputChunk) or not self._area.lines)
                                       and self._clock() - self._last >= REDRAW):
            self._redraw()

    def _redraw(self) -> None:
        p = self.progress
        if p.started_at is None:
            return
        self._last = self._clock()
        elapsed = _clock(self._now - p.started_at)
        tasks = p.running_tasks()
        shown_tasks = ", ".join(tasks[:3]) + (f" +{len(tasks) - 3}" if len(tasks) > 3 else "")
        lines = [f"essh {elapsed}  {p.status()}" + (f"  ({shown_tasks})" if shown_tasks else "")]
        if p.running:
            lines.append(f"  slowest: {p.slowest_text(self._now)}")
        self._area.draw(lines, lambda s: self._palette.style(s, "dim"))
        self.draws += 1

    def close(self) -> None:
        self._area.erase()


class PlainSink:
    """Task banners and a heartbeat, as whole lines: for logs read later (CI)."""

    def __init__(self, plan: Plan, say: Callable[[str], None], *, heartbeat: float = HEARTBEAT) -> None:
        self.progress = Progress(plan)
        self._say = say
        self._heartbeat = heartbeat
        self._quiet_since: float | None = None

    def handle(self, event: Event) -> None:
        p = self.progress
        if isinstance(event, StepStarted):
            task = p.plan.steps[event.step].task
            first = task not in p.task_started
            p.update(event)
            if first:
                n = p.per_task_total[task]
                self._say(f"task {p.plan.tasks[task].name}: started ({n} step{'s' if n != 1 else ''})")
                self._quiet_since = event.at
        elif isinstance(event, StepEnded):
            task = p.plan.steps[event.step].task
            p.update(event)
            if p.per_task_ended[task] == p.per_task_total[task] and task in p.task_started:
                took = event.at - p.task_started[task]
                self._say(f"task {p.plan.tasks[task].name}: ended in {took:.1f}s ({p.tally(task)})")
                self._quiet_since = event.at
        elif isinstance(event, OutputChunk):
            self._quiet_since = None  # output is a sign of life; the next Tick starts counting again
        elif isinstance(event, Tick):
            if self._quiet_since is None:
                self._quiet_since = event.at
            elif p.running and event.at - self._quiet_since >= self._heartbeat:
                elapsed = _clock(event.at - (event.at if p.started_at is None else p.started_at))
                self._say(f"still running at {elapsed}: {p.status()}; slowest: {p.slowest_text(event.at)}")
                self._quiet_since = event.at
        else:
            p.update(event)


class Display:
    """Which progress is shown, decided once per apply, and the terminal streams the output goes through.

    `auto`: live when stderr is a terminal (and TERM is not dumb), plain otherwise.
    """

    def __init__(self, mode: str, stdout: Terminal, stderr: Terminal, area: StatusArea | None = None) -> None:
        self.mode = mode
        self.stdout = stdout
        self.stderr = stderr
        self._area = area

    @classmethod
    def choose(cls, mode: str, stdout: BinaryIO, stderr: BinaryIO, environ: dict | None = None) -> Display:
        if mode not in ("auto", "live", "plain", "none"):
            raise ValueError(f"progress must be auto, live, plain or none, not {mode!r}")
        err_tty, out_tty = _isatty(stderr), _isatty(stdout)
        if mode == "auto":
            dumb = (os.environ if environ is None else environ).get("TERM", "") == "dumb"
            mode = "live" if err_tty and not dumb else "plain"
        if mode != "live":
            return cls(mode, Terminal(stdout), Terminal(stderr))
        area = StatusArea(stderr, _fileno(stderr))
        out = AreaTerminal(stdout, area, same_stream=False) if out_tty or not err_tty else Terminal(stdout)
        return cls(mode, out, AreaTerminal(stderr, area, same_stream=True), area)

    def sink(self, plan: Plan, say: Callable[[str], None], *, colour: bool = False, heartbeat: float = HEARTBEAT):
        if self.mode == "live" and self._area is not None:
            return LiveSink(plan, self._area, palette=Palette(colour))
        if self.mode == "plain":
            return PlainSink(plan, say, heartbeat=heartbeat)
        return None

    def close(self) -> None:
        """The area is erased, whatever happened (an exception, an interrupt)."""
        if self._area is not None:
            self._area.erase()


def _fileno(stream: BinaryIO) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):
        return None


def _isatty(stream: BinaryIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError, AttributeError):
        return False
