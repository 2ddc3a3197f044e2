"""`did you mean` for a name that is not defined: one rule for every such error.

The closest known name by `difflib`'s ratio (at least 0.6), or no hint at all.
"""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`; did you mean "x"?` for the known name closest to `name`, or ``."""
    import difflib  # only when a name is wrong

    match = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f'; did you mean "{match[0]}"?' if match else ""
