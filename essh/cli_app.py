"""The typer `app` of the `essh` command line: its root callback, the option types the commands share, and the error handling.

Exit codes come from `essh.schema.exit_codes` only (documented in docs/cli.md).
Everything shown from the configuration or a plan is escaped; stdout goes
through `essh.stdout`, so a reader that leaves early is not an error.
Every error becomes one line on stderr and its exit code (`_errors`); the
commands themselves live in the essh/commands_*.py modules, which register on `app`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer

import essh
from essh.schema import EXIT_OK

from .plan_steps import error_line, say_error


app = typer.Typer(
    name="essh",
    help="Run tasks on fleets of SSH hosts from ESSH's Lua configuration, as a reviewed, immutable plan.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help and usage errors: short, greppable, no rich import
    context_settings={"help_option_names": ["-h", "--help"]},
)

def _version(value: bool) -> None:
    if value:
        typer.echo(f"essh {essh.__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Run tasks on fleets of SSH hosts from ESSH's Lua configuration, as a reviewed, immutable plan."""


ConfigOpt = Annotated[
    Optional[str],
    typer.Option("--config", "-c", envvar="ESSH_CONFIG", help="Configuration file (default: ./.esshconfig.lua, else ~/.essh/config.lua)."),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show Python tracebacks for internal errors.")]
ReportOpt = Annotated[
    Optional[Path],
    typer.Option("--report", help="Write the status report here as JSON (default: ~/.local/state/essh/reports/)."),
]
LogDirOpt = Annotated[Optional[Path], typer.Option("--log-dir", help="Keep each step's full output in its own file here.")]
MaxConnOpt = Annotated[int, typer.Option("--max-connections", min=1, help="Open SSH connections at most at once.")]
FailFastOpt = Annotated[bool, typer.Option("--fail-fast", help="Cancel running steps on the first failure.")]
AllowedSignersOpt = Annotated[
    Optional[str],
    typer.Option("--allowed-signers", envvar="ESSH_ALLOWED_SIGNERS", help="OpenSSH allowed_signers file: whose plan signatures count."),
]
SignKeyOpt = Annotated[
    Optional[str],
    typer.Option("--sign-key", help="Sign with this SSH key: a private key file, or a .pub file or SHA256: fingerprint of a key in ssh-agent."),
]
SecretsFileOpt = Annotated[
    Optional[str],
    typer.Option("--secrets-file", envvar="ESSH_SECRETS_FILE", help="Secret values as NAME=value lines (mode 0600), for essh.secret()."),
]
SecretCommandOpt = Annotated[
    Optional[str],
    typer.Option("--secret-command", envvar="ESSH_SECRET_COMMAND", help="A command printing a secret's value; {name} is the secret's name."),
]
RawOpt = Annotated[
    bool,
    typer.Option("--raw-output", help="Show remote output unchanged, escape sequences included (only for hosts you trust)."),
]

ProgressOpt = Annotated[
    str,
    typer.Option("--progress", help="auto (live on a terminal, else plain), live, plain (task banners and a heartbeat) or none."),
]
TimestampsOpt = Annotated[bool, typer.Option("--timestamps", help="Put the UTC time before every output line.")]
PrefixTaskOpt = Annotated[bool, typer.Option("--prefix-task", help="Put the task's name before every output prefix.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour (also: NO_COLOR=1, TERM=dumb; FORCE_COLOR=1 forces it).")]


@contextlib.contextmanager
def _errors(debug: bool) -> Iterator[None]:
    """Turn every error into one line on stderr and a documented exit code."""
    try:
        yield
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except BaseException as exc:
        turned = error_line(exc, debug)
        if turned is None:
            raise
        _fail(*turned)


def _fail(message: str, code: int) -> None:
    say_error(message)
    raise typer.Exit(code)


def _task_args(ctx: typer.Context) -> list[str]:
    """The words after `--`, which main() hands to typer as the context object."""
    return list(ctx.obj or ())
