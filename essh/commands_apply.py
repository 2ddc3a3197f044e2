"""`essh apply`, `run` and `exec`: run a plan through the executor, with its secrets, choice of steps and CI outputs."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

import essh
from essh import schema, stdout
from essh.schema import EXIT_FAILED

from . import apply_steps
from .cli_app import (
    AllowedSignersOpt,
    ConfigOpt,
    DebugOpt,
    FailFastOpt,
    LogDirOpt,
    MaxConnOpt,
    NoColorOpt,
    PrefixTaskOpt,
    ProgressOpt,
    RawOpt,
    ReportOpt,
    SecretCommandOpt,
    SecretsFileOpt,
    TimestampsOpt,
    _errors,
    _task_args,
    app,
)
from .cli_files import _names_a_plan_file, _read_plan
from .plan_steps import Abort
from .plan_steps import created_at as _created_at
from .plan_steps import load as _load
from .plan_steps import make as _plan
from .plan_steps import review as _review


def _apply(plan: schema.Plan, data: bytes, **options) -> None:
    """Run the plan (essh.apply_steps.run) and end with its exit code."""
    raise typer.Exit(apply_steps.run(plan, data, **options))


@app.command()
def apply(
    ctx: typer.Context,
    targets: Annotated[list[str], typer.Argument(help="A plan file, or task names to plan and then apply.", metavar="PLAN_FILE|TASK...")],
    report: ReportOpt = None,
    log_dir: LogDirOpt = None,
    max_connections: MaxConnOpt = 100,
    fail_fast: FailFastOpt = False,
    raw_output: RawOpt = False,
    progress: ProgressOpt = "auto",
    timestamps: TimestampsOpt = False,
    prefix_task: PrefixTaskOpt = False,
    no_color: NoColorOpt = False,
    auto_approve: Annotated[bool, typer.Option("--auto-approve", help="With task names: apply without asking.")] = False,
    allowed_signers: AllowedSignersOpt = None,
    require_signature: Annotated[bool, typer.Option("--require-signature", help="Refuse a plan without a signature by an allowed signer.")] = False,
    require_signatures: Annotated[int, typer.Option("--require-signatures", min=0, metavar="N", help="Refuse a plan signed by fewer than N allowed signers.")] = 0,
    require_principal: Annotated[Optional[list[str]], typer.Option("--require-principal", metavar="NAME", help="Refuse a plan without a signature by NAME (allowed_signers principal); repeatable.")] = None,
    expect_digest: Annotated[Optional[str], typer.Option("--expect-digest", metavar="SHA256", help="Refuse any plan whose payload sha256 is not this one.")] = None,
    max_age: Annotated[Optional[str], typer.Option("--max-age", metavar="DURATION", help="Refuse a plan older than this (90s, 15m, 24h, 7d).")] = None,
    refuse_stale: Annotated[bool, typer.Option("--refuse-stale", help="Refuse a plan whose configuration files changed since it was made.")] = False,
    secrets_file: SecretsFileOpt = None,
    secret_command: SecretCommandOpt = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="Also write the report as JUnit XML here.")] = None,
    shard: Annotated[Optional[str], typer.Option("--shard", help="Run shard K of N (K/N, auto, auto/N): see docs/ci.md.")] = None,
    stage: Annotated[Optional[int], typer.Option("--stage", min=1, help="Run only stage S (essh show --stages).")] = None,
    limit: Annotated[Optional[list[str]], typer.Option("--limit", "-l", help="Only hosts matching: names, tags, globs; repeatable.")] = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Run only the steps that did not succeed in this report.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Write uploads whose destination changed since `plan --refresh` saw it.")] = False,
    once: Annotated[bool, typer.Option("--once", help="Skip hosts this plan was already applied to; mark each host where it succeeds (a guard, not a lock).")] = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run a saved plan exactly (`essh apply plan.bin`), or plan tasks, confirm, and run them."""
    with _errors(debug):
        gate = apply_steps.gate(allowed_signers, require_signature, require_signatures, require_principal,
                                expect_digest, max_age, refuse_stale)
        if len(targets) == 1 and _names_a_plan_file(targets[0]):
            if _task_args(ctx):
                raise Abort("task arguments belong to `essh plan`; a saved plan already holds them")
            the_plan, data = _read_plan(targets[0])
        else:
            the_plan = _plan(config, targets, _task_args(ctx), debug)
            data = schema.encode_plan(the_plan)
            stdout.write_lines(_review(the_plan, False, no_color))
            if not auto_approve:
                if not sys.stdin.isatty():
                    raise Abort("refusing to ask for confirmation without a terminal: pass --auto-approve, or save the plan with `essh plan -o` and apply the file")
                answer = typer.prompt("\nApply this plan? Only 'yes' is accepted", default="", show_default=False)
                if answer.strip() != "yes":
                    stdout.say("Apply cancelled.")
                    raise typer.Exit(EXIT_FAILED)  # as Terraform: a script must not take "no" for done
        choice = apply_steps.choose_part(the_plan, data, shard, stage, limit, resume)
        _apply(the_plan, data, report=report, log_dir=log_dir, max_connections=max_connections, fail_fast=fail_fast,
               raw_output=raw_output, gate=gate, secrets_file=secrets_file, secret_command=secret_command,
               junit=junit, choice=choice, force=force, once=once, debug=debug,
               looks=apply_steps.Looks(progress, timestamps, prefix_task, no_color))




