"""The `essh` command line: thin glue from the planner to the plan file to the executor.

Exit codes come from `essh.schema.exit_codes` only (documented in docs/cli.md).
Everything shown from the configuration or a plan is escaped; stdout goes
through `essh.stdout`, so a reader that leaves early is not an error.

Arguments after a lone `--` are the tasks' arguments (ESSH_TASK_ARGS_<N>); they
are split off here, before typer sees the command line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Optional

import typer

import essh
from essh import schema, stdout
from essh.places import check_log_dir, check_report, make_parent, reports_folder, reserve_default_report
from essh.schema import EXIT_FAILED, EXIT_OK, EXIT_REPORT_LOST, escape_text

from .plan_steps import Abort, error_line, say_error
from .plan_steps import created_at as _created_at
from .plan_steps import load as _load
from .plan_steps import make as _plan
from .plan_steps import review as _review
from .plan_steps import save_bytes as _save_bytes


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


@dataclasses.dataclass(frozen=True)
class Looks:
    """How an apply shows itself (the display flags shared by apply, run and exec)."""

    progress: str = "auto"
    timestamps: bool = False
    prefix_task: bool = False
    no_color: bool = False


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


def _signed(data: bytes, key: str | None, signature: Path | None = None) -> bytes:
    """`data` with one more signature: made with `key`, or the ssh-keygen one in file `signature`."""
    from .signing import SigningError, attach_armored, sign_plan

    try:
        return sign_plan(data, key) if key is not None else attach_armored(data, str(signature))
    except SigningError as exc:
        raise Abort(str(exc)) from None


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


def _write_output(path: Path, data: bytes, what: str) -> None:
    try:
        make_parent(path)
        schema.write_private_file(str(path), data)
    except OSError as exc:
        raise Abort(f"cannot write the {what} to {path}: {exc.strerror or exc}", EXIT_REPORT_LOST) from None


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


def _read_report(path: Path) -> schema.Report:
    try:
        return schema.decode_report_json(Path(path).read_bytes())
    except OSError as exc:
        raise Abort(f"cannot read report {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # msgspec's errors: not JSON, or not a report this essh reads
        raise Abort(f"{path} is not an essh report this version can read: {exc}") from None


@app.command()
def plan(
    ctx: typer.Context,
    tasks: Annotated[Optional[list[str]], typer.Argument(help="Tasks to plan (default: the task named 'default').")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Save the plan file here.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON (docs/plan-format.md).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every script in full.")] = False,
    sign_key: SignKeyOpt = None,
    diff_against: Annotated[
        Optional[Path], typer.Option("--diff-against", help="Also show what changed since this plan file (as essh diff).")
    ] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="Look at the hosts (read-only) and show what uploads would change; recorded in the plan.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="With --refresh: a host that cannot be reached is an error (exit 1, no plan saved).")] = False,
    inline_limit: Annotated[int, typer.Option("--inline-limit", min=0, help="Store uploads bigger than this many bytes as a reference, read at apply.")] = schema.INLINE_LIMIT,
    max_connections: MaxConnOpt = 100,
    no_color: NoColorOpt = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Evaluate the configuration and show what would run where, in which order. `-- ARGS` passes task arguments."""
    from .plan_steps import show_plan

    with _errors(debug):
        if sign_key and not out:
            raise Abort("--sign-key signs the plan file: give it one with -o FILE")
        the_plan = _plan(config, tasks or [], _task_args(ctx), debug, inline_limit=inline_limit)
        old_plan = _read_plan(diff_against)[0] if diff_against is not None else None
        changes: list[str] = []
        if refresh:
            from essh.executor.observe import refresh_plan

            from .refresh import render_refresh

            result = refresh_plan(the_plan, max_connections=max_connections)
            the_plan = result.plan
            changes = ["", "# changes (essh plan --refresh)", *render_refresh(result)]
            if strict and result.unreachable:
                stdout.write_lines(changes)
                names = ", ".join(escape_text(name) for name in result.unreachable)
                raise Abort(f"--strict: not every host could be looked at ({names}); no plan was saved", EXIT_FAILED)
        data = schema.encode_plan(the_plan)
        if sign_key:
            data = _signed(data, sign_key)
        if out:
            _save_bytes(data, out)
        show_plan(the_plan, data, out, json=json, verbose=verbose, no_color=no_color, after=changes)
        if old_plan is not None and not json:
            from .plan_diff import diff_plans, render_diff

            stdout.write_lines(["", f"Changes since {escape_text(str(diff_against))}:", *render_diff(diff_plans(old_plan, the_plan))])


