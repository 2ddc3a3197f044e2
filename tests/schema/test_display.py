"""The one escaping rule for text shown to a person (schema/display.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from essh.schema import escape_line, escape_text


def test_terminal_controls_in_a_line_are_escaped() -> None:
    assert escape_line(b"ok\x1b[2K\r[remote:web-2] migration OK\n") == b"ok\\x1b[2K\\r[remote:web-2] migration OK\n"


def test_osc_title_and_clipboard_are_escaped() -> None:
    assert escape_line(b"\x1b]0;pwned\x07\x1b]52;c;ZWNobw==\x07\n") == b"\\x1b]0;pwned\\x07\\x1b]52;c;ZWNobw==\\x07\n"


def test_crlf_line_end_is_a_line_end() -> None:
    assert escape_line(b"from a pty\r\n") == b"from a pty\n"


def test_utf8_stays_and_bad_bytes_and_c1_and_bidi_are_escaped() -> None:
    assert escape_line("café ✓\n".encode()) == "café ✓\n".encode()
    assert escape_line(b"\xff \xc2\x9b \xe2\x80\xae\n") == b"\\xff \\x9b \\u202e\n"


def test_text_escapes_newlines_unless_allowed() -> None:
    assert escape_text("a\nb") == "a\\nb"
    assert escape_text("a\r\nb\x1b", newlines=True) == "a\nb\\x1b"
    assert escape_text("tab\tstays") == "tab\tstays"


@given(st.binary(max_size=200))
def test_escaped_output_has_no_control_bytes(data: bytes) -> None:
    line = data.replace(b"\n", b"") + b"\n"
    shown = escape_line(line)
    assert shown.endswith(b"\n")
    body = shown[:-1].decode("utf-8")  # always valid UTF-8
    assert all(c == "\t" or (c.isprintable() and c not in "\u2028\u2029") or c == " " for c in body), body


@given(st.text(max_size=200))
def test_escaped_text_is_printable(text: str) -> None:
    shown = escape_text(text)
    assert all(c == "\t" or c.isprintable() for c in shown), shown
