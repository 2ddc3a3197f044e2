"""`essh ssh`, `scp` and `rsync`: OpenSSH's own clients on the generated ssh_config (ESSH's `essh HOST`, escp, ersync)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from essh import stdout
from essh.schema import escape_text

from .cli_app import ConfigOpt, DebugOpt, _errors, _task_args, app
from .plan_steps import Abort
from .plan_steps import load as _load


_PASS_ON = {"ignore_unknown_options": True, "allow_extra_args": True, "allow_interspersed_args": False}


@app.command(context_settings=_PASS_ON)
def ssh(
    ctx: typer.Context,
    args: Annotated[Optional[list[str]], typer.Argument(help="HOST and ssh's own arguments.")] = None,
    print_: Annotated[bool, typer.Option("--print", help="Print the generated ssh_config (ESSH's --print).")] = False,
    gen: Annotated[bool, typer.Option("--gen", help="Only write the generated ssh_config (ESSH's --gen).")] = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Log in with OpenSSH's ssh -F on the generated ssh_config, with the host's hooks (ESSH's `essh HOST`)."""
    _client(ctx, "ssh", args, config, debug, print_=print_, gen=gen)


@app.command(context_settings=_PASS_ON)
def scp(ctx: typer.Context, args: Annotated[Optional[list[str]], typer.Argument()] = None, config: ConfigOpt = None, debug: DebugOpt = False) -> None:
    """scp -F the generated ssh_config (ESSH's escp)."""
    _client(ctx, "scp", args, config, debug)


@app.command(context_settings=_PASS_ON)
def rsync(ctx: typer.Context, args: Annotated[Optional[list[str]], typer.Argument()] = None, config: ConfigOpt = None, debug: DebugOpt = False) -> None:
    """rsync -e "ssh -F the generated ssh_config" (ESSH's ersync)."""
    _client(ctx, "rsync", args, config, debug)


def _client(ctx: typer.Context, tool: str, args: Optional[list[str]], config: str | None, debug: bool, *, print_: bool = False, gen: bool = False) -> None:
    from . import ssh_client

    with _errors(debug):
        words = [*(args or []), *_task_args(ctx)]
        cfg = _load(config, debug)
        try:
            if print_ or gen:
                text = ssh_client.ssh_config_text(cfg.hosts.values())
                path = ssh_client.write_ssh_config(cfg.ssh_config, text)
                stdout.write_lines(text.splitlines() if print_ else [f"Wrote {escape_text(path)}"])
                return
            code = ssh_client.login(cfg, words) if tool == "ssh" else ssh_client.copy(cfg, tool, words)
        except ssh_client.ClientError as exc:
            raise Abort(str(exc)) from None
    raise typer.Exit(code)