@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="The task to run.")],
    args: Annotated[Optional[list[str]], typer.Argument(help="Arguments for the task.")] = None,
    report: ReportOpt = None,
    log_dir: LogDirOpt = None,
    max_connections: MaxConnOpt = 100,
    fail_fast: FailFastOpt = False,
    raw_output: RawOpt = False,
    secrets_file: SecretsFileOpt = None,
    secret_command: SecretCommandOpt = None,
    progress: ProgressOpt = "auto",
    timestamps: TimestampsOpt = False,
    prefix_task: PrefixTaskOpt = False,
    no_color: NoColorOpt = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Plan and apply a task at once, without a prompt (the original ESSH's `essh TASK`)."""
    with _errors(debug):
        the_plan = _plan(config, [task], [*(args or []), *_task_args(ctx)], debug)
        _apply(the_plan, schema.encode_plan(the_plan), report=report, log_dir=log_dir, max_connections=max_connections,
               fail_fast=fail_fast, raw_output=raw_output, secrets_file=secrets_file, secret_command=secret_command,
               looks=apply_steps.Looks(progress, timestamps, prefix_task, no_color), debug=debug)


@app.command(name="exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
def exec_(
    ctx: typer.Context,
    command: Annotated[
        Optional[list[str]],
        typer.Argument(help="The shell command (after essh's options, or after `--`); several words are joined with spaces."),
    ] = None,
    target: Annotated[Optional[list[str]], typer.Option("--target", "-t", help="Hosts or tags (globs allowed); repeatable.")] = None,
    filter: Annotated[Optional[list[str]], typer.Option("--filter", "-f", help="Narrow the targets; repeatable.")] = None,
    parallel: Annotated[bool, typer.Option("--parallel", "-p", help="Run on all hosts at once.")] = False,
    backend: Annotated[str, typer.Option("--backend", help="remote or local.")] = "remote",
    prefix: Annotated[Optional[bool], typer.Option("--prefix/--no-prefix", help="Prefix output lines with the host.")] = None,
    prefix_string: Annotated[Optional[str], typer.Option("--prefix-string", help="The prefix, a template ({{.Host.Name}}).")] = None,
    privileged: Annotated[bool, typer.Option("--privileged", help="Run as root (sudo).")] = False,
    user: Annotated[Optional[str], typer.Option("--user", help="Run as this user (sudo).")] = None,
    pty: Annotated[bool, typer.Option("--pty", help="Allocate a pseudo-terminal.")] = False,
    script_file: Annotated[bool, typer.Option("--script-file", help="COMMAND names a file holding the commands.")] = False,
    driver: Annotated[Optional[str], typer.Option("--driver", help="Render the command with this driver.")] = None,
    report: ReportOpt = None,
    log_dir: LogDirOpt = None,
    max_connections: MaxConnOpt = 100,
    fail_fast: FailFastOpt = False,
    raw_output: RawOpt = False,
    progress: ProgressOpt = "auto",
    timestamps: TimestampsOpt = False,
    prefix_task: PrefixTaskOpt = False,
    no_color: NoColorOpt = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run an ad hoc command on the selected hosts, through the same planner and executor."""
    from essh import planner

    with _errors(debug):
        words = [*(command or []), *_task_args(ctx)]
        if not words:
            raise Abort("essh exec needs a command: essh exec --target Q [OPTIONS] COMMAND... (or -- COMMAND...)")
        if script_file:
            from .exec_options import ScriptFileError, read_script_file

            try:
                words = [read_script_file(words)]
            except ScriptFileError as exc:
                raise Abort(str(exc)) from None
        the_plan = planner.make_exec_plan(
            _load(config, debug),
            " ".join(words),
            targets=target or [],
            filters=filter or [],
            parallel=parallel,
            backend=backend,
            prefix=prefix_string if prefix_string is not None and prefix is not False else prefix,
            privileged=privileged, user=user, pty=pty, driver=driver,
            created_at=_created_at(),
            essh_version=essh.__version__,
            relative_to=os.getcwd(),
        )
        _apply(the_plan, schema.encode_plan(the_plan), report=report, log_dir=log_dir, max_connections=max_connections, fail_fast=fail_fast, raw_output=raw_output,
               looks=apply_steps.Looks(progress, timestamps, prefix_task, no_color), debug=debug)
