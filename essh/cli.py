"""The `essh` command line: thin glue from the planner to the plan file to the executor.

The typer `app`, its shared options and error handling are in essh.cli_app; the
commands are in essh/commands_*.py, registered on `app` when imported here, and
listed by `essh --help` in HELP_ORDER. This module is the entry: it rewrites
ESSH's command-line forms and runs `app`.

Arguments after a lone `--` are the tasks' arguments (ESSH_TASK_ARGS_<N>); they
are split off here, before typer sees the command line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

from essh import stdout

from . import commands_apply, commands_config, commands_plan, commands_report, commands_ssh  # noqa: F401  (they register on app)
from .cli_app import _errors, _fail, app
from .plan_steps import Abort
from .plan_steps import load as _load

__all__ = ["Abort", "_errors", "_essh_forms", "_fail", "app", "main"]

HELP_ORDER = (
    "plan", "show", "sign", "apply", "run", "exec", "hosts", "tasks", "tags", "validate", "diff",
    "graph", "init", "ssh", "scp", "rsync", "modules", "completion",
)


def _help_rank(name: str) -> int:
    return HELP_ORDER.index(name) if name in HELP_ORDER else len(HELP_ORDER)


app.registered_commands.sort(key=lambda c: _help_rank(c.name or c.callback.__name__))  # type: ignore[union-attr]


def _essh_forms(words: list[str]) -> list[str]:
    """ESSH's command-line forms in essh's (`essh_forms`); --working-dir and --with-global are done here."""
    from .essh_forms import FormError, rewrite
    from .registry_cli import take_with_global

    words = take_with_global(words)
    if not words:
        return words
    group = typer.main.get_command(app)
    commands = {name: {o for p in c.params for o in p.opts} for name, c in group.commands.items()}  # type: ignore[attr-defined]

    def kind_of(word: str, config: str | None) -> str | None:
        cfg = _load(config)
        return "task" if word in cfg.tasks else "host" if word in cfg.hosts else None

    try:
        with _errors("--debug" in words):
            try:
                form = rewrite(words, commands, os.environ, kind_of)
            except FormError as exc:
                raise Abort(str(exc)) from None
            if form.working_dir is not None:
                try:
                    os.chdir(form.working_dir)
                except OSError as exc:
                    raise Abort(f"--working-dir {form.working_dir}: {exc.strerror or exc}") from None
            return form.words
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    return words  # not reached: _errors raises


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `essh` console script and `python -m essh`."""
    words = list(sys.argv[1:] if argv is None else argv)
    if "--" in words:
        cut = words.index("--")
        words, task_args = words[:cut], words[cut + 1 :]
    else:
        task_args = []
    try:
        words = _essh_forms(words)
        app(args=words, prog_name="essh", obj=tuple(task_args))
    finally:
        stdout.flush()  # before the interpreter's own flush, which would complain of a reader gone
