"""The terminal sink: whole lines per write, aligned prefixes, hostile bytes escaped,
passthrough only for a lone step; and the report builder's bounded tails."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from essh.executor.events import AttemptEnded, Notice, OutputChunk, StepEnded, StepStarted
from essh.executor.report_builder import ReportBuilder
from essh.executor.terminal import MAX_LINE, Terminal, TerminalSink
from essh.schema import TAIL_BYTES, Host

from plans import PlanBuilder


class Writes(io.BytesIO):
    """A binary stream that remembers every write call separately."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[bytes] = []

    def write(self, data) -> int:  # type: ignore[override]
        self.calls.append(bytes(data))
        return super().write(data)


def make(prefix: bool | str = True, hosts=("web-1", "web-22"), raw: bool = False, parallel: int = 0, **task):
    b = PlanBuilder([Host(name=h) for h in hosts])
    b.task("t", "x", hosts=list(hosts), prefix=prefix, parallel=parallel, **task)
    plan = b.build()
    stdout, stderr = Writes(), Writes()
    sink = TerminalSink(plan, Terminal(stdout), Terminal(stderr), raw=raw)
    return sink, stdout, stderr, plan


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def feed(sink, step: int, stream: str, data: bytes) -> None:
    sink.handle(OutputChunk(step, stream, data))  # type: ignore[arg-type]


def test_prefix_padded_to_width_and_streams_kept_apart():
    sink, stdout, stderr, _ = make()
    sink.handle(StepStarted(0, 0))
    feed(sink, 0, "stdout", b"one\ntw")
    feed(sink, 0, "stderr", b"oops\n")
    feed(sink, 0, "stdout", b"o\n")
    sink.handle(StepEnded(0, "succeeded", 1))
    assert stdout.getvalue() == b"[remote:web-1]  one\n[remote:web-1]  two\n"
    assert stderr.getvalue() == b"[remote:web-1]  oops\n"


def test_unfinished_line_is_finished_at_the_end_and_crlf_trimmed():
    sink, stdout, _, _ = make(prefix="[p]")
    sink.handle(StepStarted(0, 0))
    feed(sink, 0, "stdout", b"tty line\r\nno newline")
    assert stdout.getvalue() == b"[p] tty line\n"
    sink.handle(StepEnded(0, "succeeded", 1))
    assert stdout.getvalue() == b"[p] tty line\n[p] no newline\n"


def test_a_host_cannot_move_the_cursor_erase_lines_or_fake_another_host():
    sink, stdout, _, _ = make()
    sink.handle(StepStarted(0, 0))
    feed(sink, 0, "stdout", b"ok\x1b[1A\x1b[2K\r[remote:web-22] migration OK\n\x1b]0;title\x07\x1b]52;c;Zm9v\x07\n")
    shown = stdout.getvalue()
    assert b"\x1b" not in shown and b"\r" not in shown and b"\x07" not in shown
    assert shown.split(b"\n")[0] == b"[remote:web-1]  ok\\x1b[1A\\x1b[2K\\r[remote:web-22] migration OK"


def test_essh_notes_are_escaped_too():
    sink, _, stderr, _ = make()
    sink.handle(Notice("SSH error: \x1b[2Jbanner\r\nfake", 1))
    assert stderr.getvalue() == b"[remote:web-22] essh: SSH error: \\x1b[2Jbanner\\r\\nfake\n"


def test_passthrough_streams_a_lone_step_escaped_and_exact_when_raw():
    for raw, expected in [(False, b"\\x1b[1mbold no newline\\r\\xff\n"), (True, b"\x1b[1mbold no newline\r\xff\n")]:
        sink, stdout, stderr, _ = make(prefix=False, hosts=("h",), raw=raw)
        sink.handle(StepStarted(0, 0))
        for piece in (b"\x1b[1mbold", b" no newline\r", b"\xff\n"):
            feed(sink, 0, "stdout", piece)
        feed(sink, 0, "stderr", b"e")
        assert stderr.getvalue() == b"e"  # a partial line shows at once
        sink.handle(StepEnded(0, "succeeded", 1))
        assert stdout.getvalue() == expected
        assert stderr.getvalue() == b"e"  # left as the command left it


