"""What the typer-free paths (essh.fast_plan, essh.fast_apply) share: reading a command line by hand, and ending an error as one line.

A reader takes only the forms it knows to read exactly as typer does: each option
at most once, spelt in full as a separate word, a value that does not look like
an option. Anything else is left to typer (None), so help, usage errors and
their exit codes come from one place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence


def read_words(
    words: Sequence[str], flags: Mapping[str, str], valued: Mapping[str, str]
) -> tuple[list[str], dict[str, object]] | None:
    """The positional words and the options (`flags` and `valued` map an option to its
    name) of `words`, the command line after its command word; None when typer must read it."""
    found: dict[str, object] = {}
    positional: list[str] = []
    rest = iter(words)
    for word in rest:
        if not word.startswith("-"):
            positional.append(word)
            continue
        name = flags.get(word) or valued.get(word)
        if name is None or name in found:
            return None
        if word in flags:
            found[name] = True
            continue
        value = next(rest, None)
        if not value or value.startswith("-"):
            return None
        found[name] = value
    return positional, found


def count(value: object, minimum: int) -> int | None:
    """An integer option's value as typer reads it, when it is plain digits at least `minimum`; else None."""
    text = str(value)
    if not (text.isascii() and text.isdigit()) or int(text) < minimum:
        return None
    return int(text)


@contextlib.contextmanager
def errors_as_lines(debug: bool) -> Iterator[None]:
    """Every error as one line on stderr and SystemExit with its exit code, as essh.cli_app._errors
    does for typer; essh's stdout flushed at the end."""
    from essh import stdout

    from .plan_steps import error_line, say_error

    try:
        try:
            yield
        except BaseException as exc:
            turned = error_line(exc, debug)
            if turned is None:
                raise
            say_error(turned[0])
            raise SystemExit(turned[1]) from None
    finally:
        stdout.flush()
