"""The progress display: the live area against a pseudo-terminal (lines intact, area gone at the end,
no output lost), the plain banners and heartbeat, and the choice between them."""

from __future__ import annotations

import io
import os
import re
import threading

from essh.executor.apply import ApplyOptions, apply_plan
from essh.executor.events import OutputChunk, RunEnded, RunStarted, StepEnded, StepStarted, Tick
from essh.executor.progress import AreaTerminal, Display, LiveSink, PlainSink, Progress, StatusArea
from essh.executor.terminal import Terminal, TerminalSink
from essh.schema import Host

from plans import PlanBuilder, digest


def screen(data: bytes) -> list[str]:
    """What a terminal shows after `data`: enough of VT100 for what essh writes (\\r, \\n, EL 2, CUU 1)."""
    rows, row, col = [""], 0, 0
    for token in re.findall(rb"\x1b\[2K|\x1b\[1A|\x1b\[[0-9;]*m|\r\n|\r|\n|[^\x1b\r\n]+|\x1b", data):
        if token == b"\x1b[2K":
            rows[row] = ""
        elif token == b"\x1b[1A":
            row = max(0, row - 1)
        elif token.startswith(b"\x1b"):
            continue
        elif token == b"\r":
            col = 0
        elif token in (b"\n", b"\r\n"):  # a pty's ONLCR turns \n into \r\n
            row, col = row + 1, 0
            if row == len(rows):
                rows.append("")
        else:
            text = token.decode("utf-8", "replace")
            line = rows[row].ljust(col)
            rows[row] = line[:col] + text + line[col + len(text):]
            col += len(text)
    while rows and rows[-1] == "":
        rows.pop()
    return rows


def plan_of(hosts=("web-1", "web-2", "web-3")):
    b = PlanBuilder([Host(name=h) for h in hosts])
    b.task("deploy", "x", hosts=list(hosts), prefix=True, parallel=0)
    return b.build()


def test_live_area_never_cuts_a_line_and_is_gone_at_the_end():
    plan = plan_of()
    stream = io.BytesIO()
    area = StatusArea(stream)
    err = AreaTerminal(stream, area, same_stream=True)
    terminal = TerminalSink(plan, err, err)
    ticks = iter(range(1000))
    live = LiveSink(plan, area, clock=lambda: next(ticks) * 1.0)  # every event may redraw
    events = [RunStarted(0.0), StepStarted(0, 0.0), StepStarted(1, 0.0), StepStarted(2, 0.0)]
    for i in range(20):
        events.append(OutputChunk(i % 3, "stdout", f"line {i} of {i % 3}\n".encode()[: 3 + i % 5]))
        events.append(OutputChunk(i % 3, "stdout", f"line {i} of {i % 3}\n".encode()[3 + i % 5:]))
        events.append(Tick(float(i)))
    events += [StepEnded(s, "succeeded", 30.0) for s in range(3)] + [RunEnded(31.0)]
    for event in events:
        terminal.handle(event)
        live.handle(event)
    assert live.draws > 10
    assert b"essh 0:" in stream.getvalue()  # the area was drawn ...
    shown = screen(stream.getvalue())
    assert not any("essh" in row or "slowest" in row for row in shown)  # ... and is gone
    expected = [f"[remote:web-{1 + i % 3}] line {i} of {i % 3}" for i in range(20)]
    assert shown == expected


def test_no_area_while_a_line_is_open():
    plan = plan_of(("web-1",))
    stream = io.BytesIO()
    area = StatusArea(stream)
    out = AreaTerminal(stream, area, same_stream=True)
    out.write(b"partial")
    LiveSink(plan, area).handle(RunStarted(0.0))
    area.draw(["status"])
    assert stream.getvalue() == b"partial"


