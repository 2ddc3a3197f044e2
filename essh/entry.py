"""The `essh` console script: answers `essh --version` before any import, `essh plan` and `essh apply PLAN_FILE` without typer, else hands over to essh.cli.

`essh --version` is what scripts and package managers run to probe essh; with
this module it costs the interpreter's start-up and nothing else (typer, click
and msgspec are not imported for it). `essh plan` in its common forms goes to
essh.fast_plan, and `essh apply PLAN_FILE` to essh.fast_apply, which never
import typer; any other form goes to typer.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    try:
        _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:  # before a command took charge of it (essh's modules still being imported)
        sys.stderr.write("essh: interrupted\n")
        raise SystemExit(130) from None  # EXIT_INTERRUPTED, not imported for this


def _main(words: list[str]) -> None:
    if words == ["--version"]:
        from essh import __version__, stdout  # stdout: a reader that left early is not an error

        try:
            stdout.write_lines([f"essh {__version__}"])
        except stdout.OutputError as exc:
            sys.stderr.write(f"essh: {exc}\n")
            raise SystemExit(74) from None
        return
    if words[:1] == ["plan"]:
        import os

        from essh import fast_plan

        call = fast_plan.parse(words, os.environ)
        if call is not None:
            fast_plan.run(call)
            return
    if words[:1] == ["apply"]:
        import os

        from essh import fast_apply

        applied = fast_apply.parse(words, os.environ)
        if applied is not None:
            fast_apply.run(applied)
    from essh.cli import main as cli_main

    cli_main(words)