def test_utf8_split_across_chunks_is_not_escaped():
    sink, stdout, _, _ = make(prefix=False, hosts=("h",))
    sink.handle(StepStarted(0, 0))
    data = "café ✓\n".encode()
    for i in range(len(data)):
        feed(sink, 0, "stdout", data[i : i + 1])
    assert stdout.getvalue() == data


def test_two_unprefixed_steps_at_once_never_share_a_line():
    sink, stdout, _, _ = make(prefix=False, hosts=("a", "b"))
    sink.handle(StepStarted(0, 0))
    feed(sink, 0, "stdout", b"first half of a")  # alone: passthrough
    sink.handle(StepStarted(1, 0))  # now two run: the open line is ended, then whole lines only
    feed(sink, 1, "stdout", b"b says")
    feed(sink, 0, "stdout", b" and more\n")
    feed(sink, 1, "stdout", b" hi\n")
    assert stdout.getvalue() == b"first half of a\n and more\nb says hi\n"


def test_retry_notes_carry_the_prefix():
    sink, _, stderr, _ = make(retries=2)
    sink.handle(AttemptEnded(1, 1, "failed", 0, 1, 1, "exit status 1", "exit_status", retrying=True))
    assert stderr.getvalue() == b"[remote:web-22] essh: attempt 1 of 3: exit status 1; trying again\n"


def test_long_line_is_written_in_bounded_pieces():
    sink, stdout, _, _ = make(prefix="[p]")
    sink.handle(StepStarted(0, 0))
    for _ in range(10):
        feed(sink, 0, "stdout", b"y" * (MAX_LINE // 2 + 1))
    assert max(map(len, stdout.calls)) <= MAX_LINE + 8
    sink.handle(StepEnded(0, "succeeded", 1))
    body = b"".join(line[4:] for line in stdout.getvalue().split(b"\n") if line)
    assert body == b"y" * (10 * (MAX_LINE // 2 + 1))


def test_a_closed_stdout_stops_the_output_not_the_run():
    class Closed(io.BytesIO):
        def write(self, data) -> int:  # type: ignore[override]
            raise BrokenPipeError(32, "Broken pipe")

    b = PlanBuilder([Host(name="h")])
    b.task("t", "x", hosts=["h"], prefix=True)
    stdout = Terminal(Closed())
    sink = TerminalSink(b.build(), stdout, Terminal(io.BytesIO()))
    sink.handle(StepStarted(0, 0))
    feed(sink, 0, "stdout", b"lost\n")
    feed(sink, 0, "stdout", b"lost too\n")
    assert stdout.broken


@given(
    lines=st.lists(st.text(max_size=40).map(lambda t: t.replace("\n", "").encode()), max_size=30),
    trailing=st.text(max_size=20).map(lambda t: t.replace("\n", "").encode()),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_any_chunking_gives_the_same_whole_lines(lines, trailing, cuts):
    from essh.schema import escape_line

    data = b"".join(line + b"\n" for line in lines) + trailing
    sink, stdout, _, _ = make(prefix="[h]")
    sink.handle(StepStarted(0, 0))
    for piece in chunked(data, cuts):
        feed(sink, 0, "stdout", piece)
    sink.handle(StepEnded(0, "succeeded", 1))
    expected = [line.rstrip(b"\r") for line in lines] + ([trailing.rstrip(b"\r")] if trailing else [])
    assert stdout.getvalue() == b"".join(b"[h] " + escape_line(line) + b"\n" for line in expected)
    assert all(call.endswith(b"\n") and call.startswith(b"[h] ") for call in stdout.calls)


@given(data=st.binary(max_size=3 * TAIL_BYTES // 2), cuts=st.lists(st.integers(min_value=0), max_size=8))
def test_tail_is_the_last_bytes_whatever_the_chunks(data, cuts):
    b = PlanBuilder([Host(name="h")])
    b.task("t", "x", hosts=["h"])
    builder = ReportBuilder(b.build(), "0" * 64, "test")
    builder.handle(StepStarted(0, 0))
    for piece in chunked(data, cuts):
        builder.handle(OutputChunk(0, "stderr", piece))
    assert builder.report().steps[0].stderr_tail == data[-TAIL_BYTES:].decode("utf-8", "replace")