def test_live_progress_on_a_pseudo_terminal_end_to_end():
    hosts = ("h1", "h2", "h3")
    b = PlanBuilder([Host(name=h) for h in hosts])
    b.task("slow", "for i in 1 2 3; do echo out$i; sleep 0.4; done; echo err >&2", hosts=list(hosts),
           prefix="[{host}]", parallel=0, backend="local")
    plan = b.build()
    main, sub = os.openpty()
    received = bytearray()

    def reader() -> None:
        while True:
            try:
                data = os.read(main, 4096)
            except OSError:
                return
            if not data:
                return
            received.extend(data)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    with os.fdopen(sub, "wb", buffering=0) as tty:
        result = apply_plan(plan, digest(plan), ApplyOptions(progress="live"), stdout=tty, stderr=tty)
    thread.join(timeout=5)
    os.close(main)
    assert result.report.totals.succeeded == 3
    assert b"essh 0:0" in received  # the area was shown while the steps slept
    shown = screen(bytes(received))
    assert not any(row.startswith("essh ") or "slowest" in row for row in shown)
    for host in hosts:
        assert [row for row in shown if row.startswith(f"[{host}]")] == [
            f"[{host}] out1", f"[{host}] out2", f"[{host}] out3", f"[{host}] err"
        ]
    assert len(shown) == 12


def test_plain_banners_and_a_heartbeat_only_when_silent():
    plan = plan_of(("web-1", "web-2"))
    said: list[str] = []
    sink = PlainSink(plan, said.append, heartbeat=10)
    sink.handle(RunStarted(0.0))
    sink.handle(StepStarted(0, 0.0))
    sink.handle(StepStarted(1, 0.0))
    for t in range(1, 25):
        sink.handle(Tick(float(t)))
    sink.handle(OutputChunk(0, "stdout", b"x\n"))  # output: no heartbeat for the next 10 s
    for t in range(25, 34):
        sink.handle(Tick(float(t)))
    sink.handle(StepEnded(0, "succeeded", 40.0))
    sink.handle(StepEnded(1, "failed", 41.0))
    assert said[0] == "task deploy: started (2 steps)"
    beats = [line for line in said if line.startswith("still running")]
    assert len(beats) == 2  # at 10 s and 20 s; none in the 10 s after the output
    assert beats[0] == "still running at 0:10: 0/2 done, 0 failed, 2 running, 0 waiting; slowest: web-1 (deploy) 0:10, web-2 (deploy) 0:10"
    assert said[-1] == "task deploy: ended in 41.0s (1 ok, 1 failed)"


def test_auto_is_plain_without_a_terminal_and_live_on_one():
    assert Display.choose("auto", io.BytesIO(), io.BytesIO()).mode == "plain"
    main, sub = os.openpty()
    try:
        with os.fdopen(sub, "wb", buffering=0) as tty:
            assert Display.choose("auto", io.BytesIO(), tty, environ={"TERM": "xterm"}).mode == "live"
            assert Display.choose("auto", io.BytesIO(), tty, environ={"TERM": "dumb"}).mode == "plain"
    finally:
        os.close(main)


def test_progress_counts_cost_nothing_per_host_at_a_thousand():
    hosts = [f"h{i:04d}" for i in range(1000)]
    plan = plan_of(hosts)
    stream = io.BytesIO()
    live = LiveSink(plan, StatusArea(stream), clock=lambda: 0.0)  # the clock never moves: one draw at most
    live.handle(RunStarted(0.0))
    for i in range(1000):
        live.handle(StepStarted(i, float(i)))
    for i in range(1000):
        live.handle(StepEnded(i, "succeeded", 2000.0))
    assert live.draws == 1
    assert live.progress.counts["succeeded"] == 1000 and not live.progress.running
    p = Progress(plan)
    assert p.waiting == 1000


def test_timestamps_and_task_before_the_prefix():
    plan = plan_of(("web-1",))
    out = io.BytesIO()
    sink = TerminalSink(plan, Terminal(out), Terminal(io.BytesIO()), timestamps=True, show_task=True, clock=lambda: 3661.5)
    sink.handle(StepStarted(0, 0.0))
    sink.handle(OutputChunk(0, "stdout", b"hi\n"))
    assert out.getvalue() == b"01:01:01.500 [deploy] [remote:web-1] hi\n"


def test_host_prefix_colour_is_stable_and_output_is_not_recoloured():
    plan = plan_of(("web-1",))
    out = io.BytesIO()
    sink = TerminalSink(plan, Terminal(out), Terminal(io.BytesIO()), colour=True)
    sink.handle(StepStarted(0, 0.0))
    sink.handle(OutputChunk(0, "stdout", b"\x1b[31mred\n"))
    line = out.getvalue()
    assert re.fullmatch(rb"\x1b\[[0-9]+m\[remote:web-1\]\x1b\[0m \\x1b\[31mred\n", line), line
