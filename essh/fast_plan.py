"""`essh plan` in its common forms without typer: the command line read by hand, the plan made by essh.plan_steps.

Building typer's command tree costs more than planning a small configuration,
so essh.entry hands `essh plan ...` here first. `parse` takes only the forms it
knows to read exactly as typer does (tasks, -o/--out FILE, --json, -v/--verbose,
--no-color, -c/--config FILE, --debug, and `-- ARGS`); for anything else
(--help, another option, `--out=FILE`, an option given twice, a value that
looks like an option, shell completion) it returns None and typer reads the
command line, so help, usage errors and their exit codes come from one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec

from .fast_words import errors_as_lines, read_words

FLAGS = {"--json": "json", "-v": "verbose", "--verbose": "verbose", "--no-color": "no_color", "--debug": "debug"}
VALUED = {"-o": "out", "--out": "out", "-c": "config", "--config": "config"}


class PlanCall(msgspec.Struct, frozen=True):
    """One `essh plan` command line, as typer would hand it to the command."""

    tasks: tuple[str, ...] = ()
    task_args: tuple[str, ...] = ()
    out: Path | None = None
    config: str | None = None
    json: bool = False
    verbose: bool = False
    no_color: bool = False
    debug: bool = False


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> PlanCall | None:
    """The call `argv` (the words after `essh`) makes, or None when typer must read it."""
    words = list(argv)
    if not words or words[0] != "plan" or "_ESSH_COMPLETE" in environ:
        return None
    task_args: list[str] = []
    if "--" in words:
        cut = words.index("--")
        words, task_args = words[:cut], words[cut + 1 :]
    read = read_words(words[1:], FLAGS, VALUED)
    if read is None:
        return None
    tasks, found = read
    if environ.get("ESSH_DEBUG"):
        found["debug"] = True  # what essh_forms adds for typer
    config = found.get("config") or environ.get("ESSH_CONFIG") or None
    out = found.get("out")
    return PlanCall(
        tasks=tuple(tasks),
        task_args=tuple(task_args),
        out=Path(str(out)) if out is not None else None,
        config=str(config) if config is not None else None,
        json=bool(found.get("json")),
        verbose=bool(found.get("verbose")),
        no_color=bool(found.get("no_color")),
        debug=bool(found.get("debug")),
    )


def run(call: PlanCall) -> None:
    """Make, save and show the plan as `essh plan` does; an error is one line and SystemExit with its code."""
    from essh import schema

    from . import plan_steps

    with errors_as_lines(call.debug):
        the_plan = plan_steps.make(call.config, call.tasks, call.task_args, call.debug)
        data = schema.encode_plan(the_plan)
        if call.out:
            plan_steps.save_bytes(data, call.out)
        plan_steps.show_plan(the_plan, data, call.out, json=call.json, verbose=call.verbose, no_color=call.no_color)
