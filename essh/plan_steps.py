"""The steps of `essh plan` that need no typer: load, plan, save, show, and the one-line errors.

essh.cli (the typer commands) and essh.fast_plan (the typer-free start of
`essh plan`) both run these, so the two paths say the same things and end with
the same exit codes. Nothing here imports typer or click.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import essh
from essh import schema, stdout
from essh.places import PlaceError, make_parent
from essh.schema import EXIT_BUG, EXIT_INTERRUPTED, EXIT_REPORT_LOST, EXIT_USAGE, escape_text


class Abort(Exception):
    """A one-line error for the user, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def error_line(exc: BaseException, debug: bool) -> tuple[str, int] | None:
    """The line (without `essh: `) and exit code an error ends essh with; None: not ours to turn."""
    from essh.planner.model import ConfigError  # imported here to keep `essh --help` lean

    if isinstance(exc, Abort):
        return str(exc), exc.code
    if isinstance(exc, PlaceError):
        return str(exc), EXIT_USAGE
    if isinstance(exc, stdout.OutputError):
        return str(exc), EXIT_REPORT_LOST
    if isinstance(exc, ConfigError):
        return f"configuration error: {exc}", EXIT_USAGE
    if isinstance(exc, schema.PlanFileError):
        return f"plan file error: {exc}", EXIT_USAGE
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED
    if not isinstance(exc, Exception):
        return None
    if debug:
        import traceback

        traceback.print_exc()
    return (
        f"internal error: {type(exc).__name__}: {exc}. This is a bug in essh, please report it; "
        "--debug shows the traceback",
        EXIT_BUG,
    )


def say_error(message: str) -> None:
    stdout.say(f"essh: {escape_text(message)}")


def created_at() -> int | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None:
        return None
    try:
        seconds = int(epoch)
    except ValueError:
        seconds = -1
    if not 0 <= seconds < 2**63:
        raise Abort(f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not {epoch!r}")
    return seconds


def load(config: str | None, debug: bool = False):
    """The configuration; with --debug, what it said through essh.debug() goes to stderr."""
    from essh import planner

    from .registry_cli import registries

    cfg = planner.load_registries(registries(config), home=str(Path.home()))
    if debug:
        for notice in cfg.notices:
            stdout.say(f"[essh debug] {notice}")
    return cfg


def maker(environ) -> str:
    """`user@host` for PlanMeta.made_by; empty with SOURCE_DATE_EPOCH (reproducible plans)."""
    if "SOURCE_DATE_EPOCH" in environ:
        return ""
    # getpass.getuser() and socket.gethostname() by hand: those modules cost ~4 ms of every `essh plan`
    user = next((environ[name] for name in ("LOGNAME", "USER", "LNAME", "USERNAME") if environ.get(name)), None)
    if user is None:
        try:
            import pwd

            user = pwd.getpwuid(os.getuid()).pw_name
        except (KeyError, OSError, ImportError):
            user = "?"
    return f"{user}@{os.uname().nodename}"


def make(
    config: str | None, tasks: Sequence[str], args: Sequence[str], debug: bool = False, *, inline_limit: int = schema.INLINE_LIMIT
) -> schema.Plan:
    """The plan of `tasks` (with task arguments `args`) from the configuration."""
    import msgspec

    from essh import planner

    made = planner.make_plan(
        load(config, debug),
        list(tasks),
        list(args),
        created_at=created_at(),
        essh_version=essh.__version__,
        relative_to=os.getcwd(),
        inline_limit=inline_limit,
    )
    return msgspec.structs.replace(made, meta=msgspec.structs.replace(made.meta, made_by=maker(os.environ)))


def save_bytes(data: bytes, out: Path) -> None:
    try:
        make_parent(out)
        schema.write_private_file(str(out), data)
    except OSError as exc:
        raise Abort(f"cannot write plan file {out}: {exc.strerror or exc}") from None


def review(plan: schema.Plan, verbose: bool, no_color: bool) -> Iterator[str]:
    """The review's lines, in colour when stdout is a terminal (or FORCE_COLOR) and not told otherwise."""
    from .colour import Palette, wants_colour
    from .review import coloured_review, render_plan

    return coloured_review(render_plan(plan, verbose=verbose), Palette(wants_colour(sys.stdout, no_color=no_color)))


def show_plan(plan: schema.Plan, data: bytes, out: Path | None, *, json: bool, verbose: bool, no_color: bool, after: Sequence[str] = ()) -> None:
    """What `essh plan` prints once the plan is made (and saved to `out`): JSON, or the review and where it went."""
    if json:
        from .review import plan_json

        signatures = []
        if schema.split_signed(data)[1]:  # signed with --sign-key: listed as `essh show --json` lists them
            from .trust import describe

            signatures = describe(data, None)
        stdout.write_bytes(plan_json(plan, schema.payload_digest(data), signatures))
        return
    if stdout.write_lines([*review(plan, verbose, no_color), *after]) and out:
        shown = escape_text(str(out))
        stdout.write_lines(
            ["", f"Saved the plan to {shown} (sha256 {schema.payload_digest(data)}).", f"To run exactly this plan: essh apply {shown}"]
        )
