"""Whether to use colour, and the few SGR styles essh uses: standard library only, no work at import.

Decided once per command (`wants_colour`), in this order: `--no-color`, then
`NO_COLOR` (any non-empty value, https://no-color.org), then `FORCE_COLOR`
(non-empty and not `0`), then `TERM=dumb`, then whether the stream is a
terminal. The executor imports this module too (host prefix colours): it is
plain functions over strings, no library.

Only essh's own text is styled: the review, the summary, prefixes and the
status area. Remote output is never recoloured (and stays escaped, so it
cannot colour anything either).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from typing import IO

RESET = "\x1b[0m"
_STYLES = {
    "bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36",
    "bold_red": "1;31", "bold_green": "1;32", "bold_yellow": "1;33",
}
# Distinct on dark and light backgrounds alike; red is left for failures.
_HOST_COLOURS = ("36", "32", "33", "34", "35", "96", "92", "93", "94", "95")


def wants_colour(stream: IO | None, *, no_color: bool = False, environ: Mapping[str, str] | None = None) -> bool:
    """Whether text written to `stream` should be coloured."""
    env = os.environ if environ is None else environ
    if no_color or env.get("NO_COLOR", ""):
        return False
    force = env.get("FORCE_COLOR", "")
    if force and force != "0":
        return True
    if env.get("TERM", "") == "dumb":
        return False
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):  # closed
        return False


class Palette:
    """Styles text when enabled, and is the identity when not."""

    __slots__ = ("enabled",)

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def style(self, text: str, name: str) -> str:
        if not self.enabled or not text:
            return text
        return f"\x1b[{_STYLES[name]}m{text}{RESET}"

    def host(self, text: str, key: str) -> str:
        """`text` in the colour of `key` (a host name): the same on every run, neighbours differ."""
        if not self.enabled or not text:
            return text
        return f"\x1b[{host_sgr(key)}m{text}{RESET}"


def host_sgr(key: str) -> str:
    """The SGR parameters of `key`'s colour (crc32, not hash(): stable across runs)."""
    return _HOST_COLOURS[zlib.crc32(key.encode("utf-8", "surrogateescape")) % len(_HOST_COLOURS)]
