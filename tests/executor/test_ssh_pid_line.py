"""The pid line filter: finds the remote shell's pid line anywhere at a line start and removes only it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from essh.executor.pid_line import PID_MARK, SCAN_LIMIT, PidLineFilter


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def run_filter(data: bytes, cuts: list[int]) -> tuple[bytes, PidLineFilter]:
    pid_filter = PidLineFilter()
    shown = b"".join(pid_filter.feed(piece) for piece in chunked(data, cuts)) + pid_filter.finish()
    return shown, pid_filter


foreign_line = st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"") + b"\n").filter(
    lambda line: not line.startswith(PID_MARK)
)


@given(
    before=st.lists(foreign_line, max_size=5),
    pid=st.integers(min_value=1, max_value=4_194_304),
    crlf=st.booleans(),
    after=st.binary(max_size=200),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
def test_pid_line_is_found_and_only_it_removed(before, pid, crlf, after, cuts):
    shown_before = b"".join(before)
    line = PID_MARK + str(pid).encode() + (b"\r\n" if crlf else b"\n")
    shown, pid_filter = run_filter(shown_before + line + after, cuts)
    assert pid_filter.pid == pid
    assert shown == shown_before + after


@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(min_value=0), max_size=10))
def test_without_a_pid_line_everything_passes(data, cuts):
    data = data.replace(PID_MARK, b"")
    shown, pid_filter = run_filter(data, cuts)
    assert shown == data
    assert pid_filter.pid is None


def test_mark_inside_a_line_is_not_taken():
    shown, pid_filter = run_filter(b"say ESSH-PID 12\nok\n", [5, 9])
    assert (shown, pid_filter.pid) == (b"say ESSH-PID 12\nok\n", None)


def test_gives_up_after_the_scan_limit():
    pid_filter = PidLineFilter()
    noise = b"x" * 100 + b"\n"
    shown = b"".join(pid_filter.feed(noise) for _ in range(SCAN_LIMIT // len(noise) + 2))
    assert pid_filter.done and pid_filter.pid is None
    assert pid_filter.feed(b"ESSH-PID 5\n") == b"ESSH-PID 5\n"
    assert len(shown) == len(noise) * (SCAN_LIMIT // len(noise) + 2)
