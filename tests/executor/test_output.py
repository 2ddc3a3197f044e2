"""StepOutput: whole lines per write, aligned prefixes, passthrough, bounded tails, exact logs."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from essh.executor.output import MAX_LINE, StepOutput
from essh.schema import TAIL_BYTES


class Writes(io.BytesIO):
    """A binary stream that remembers every write call separately."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[bytes] = []

    def write(self, data) -> int:  # type: ignore[override]
        self.calls.append(bytes(data))
        return super().write(data)


def make(prefix: str | None = "[remote:web-1]", width: int = 15, log_path: str | None = None, passthrough: bool = False):
    stdout, stderr = Writes(), Writes()
    out = StepOutput(prefix=prefix, width=width, stdout=stdout, stderr=stderr, log_path=log_path, passthrough=passthrough)
    return out, stdout, stderr


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def test_prefix_padded_to_width_and_streams_kept_apart():
    out, stdout, stderr = make()
    out.feed("stdout", b"one\ntw")
    out.feed("stderr", b"oops\n")
    out.feed("stdout", b"o\n")
    out.close()
    assert stdout.getvalue() == b"[remote:web-1]  one\n[remote:web-1]  two\n"
    assert stderr.getvalue() == b"[remote:web-1]  oops\n"


def test_template_ending_in_space_brings_its_own_separator():
    out, stdout, _ = make(prefix="[web-1] ", width=9)
    out.feed("stdout", b"x\n")
    assert stdout.getvalue() == b"[web-1]  x\n"


def test_unfinished_line_is_finished_at_close_and_crlf_trimmed():
    out, stdout, _ = make(prefix="[p]", width=3)
    out.feed("stdout", b"tty line\r\nno newline")
    assert stdout.getvalue() == b"[p] tty line\n"
    out.close()
    out.close()
    assert stdout.getvalue() == b"[p] tty line\n[p] no newline\n"


def test_passthrough_is_untouched():
    out, stdout, stderr = make(prefix=None, passthrough=True)
    for piece in (b"\x1b[1mbold", b" no newline\r", b"\xff\n"):
        out.feed("stdout", piece)
    out.feed("stderr", b"e")
    out.close()
    assert stdout.getvalue() == b"\x1b[1mbold no newline\r\xff\n"
    assert stderr.getvalue() == b"e"


def test_long_line_is_written_in_bounded_pieces():
    out, stdout, _ = make(prefix="[p]", width=3)
    for _ in range(10):
        out.feed("stdout", b"y" * (MAX_LINE // 2 + 1))
    assert max(map(len, stdout.calls)) <= MAX_LINE + 8
    out.close()
    body = b"".join(line[4:] for line in stdout.getvalue().split(b"\n") if line)
    assert body == b"y" * (10 * (MAX_LINE // 2 + 1))


def test_tail_keeps_the_last_bytes_and_decodes_with_replacement():
    out, _, _ = make()
    out.feed("stdout", b"a" * TAIL_BYTES)
    out.feed("stdout", b"b" * 10 + b"\xff")
    tail = out.tail("stdout")
    assert len(tail) == TAIL_BYTES and tail.endswith("b" * 10 + "\ufffd") and tail.startswith("a")
    assert out.tail("stderr") == ""


def test_log_file_gets_every_byte_of_both_streams(tmp_path):
    log = tmp_path / "step.log"
    out, _, _ = make(log_path=str(log))
    out.feed("stdout", b"out\n")
    out.feed("stderr", b"err no newline")
    out.close()
    assert log.read_bytes() == b"out\nerr no newline"


@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    trailing=st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_any_chunking_gives_the_same_whole_lines(lines, trailing, cuts):
    data = b"".join(line + b"\n" for line in lines) + trailing
    out, stdout, _ = make(prefix="[h]", width=5)
    for piece in chunked(data, cuts):
        out.feed("stdout", piece)
    out.close()
    expected = [line.rstrip(b"\r") for line in lines] + ([trailing.rstrip(b"\r")] if trailing else [])
    assert stdout.getvalue() == b"".join(b"[h]   " + line + b"\n" for line in expected)
    # every write holds whole lines only
    assert all(call.endswith(b"\n") and call.startswith(b"[h]   ") for call in stdout.calls)


@given(data=st.binary(max_size=3 * TAIL_BYTES // 2), cuts=st.lists(st.integers(min_value=0), max_size=8))
def test_tail_is_the_last_bytes_whatever_the_chunks(data, cuts):
    out, _, _ = make(prefix=None, passthrough=True)
    for piece in chunked(data, cuts):
        out.feed("stderr", piece)
    assert out.tail("stderr") == data[-TAIL_BYTES:].decode("utf-8", "replace")
