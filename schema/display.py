"""Text from elsewhere, made safe to show a person: one rule for every place essh prints.

Remote output, server messages and configuration text may carry terminal escape
sequences, carriage returns, C1 controls or bidirectional overrides that would let
a host erase lines or make a review show something other than what runs. Like
OpenSSH's `strnvis`, these are shown escaped (`\\x1b`, `\\r`, `\\u202e`), never
passed to the terminal. Tab stays (it moves the cursor forward only); a newline
stays where the caller allows several lines. Raw bytes are kept only in log files.
"""

from __future__ import annotations

import re

# Shown as they are: printable characters (Python's `str.isprintable`: not a
# control, format, separator-other-than-space, surrogate, private or unassigned
# code point) and tab. That covers C0/C1 controls, DEL, bidi overrides and
# isolates, zero-width characters and line/paragraph separators.
_NEEDS_LOOK = re.compile(rb"[^\t\n\x20-\x7e]")  # bytes that are not printable ASCII, tab or newline
_CR_BEFORE_NL = re.compile("\r+\n")


def _escape_char(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _escape(text: str, keep: str = "\t") -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else _escape_char(c) for c in text)


def escape_text(text: str, *, newlines: bool = False) -> str:
    """`text` with every unsafe character escaped; with `newlines`, newlines are kept
    (and a carriage return just before a newline is dropped, as a terminal would show it)."""
    if newlines:
        if "\r" in text:
            text = _CR_BEFORE_NL.sub("\n", text)
        return _escape(text, keep="\t\n")
    return _escape(text)


def escape_line(data: bytes) -> bytes:
    """One line of remote output (ending in b"\\n" or not) made safe for a terminal.

    Valid UTF-8 text stays as it is; an undecodable byte shows as `\\xNN`. A
    carriage return just before the line's newline (a terminal's CRLF) is dropped;
    one inside the line is escaped, so it cannot return to the line's start.
    """
    if not _NEEDS_LOOK.search(data):
        return data  # the common case: printable ASCII
    text = data.decode("utf-8", "surrogateescape")
    ends = text.endswith("\n")
    body = text[:-1].rstrip("\r") if ends else text
    return _escape(body).encode("utf-8") + (b"\n" if ends else b"")
