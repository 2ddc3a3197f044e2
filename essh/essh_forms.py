"""ESSH's command-line forms, rewritten into essh's before typer reads the command line.

ESSH 3 took everything as double-dash options around one word: `essh --hosts
--select web`, `essh --config x.lua --debug deploy`, `essh web-1` (a login),
`essh deploy` (a task). This module turns such a command line into essh's
(`essh hosts --select web`, `essh run --config x.lua --debug deploy`,
`essh ssh web-1`, `essh run deploy`); anything already in essh's form passes
through unchanged. Pure but for the one question that needs the
configuration (is this word a task or a host?), which the caller answers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

import msgspec

# ESSH's options that name the command to run.
COMMAND_FLAGS = {
    "--hosts": ["hosts"], "--tasks": ["tasks"], "--tags": ["tags"], "--exec": ["exec"],
    "--print": ["ssh", "--print"], "--gen": ["ssh", "--gen"],
    "--zsh-completion": ["completion", "zsh"], "--bash-completion": ["completion", "bash"],
    "--update": ["modules", "update"], "--clean-modules": ["modules", "clean"],
}
# ESSH's options that hold for every command and take a value (--debug, --color, --no-color take none).
WITH_VALUE = ("--config", "--working-dir")


class FormError(ValueError):
    """A command line in neither essh's form nor ESSH's: one line for the user."""


class Rewritten(msgspec.Struct):
    """essh's command line, and the global options ESSH users put before the command."""

    words: list[str]
    working_dir: str | None = None
    config: str | None = None
    debug: bool = False
    colour: bool | None = None


def _take_globals(words: list[str], out: Rewritten) -> list[str]:
    """Consume the global options at the front of `words`; the rest is returned."""
    while words:
        word = words[0]
        name, eq, value = word.partition("=")
        if name in WITH_VALUE:
            if not eq:
                if len(words) < 2:
                    raise FormError(f"{name} needs a value")
                value, words = words[1], words[1:]
            if name == "--config":
                out.config = value
            else:
                out.working_dir = value
        elif word == "--debug":
            out.debug = True
        elif word in ("--color", "--no-color"):
            out.colour = word == "--color"
        else:
            return words
        words = words[1:]
    return words


def rewrite(
    argv: Sequence[str],
    commands: Mapping[str, Collection[str]],
    environ: Mapping[str, str],
    kind_of: Callable[[str, str | None], str | None],
) -> Rewritten:
    """essh's form of `argv` (the words before any lone `--`).

    `commands`: essh's command names, each with the options it takes (a global
    option is passed on to a command that takes it). `kind_of(word, config)` says whether a
    word is a "task" or a "host" of the configuration (None: neither); it is
    asked only for a first word that is no command.
    """
    out = Rewritten([])
    words = _take_globals(list(argv), out)
    out.debug = out.debug or bool(environ.get("ESSH_DEBUG"))
    if not words:
        out.words = []
        return out
    first = words[0]
    if first in COMMAND_FLAGS:
        command, *flags = COMMAND_FLAGS[first]
        rest = flags + words[1:]
    elif first in commands or first.startswith("-"):
        command, rest = first, words[1:]
    else:
        kind = kind_of(first, out.config)
        if kind == "task":
            command, rest = "run", words
        elif kind == "host":
            command, rest = "ssh", words
        else:
            raise FormError(
                f"'{first}' is not an essh command, nor a task or a host of the configuration"
                f" (commands: {', '.join(sorted(commands))}); `essh run TASK` runs a task, `essh ssh HOST` logs in"
            )
    if first.startswith("-") and first not in COMMAND_FLAGS:
        out.words = words  # --help, --version, or a mistake typer will name
        return out
    takes = commands.get(command, ())
    head = [command]
    if out.config is not None:
        if "--config" not in takes:
            raise FormError(f"essh {command} takes no --config")
        head += ["--config", out.config]
    if out.debug and "--debug" in takes:
        head.append("--debug")
    if out.colour is not None and "--color" in takes:
        head.append("--color" if out.colour else "--no-color")
    out.words = head + rest
    return out
