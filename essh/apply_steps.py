"""The steps of `essh apply` that need no typer: a plan's gate, its secrets, the part of it to run, the run, and the CI outputs.

essh.commands_apply (the typer commands apply, run and exec) and essh.fast_apply
(the typer-free start of `essh apply PLAN_FILE`) both run these, so the two
paths say the same things and end with the same exit codes. Nothing here
imports typer or click.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import msgspec

import essh
from essh import schema, stdout
from essh.places import check_log_dir, check_report, reports_folder, reserve_default_report
from essh.schema import EXIT_REPORT_LOST, escape_text

from .cli_files import _read_report, _write_output
from .plan_steps import Abort


class Looks(msgspec.Struct, frozen=True):
    """How an apply shows itself (the display flags shared by apply, run and exec)."""

    progress: str = "auto"
    timestamps: bool = False
    prefix_task: bool = False
    no_color: bool = False


def secrets(plan: schema.Plan, secrets_file: str | None, secret_command: str | None) -> dict[str, str]:
    """The values of the plan's secrets, from this environment; every missing one named, exit 2."""
    from .secrets import ENV_PREFIX, SecretsError, resolve

    try:
        values = resolve([s.name for s in plan.secrets], os.environ, secrets_file, secret_command)
    except SecretsError as exc:
        raise Abort(str(exc)) from None
    for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
        del os.environ[name]  # read once: local steps inherit essh's environment, and get only what they ask for
    return values


def _settle_garbage_collector() -> None:
    """What exists before a run (modules, the plan) lives to its end: frozen, the collector never walks
    it again; and the young generation is collected every 20,000 allocations, not 700. Together ~8% of
    a 200-host fan-out's CPU (docs/performance.md); cyclic garbage lives a little longer."""
    import gc

    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def run(
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
) -> int:
    """Run `plan` (its file's bytes `data`) and show its summary; the exit code essh ends with."""
    from essh.executor import ApplyOptions, LogDirError, apply_plan

    from .colour import Palette, wants_colour
    from .local_env import local_step_env
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
    secret_values = secrets(plan, secrets_file, secret_command)
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
            _settle_garbage_collector()
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
        return EXIT_REPORT_LOST
    stdout.say(f"Report: {escape_text(str(report_path))}")
    ci_outputs(plan, result.report, junit)
    return result.report.exit_code


def ci_outputs(plan: schema.Plan, report: schema.Report, junit: Path | None) -> None:
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


def choose_part(plan: schema.Plan, data: bytes, shard: str | None, stage: int | None, limit: list[str] | None, resume: Path | None):
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


def gate(
    allowed_signers: str | None,
    require_signature: bool,
    require_signatures: int,
    require_principal: list[str] | None,
    expect_digest: str | None,
    max_age: str | None,
    refuse_stale: bool,
):
    """What a plan must pass before it runs (essh.gate.Gate), from apply's options."""
    from . import trust
    from .gate import Gate, parse_duration

    try:
        age = parse_duration(max_age) if max_age is not None else None
    except ValueError as exc:
        raise Abort(f"--max-age: {exc}") from None
    return Gate(
        trust.Policy(allowed_signers, max(require_signatures, int(require_signature)), tuple(require_principal or ())),
        expect_digest=expect_digest, max_age=age, refuse_stale=refuse_stale,
    )
