"""The pid line filter: finds this run's pid mark anywhere (even mid-line) and removes only it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from essh.executor.pid_line import PID_MARK, SCAN_LIMIT, PidLineFilter

NONCE = "5eed5eed5eed5eed"
MARK = PID_MARK + NONCE.encode() + b" "


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def run_filter(data: bytes, cuts: list[int]) -> tuple[bytes, PidLineFilter]:
    pid_filter = PidLineFilter(NONCE)
    shown = b"".join(pid_filter.feed(piece) for piece in chunked(data, cuts)) + pid_filter.finish()
    return shown, pid_filter


@given(
    before=st.binary(max_size=300).map(lambda b: b.replace(MARK[:4], b"")),
    pid=st.integers(min_value=2, max_value=4_194_304),
    crlf=st.booleans(),
    after=st.binary(max_size=200),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
def test_pid_line_is_found_and_only_it_removed(before, pid, crlf, after, cuts):
    # `before` may end without a newline: a .bashrc that printed `Welcome ` to stderr.
    line = MARK + str(pid).encode() + (b"\r\n" if crlf else b"\n")
    shown, pid_filter = run_filter(before + line + after, cuts)
    assert pid_filter.pid == pid
    assert shown == before + after


@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(min_value=0), max_size=10))
def test_without_a_pid_line_everything_passes(data, cuts):
    data = data.replace(MARK, b"")
    shown, pid_filter = run_filter(data, cuts)
    assert shown == data
    assert pid_filter.pid is None


def test_a_chatty_rc_file_without_a_newline_does_not_hide_the_mark():
    shown, pid_filter = run_filter(b"Welcome " + MARK + b"4242\nwarn\n", [3, 12, 20])
    assert (shown, pid_filter.pid) == (b"Welcome warn\n", 4242)


def test_another_runs_mark_is_not_taken():
    other = PID_MARK + b"ffffffffffffffff 12\n"
    shown, pid_filter = run_filter(other + b"ok\n", [5, 9])
    assert (shown, pid_filter.pid) == (other + b"ok\n", None)


def test_gives_up_after_the_scan_limit():
    pid_filter = PidLineFilter(NONCE)
    noise = b"x" * 100 + b"\n"
    shown = b"".join(pid_filter.feed(noise) for _ in range(SCAN_LIMIT // len(noise) + 2))
    assert pid_filter.done and pid_filter.pid is None
    assert pid_filter.feed(MARK + b"5\n") == MARK + b"5\n"
    assert len(shown) == len(noise) * (SCAN_LIMIT // len(noise) + 2)
