"""`essh plan`, `show`, `sign` and `diff`: make a plan file, review it, sign it, compare two."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from essh import schema, stdout
from essh.schema import EXIT_FAILED, EXIT_OK, escape_text

from .cli_app import AllowedSignersOpt, ConfigOpt, DebugOpt, MaxConnOpt, NoColorOpt, SignKeyOpt, _errors, _task_args, app
from .cli_files import _read_plan
from .plan_steps import Abort
from .plan_steps import make as _plan
from .plan_steps import review as _review
from .plan_steps import save_bytes as _save_bytes


def _signed(data: bytes, key: str | None, signature: Path | None = None) -> bytes:
    """`data` with one more signature: made with `key`, or the ssh-keygen one in file `signature`."""
    from .signing import SigningError, attach_armored, sign_plan

    try:
        return sign_plan(data, key) if key is not None else attach_armored(data, str(signature))
    except SigningError as exc:
        raise Abort(str(exc)) from None


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
