"""The seed's list syntax: `targets = ["web-*"]` rewritten to Lua's `{"web-*"}`.

`translate(source)` turns a `[` that stands where a value is expected, and its
matching `]`, into `{` and `}`. Everything else keeps Lua's meaning:

- strings, long strings (`[[...]]`, `[==[...]==]`) and comments are never
  looked into; `[["a"]]` stays a long string (write `[ ["a"] ]` for a nested list);
- a `[` right after a name, a keyword value, `]`, `)`, `}` or a string indexes;
- a `[` whose matching `]` is followed by `=` is a table key (`{ ["k"] = v }`);
- a `[` that is never properly closed is left alone, so Lua reports its own
  "unexpected symbol near '['" at the line where the list starts.

Only single characters are swapped, so lines and byte columns do not move and
Lua's error messages keep pointing at the user's file:line. Plain Lua (without
the list syntax) comes out unchanged. The scan is linear: the regular
expression skips over strings and other tokens that cannot affect a bracket,
and Python only looks at brackets and comments.
"""

from __future__ import annotations

import re

__all__ = ["translate"]

# One match: a run of tokens that cannot matter (consumed whole, so brackets in
# strings are never seen), then a comment or a bracket, or the end of the source.
_SHORT_DQ = r'"[^"\\\r\n]*(?:\\(?:z\s*|\r\n|\n\r|[\s\S])[^"\\\r\n]*)*"?'
_SHORT_SQ = r"'[^'\\\r\n]*(?:\\(?:z\s*|\r\n|\n\r|[\s\S])[^'\\\r\n]*)*'?"
_LONG_BRACKET = r"\[(?P<{eq}>=*)\[[\s\S]*?\](?P={eq})\]|\[=*\[[\s\S]*"  # unfinished: the rest is Lua's error
_COMMENT = "--(?:" + _LONG_BRACKET.format(eq="ceq") + r"|[^\r\n]*)"
_SCAN = re.compile(
    r"(?:[^-\[\]{}()\"']+|-(?!-)|"
    + _SHORT_DQ
    + "|"
    + _SHORT_SQ
    + "|"
    + _LONG_BRACKET.format(eq="seq")
    + r")*+(?:(?P<comment>"
    + _COMMENT
    + r")|(?P<bracket>[\[\]{}()])|\Z)"
)
_COMMENT_AT = re.compile(_COMMENT)
_FORWARD_SPACE = re.compile(r"[ \t\r\n\f\v]*")
_SPACE = frozenset(" \t\r\n\f\v")
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
# Keywords after which an expression starts.
_VALUE_KEYWORDS = frozenset({"return", "and", "or", "not", "in", "if", "elseif", "while", "until"})
# Last characters of tokens after which an expression starts.
_VALUE_PUNCT = frozenset("=({[,;+-*/%^#&|~<>")
_OPENER_OF = {"]": "[", "}": "{", ")": "("}

# Kinds of `[` on the bracket stack.
_INDEX = 0  # left alone
_VALUE = 1  # a list, unless its `]` is followed by `=` (then a table key)


def translate(source: str) -> str:
    """`source` with list syntax rewritten to Lua tables; same length, same lines."""
    brackets = _Brackets(source)
    for m in _SCAN.finditer(source):
        group = m.lastgroup
        if group == "comment":
            brackets.comment_start_by_end[m.end()] = m.start(group)
        elif group == "bracket":
            brackets.see(m.start(group))
    if not brackets.swaps:
        return source
    pieces = []
    done = 0
    for pos in sorted(brackets.swaps):
        pieces.append(source[done:pos])
        pieces.append("{" if source[pos] == "[" else "}")
        done = pos + 1
    pieces.append(source[done:])
    return "".join(pieces)


class _Brackets:
    """The open brackets of one scan, and the positions of the finished lists."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.comment_start_by_end: dict[int, int] = {}
        self.stack: list[tuple[str, int, int]] = []  # (opener, kind, position)
        self.open_count = {"[": 0, "{": 0, "(": 0}  # keeps stray closers from scanning the stack
        self.swaps: list[int] = []

    def see(self, pos: int) -> None:
        char = self.source[pos]
        if char in "[{(":
            kind = _value_position(self.source, pos, self.comment_start_by_end) if char == "[" else _INDEX
            self.stack.append((char, kind, pos))
            self.open_count[char] += 1
            return
        opener = _OPENER_OF[char]
        if not self.open_count[opener]:
            return  # a stray closer: Lua will say so
        stack = self.stack
        while True:
            # Openers above the match were never closed: they stay as written.
            top, kind, start = stack.pop()
            self.open_count[top] -= 1
            if top == opener:
                break
        if kind == _VALUE and not _followed_by_assignment(self.source, pos + 1, self.comment_start_by_end):
            self.swaps.append(start)
            self.swaps.append(pos)


def _value_position(source: str, pos: int, comments: dict[int, int]) -> int:
    """Whether the `[` at `pos` starts a value (`_VALUE`) or is anything else."""
    p = _previous_significant(source, pos, comments)
    if p < 0:
        return _INDEX
    c = source[p]
    if c in _WORD:
        start = p
        while start > 0 and source[start - 1] in _WORD:
            start -= 1
        word = source[start : p + 1]
        return _VALUE if word in _VALUE_KEYWORDS else _INDEX
    if c == ".":
        # `..` concatenates; a lone `.` or `...` cannot precede a value.
        is_concat = p >= 1 and source[p - 1] == "." and (p < 2 or source[p - 2] != ".")
        return _VALUE if is_concat else _INDEX
    return _VALUE if c in _VALUE_PUNCT else _INDEX


def _previous_significant(source: str, pos: int, comments: dict[int, int]) -> int:
    """Index of the last character before `pos` outside whitespace and comments, or -1."""
    p = pos - 1
    while True:
        while p >= 0 and source[p] in _SPACE:
            p -= 1
        start = comments.get(p + 1)
        if start is None:
            return p
        p = start - 1


def _followed_by_assignment(source: str, pos: int, comments: dict[int, int]) -> bool:
    """Whether the next token from `pos` on is `=` (not `==`), past spaces and comments."""
    n = len(source)
    while True:
        pos = _FORWARD_SPACE.match(source, pos).end()
        if source.startswith("--", pos):
            pos = _COMMENT_AT.match(source, pos).end()
            continue
        return pos < n and source[pos] == "=" and source[pos + 1 : pos + 2] != "="