@app.command()
def show(
    plan_file: Annotated[Path, typer.Argument(help="A plan file written by `essh plan -o`.")],
    json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON (docs/plan-format.md).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every script in full.")] = False,
    allowed_signers: AllowedSignersOpt = None,
    stages: Annotated[bool, typer.Option("--stages", help="List the stages a sharded run needs (docs/ci.md).")] = False,
    no_color: NoColorOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Review a saved plan file: what runs where, who made it and when, who signed it."""
    from .gate import provenance, signer_lines
    from .review import plan_json

    with _errors(debug):
        the_plan, data = _read_plan(plan_file)
        if stages:
            stdout.write_lines(_stage_lines(the_plan))
            return
        if json:
            from .allowed_signers import AllowedSignersError
            from .trust import describe

            try:
                signatures = describe(data, allowed_signers)
            except AllowedSignersError as exc:
                raise Abort(str(exc)) from None
            stdout.write_bytes(plan_json(the_plan, schema.payload_digest(data), signatures))
            return
        if stdout.write_lines(_review(the_plan, verbose, no_color)):
            stdout.write_lines(
                ["", f"Plan file {escape_text(str(plan_file))} (sha256 {schema.payload_digest(data)}).",
                 *map(escape_text, [*provenance(the_plan, data)[1:], *signer_lines(data, allowed_signers)])]
            )


@app.command()
def sign(
    plan_file: Annotated[Path, typer.Argument(help="A plan file written by `essh plan -o`.")],
    sign_key: SignKeyOpt = None,
    signature: Annotated[
        Optional[Path], typer.Option("--signature", help="Attach this `ssh-keygen -Y sign -n essh-plan` signature (armored).")
    ] = None,
    signed_data: Annotated[
        Optional[Path], typer.Option("--signed-data", help="Write the bytes a signature signs here (- for stdout), for ssh-keygen -Y sign/verify.")
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Add a signature to a reviewed plan file (several signers may sign one plan)."""
    with _errors(debug):
        if sum(x is not None for x in (sign_key, signature, signed_data)) != 1:
            raise Abort("essh sign needs one of --sign-key KEY, --signature FILE or --signed-data FILE")
        _, data = _read_plan(plan_file)
        message, _ = schema.split_signed(data)
        if signed_data is not None:
            if str(signed_data) == "-":
                stdout.write_bytes(message)
            else:
                _save_bytes(message, signed_data)
            return
        data = _signed(data, sign_key) if sign_key is not None else _signed(data, None, signature)
        _save_bytes(data, plan_file)
        typer.echo(f"Signed {escape_text(str(plan_file))} (sha256 {schema.payload_digest(data)}); it now has "
                   f"{len(schema.split_signed(data)[1])} signature(s).", err=True)


def _stage_lines(plan: schema.Plan) -> list[str]:
    from essh.executor.shard import stage_count, task_stages

    stage_of, counts = task_stages(plan), {}
    for step in plan.steps:
        counts[step.task] = counts.get(step.task, 0) + 1
    lines = []
    for stage in range(1, stage_count(plan) + 1):
        names = [f"{plan.tasks[t].name} ({n} step{'s' if n != 1 else ''})" for t, n in counts.items() if stage_of[t] == stage]
        lines.append(escape_text(f"stage {stage}: {', '.join(names)}"))
    return lines


def _read_plan(path: str | Path) -> tuple[schema.Plan, bytes]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise Abort(f"cannot read plan file {path}: {exc.strerror or exc}") from None
    try:
        return schema.decode_plan(data), data
    except schema.PlanFileError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def _names_a_plan_file(word: str) -> bool:
    """A lone `essh apply` argument is a plan file if it is one, ends in .bin or is a
    path (holds a /): a missing plan file is then said to be missing, not planned as a task."""
    if word.endswith(".bin") or "/" in word:
        return True
    try:
        with open(word, "rb") as f:
            return f.read(len(schema.MAGIC)) == schema.MAGIC
    except OSError:
        return False


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


@app.command()
def hosts(
    select: Annotated[Optional[list[str]], typer.Option("--select", "-s", help="Hosts or tags (globs allowed).")] = None,
    filter: Annotated[Optional[list[str]], typer.Option("--filter", "-f", help="Narrow the selection.")] = None,
    ssh_config: Annotated[bool, typer.Option("--ssh-config", help="Print the hosts as ssh_config.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Names only.")] = False,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Include hidden hosts.")] = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List the hosts the configuration defines."""
    from essh import planner

    from .listing import host_rows
    from .listing import ssh_config as ssh_config_lines

    with _errors(debug):
        cfg = _load(config)
        chosen = planner.select_hosts(cfg, select or ["all"], filter or []) if (select or filter) else list(cfg.hosts.values())
        if not all_:
            chosen = [h for h in chosen if not h.hidden]
        stdout.write_lines(ssh_config_lines(chosen) if ssh_config else host_rows(chosen, quiet=quiet))


@app.command()
def tasks(
    all_: Annotated[bool, typer.Option("--all", "-a", help="Include hidden tasks.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Names only.")] = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List the tasks the configuration defines."""
    from .listing import task_rows

    with _errors(debug):
        chosen = [t for t in _load(config).tasks.values() if all_ or not t.hidden]
        stdout.write_lines(task_rows(chosen, quiet=quiet))


@app.command()
def tags(config: ConfigOpt = None, debug: DebugOpt = False) -> None:
    """List the tags of all hosts."""
    from .listing import tag_lines

    with _errors(debug):
        stdout.write_lines(tag_lines(_load(config).hosts.values()))


@app.command()
def validate(config: ConfigOpt = None, debug: DebugOpt = False) -> None:
    """Check the configuration: it loads, and every task plans (targets and dependencies resolve)."""
    from essh import planner

    with _errors(debug):
        cfg = _load(config)
        for name in cfg.tasks:
            planner.make_plan(cfg, [name], [], created_at=0, essh_version=essh.__version__)
        stdout.write_lines([f"Configuration is valid: {len(cfg.hosts)} hosts, {len(cfg.tasks)} tasks, {len(cfg.drivers)} drivers."])


@app.command()
def diff(
    old: Annotated[Path, typer.Argument(help="The earlier plan file.")],
    new: Annotated[Path, typer.Argument(help="The later plan file.")],
    json: Annotated[bool, typer.Option("--json", help="The differences as JSON, for bots.")] = False,
    debug: DebugOpt = False,
) -> None:
    """What changed between two plans: tasks, hosts, settings, scripts. Exit 0 when equal, 1 when different."""
    from .plan_diff import diff_json, diff_plans, render_diff

    with _errors(debug):
        changes = diff_plans(_read_plan(old)[0], _read_plan(new)[0])
        if json:
            stdout.write_bytes(diff_json(changes))
        else:
            stdout.write_lines(list(render_diff(changes)))
        raise typer.Exit(EXIT_OK if changes.equal else EXIT_FAILED)


report_app = typer.Typer(help="Turn apply reports into what CI reads: JUnit, summaries, one merged report.", no_args_is_help=True)
app.add_typer(report_app, name="report")
ReportArg = Annotated[Path, typer.Argument(help="A JSON report written by `essh apply`.")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here instead of standard output.")]


def _emit(data: bytes, out: Path | None, what: str) -> None:
    if out is None:
        stdout.write_bytes(data)
    else:
        _write_output(out, data, what)


@report_app.command("junit")
def report_junit(report: ReportArg, out: OutOpt = None, debug: DebugOpt = False) -> None:
    """The report as JUnit XML: a test suite per task, a test case per host."""
    from .junit import junit_xml

    with _errors(debug):
        _emit(junit_xml(_read_report(report)), out, "JUnit report")


@report_app.command("summary")
def report_summary(
    report: ReportArg,
    format: Annotated[str, typer.Option("--format", help="markdown or text.")] = "markdown",
    debug: DebugOpt = False,
) -> None:
    """A compact summary: markdown for $GITHUB_STEP_SUMMARY and merge requests, or the terminal's text."""
    from .ci_report import markdown_summary
    from .review import render_summary

    with _errors(debug):
        if format not in ("markdown", "text"):
            raise Abort(f"--format must be markdown or text, not {format!r}")
        the_report = _read_report(report)
        if format == "markdown":
            stdout.write_bytes(markdown_summary(the_report).encode())
        else:
            stdout.write_lines(list(render_summary(the_report)))


@report_app.command("merge")
def report_merge(
    reports: Annotated[list[Path], typer.Argument(help="The reports of every shard and stage of one plan.")],
    out: OutOpt = None,
    fill_from: Annotated[
        Optional[Path], typer.Option("--fill-from", help="The plan: steps in no report are reported skipped, not an error.")
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Join the shards' reports: same plan, every step exactly once, the worst exit code kept in the report."""
    from .report_merge import MergeError, merge_reports

    with _errors(debug):
        try:
            fill = None
            if fill_from is not None:
                fill_plan, fill_data = _read_plan(fill_from)
                fill = (fill_plan, schema.payload_digest(fill_data))
            merged = merge_reports([(str(p), _read_report(p)) for p in reports], fill)
        except MergeError as exc:
            raise Abort(str(exc)) from None
        _emit(schema.encode_report_json(merged), out, "merged report")


@app.command()
def graph(
    ctx: typer.Context,
    targets: Annotated[Optional[list[str]], typer.Argument(help="A plan file, or tasks to plan (default: 'default').", metavar="[PLAN_FILE|TASK...]")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, dot (Graphviz) or mermaid.")] = "text",
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show the planned task graph: tasks, dependencies, composites, handlers, host counts."""
    from .graph import FORMATS, render_graph

    with _errors(debug):
        if fmt not in FORMATS:
            raise Abort(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        if targets and len(targets) == 1 and _names_a_plan_file(targets[0]):
            the_plan, _ = _read_plan(targets[0])
        else:
            the_plan = _plan(config, targets or [], _task_args(ctx), debug)
        stdout.write_lines(render_graph(the_plan, fmt))


@app.command()
def init(
    path: Annotated[Path, typer.Option("--path", help="Where to write the configuration.")] = Path(".esshconfig.lua"),
    from_ssh_config: Annotated[bool, typer.Option("--from-ssh-config", help="Hosts from ~/.ssh/config's Host names.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Write a commented starter .esshconfig.lua that plans as written."""
    from .init import starter_config

    with _errors(debug):
        ssh_text = None
        if from_ssh_config:
            try:
                ssh_text = (Path.home() / ".ssh" / "config").read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise Abort(f"cannot read ~/.ssh/config: {exc.strerror or exc}") from None
        try:
            with open(path, "w" if force else "x", encoding="utf-8") as f:
                f.write(starter_config(ssh_text))
        except FileExistsError:
            raise Abort(f"{path} exists; --force replaces it") from None
        except OSError as exc:
            raise Abort(f"cannot write {path}: {exc.strerror or exc}") from None
        stdout.write_lines([f"Wrote {escape_text(str(path))}. Next: essh plan"])


def _register_subapps() -> None:
    from .report_cli import timeline

    report_app.command("timeline")(timeline)


_register_subapps()


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


@app.command()
def modules(
    action: Annotated[str, typer.Argument(help="update: fetch, install and lock the imported modules; clean: remove them.")],
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Install the modules the configuration imports and pin them in .essh.lock.json (ESSH's --update), or remove them;
    with ESSH_WITH_GLOBAL=1 (`essh --with-global ...`), the global registry's too (~/.essh/modules)."""
    from .registry_cli import modules_action

    with _errors(debug):
        stdout.write_lines(modules_action(action, config))


@app.command()
def completion(shell: Annotated[str, typer.Argument(help="bash, zsh or fish.")]) -> None:
    """Print the shell code completing tasks, hosts and tags: eval "$(essh completion bash)"."""
    from .completion_scripts import SHELLS, script

    with _errors(False):
        if shell not in SHELLS:
            raise Abort(f"essh completion knows {', '.join(SHELLS)}, not {shell!r}")
        names = [n for n in typer.main.get_command(app).commands if not n.startswith("_")]  # type: ignore[attr-defined]
        stdout.write_lines(script(shell, sys.executable, names).splitlines())


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
