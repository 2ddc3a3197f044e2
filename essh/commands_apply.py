"""`essh apply`, `run` and `exec`: run a plan through the executor, with its secrets, choice of steps and CI outputs."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

import essh
from essh import schema, stdout
from essh.places import check_log_dir, check_report, reports_folder, reserve_default_report
from essh.schema import EXIT_FAILED, EXIT_REPORT_LOST, escape_text

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
from .cli_files import _names_a_plan_file, _read_plan, _read_report, _write_output
from .plan_steps import Abort
from .plan_steps import created_at as _created_at
from .plan_steps import load as _load
from .plan_steps import make as _plan
from .plan_steps import review as _review


@dataclasses.dataclass(frozen=True)
class Looks:
    """How an apply shows itself (the display flags shared by apply, run and exec)."""

    progress: str = "auto"
    timestamps: bool = False
    prefix_task: bool = False
    no_color: bool = False


def _secrets(plan: schema.Plan, secrets_file: str | None, secret_command: str | None) -> dict[str, str]:
    """The values of the plan's secrets, from this environment; every missing one named, exit 2."""
    from .secrets import ENV_PREFIX, SecretsError, resolve

    try:
        values = resolve([s.name for s in plan.secrets], os.environ, secrets_file, secret_command)
    except SecretsError as exc:
        raise Abort(str(exc)) from None
    for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
        del os.environ[name]  # read once: local steps inherit essh's environment, and get only what they ask for
    return values


def _apply(
    plan: schema.Plan,
    data: bytes,
    *,
    report: Path | None,
    log_dir: Path | None,
    max_connections: int,
    fail_fast: bool,
    raw_output: bool = False,
    gate=None,
    secrets_file: str | None = None,
    secret_command: str | None = None,
    junit: Path | None = None,
    choice=None,
    force: bool = False,
    looks: Looks = Looks(),
    once: bool = False,
    debug: bool = False,
) -> None:
    from essh.executor import ApplyOptions, LogDirError, apply_plan

    from .local_env import local_step_env

    from .colour import Palette, wants_colour
    from .review import host_key_notes, render_summary

    if looks.progress not in ("auto", "live", "plain", "none"):
        raise Abort(f"--progress must be auto, live, plain or none, not {looks.progress!r}")
    colour = wants_colour(sys.stderr, no_color=looks.no_color)

    digest = schema.payload_digest(data)
    if gate is not None:
        from .gate import GateError, check

        try:
            lines = check(plan, data, gate)
        except GateError as exc:
            raise Abort(str(exc)) from None
        for line in lines:
            stdout.say(escape_text(line))
    secret_values = _secrets(plan, secrets_file, secret_command)
    if report is not None:
        check_report(report)
    if log_dir is not None:
        check_log_dir(log_dir)
    for warning in plan.meta.warnings:
        stdout.say(f"warning: {escape_text(warning)}")
    for note in host_key_notes(plan):
        stdout.say(note)
    # Last before the run: the executor replaces this empty file with the report.
    report_path = report or reserve_default_report(reports_folder(os.environ, Path.home()), digest)
    try:
        with local_step_env(plan, debug) as local_env:
            result = apply_plan(
                plan,
                digest,
                ApplyOptions(
                    local_env=local_env,
                    max_connections=max_connections,
                    fail_fast=fail_fast,
                    log_dir=str(log_dir) if log_dir else None,
                    report_path=str(report_path),
                    essh_version=essh.__version__,
                    raw_output=raw_output,
                    secrets=secret_values,
                    choice=choice,
                    force=force,
                    once=once,
                    progress=looks.progress,
                    timestamps=looks.timestamps,
                    show_task=looks.prefix_task,
                    colour=colour,
                ),
            )
    except LogDirError as exc:
        if report is None:  # nothing ran: the reserved name is given back
            with contextlib.suppress(OSError):
                report_path.unlink()
        raise Abort(str(exc)) from None
    stdout.flush()
    stdout.say("")
    for line in render_summary(result.report, palette=Palette(colour)):
        stdout.say(line)  # written as it is: the styles stay, even in a pipe with FORCE_COLOR
    if result.report_error is not None:
        stdout.say(f"essh: {escape_text(str(result.report_error))}")
        raise typer.Exit(EXIT_REPORT_LOST)
    stdout.say(f"Report: {escape_text(str(report_path))}")
    _ci_outputs(plan, result.report, junit)
    raise typer.Exit(result.report.exit_code)


def _ci_outputs(plan: schema.Plan, report: schema.Report, junit: Path | None) -> None:
    """After a run: --junit, the GitHub job summary and annotations (docs/ci.md)."""
    from .ci_report import github_annotations, markdown_summary

    if junit is not None:
        from .junit import junit_xml

        _write_output(junit, junit_xml(report), "JUnit report")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(markdown_summary(report) + "\n")
        except OSError as exc:
            stdout.say(f"essh: cannot append to GITHUB_STEP_SUMMARY {escape_text(summary)}: {exc.strerror or exc}")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        stdout.write_lines(list(github_annotations(plan, report)))


def _choice(plan: schema.Plan, data: bytes, shard: str | None, stage: int | None, limit: list[str] | None, resume: Path | None):
    """What part of the plan to run (None: all of it); the limit is said loudly on stderr."""
    if shard is None and stage is None and not limit and resume is None:
        return None
    from essh.executor.narrow import ChoiceError, choose
    from essh.executor.shard import ShardError, parse_shard

    try:
        choice = choose(
            plan,
            schema.payload_digest(data),
            shard=None if shard is None else parse_shard(shard, os.environ),
            stage=stage,
            limit=limit or (),
            resume=None if resume is None else _read_report(resume),
        )
    except (ChoiceError, ShardError) as exc:
        raise Abort(str(exc)) from None
    parts = ([f"stage {choice.stage}"] if choice.stage is not None else []) + ([f"shard {choice.shard}"] if choice.shard else [])
    if choice.limit:
        parts.append("LIMITED to hosts matching " + " ".join(choice.limit))
    if resume is not None:
        parts.append(f"resuming {resume}: {len(choice.carried_over)} succeeded steps carried over")
    stdout.say(f"essh: running {len(choice.run)} of {len(plan.steps)} steps: {escape_text('; '.join(parts))}")
    return choice


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
    from . import trust
    from .gate import Gate, parse_duration

    with _errors(debug):
        try:
            age = parse_duration(max_age) if max_age is not None else None
        except ValueError as exc:
            raise Abort(f"--max-age: {exc}") from None
        gate = Gate(
            trust.Policy(allowed_signers, max(require_signatures, int(require_signature)), tuple(require_principal or ())),
            expect_digest=expect_digest, max_age=age, refuse_stale=refuse_stale,
        )
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
        choice = _choice(the_plan, data, shard, stage, limit, resume)
        _apply(the_plan, data, report=report, log_dir=log_dir, max_connections=max_connections, fail_fast=fail_fast,
               raw_output=raw_output, gate=gate, secrets_file=secrets_file, secret_command=secret_command,
               junit=junit, choice=choice, force=force, once=once, debug=debug,
               looks=Looks(progress, timestamps, prefix_task, no_color))


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
               looks=Looks(progress, timestamps, prefix_task, no_color), debug=debug)


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
               looks=Looks(progress, timestamps, prefix_task, no_color), debug=debug)
