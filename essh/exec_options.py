"""What ESSH's `essh --exec` options need beyond passing a value on: `--script-file`."""

from __future__ import annotations

from collections.abc import Sequence


class ScriptFileError(ValueError):
    """`--script-file` named no readable file: one line for the user."""


def read_script_file(words: Sequence[str]) -> str:
    """The commands held in the one file `words` names (ESSH's `--script-file`)."""
    if len(words) != 1:
        raise ScriptFileError(f"--script-file takes one file, not {len(words)} words")
    try:
        with open(words[0], "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ScriptFileError(f"cannot read script file {words[0]}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScriptFileError(f"script file {words[0]} is not UTF-8 text") from None
