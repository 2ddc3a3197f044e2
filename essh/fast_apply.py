"""`essh apply PLAN_FILE` in its common forms without typer: the command line read by hand, the run made by essh.apply_steps.

Applying a saved plan is what CI stages do again and again, and building typer's
command tree for essh's ~45 commands costs as much as a small run's own work, so
essh.entry hands `essh apply ...` here first. `parse` takes one plan file and
apply's options, each given once as a separate word (essh.fast_words); task
names (which plan, show and ask), `--` and any other form go to typer, so help,
usage errors and their exit codes come from one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec

from .fast_words import count, errors_as_lines, read_words

FLAGS = {
    "--fail-fast": "fail_fast", "--raw-output": "raw_output", "--timestamps": "timestamps", "--prefix-task": "prefix_task",
    "--no-color": "no_color", "--auto-approve": "auto_approve", "--require-signature": "require_signature",
    "--refuse-stale": "refuse_stale", "--force": "force", "--once": "once", "--debug": "debug",
}
VALUED = {
    "--report": "report", "--log-dir": "log_dir", "--max-connections": "max_connections", "--progress": "progress",
    "--allowed-signers": "allowed_signers", "--require-signatures": "require_signatures",
    "--require-principal": "require_principal", "--expect-digest": "expect_digest", "--max-age": "max_age",
    "--secrets-file": "secrets_file", "--secret-command": "secret_command", "--junit": "junit", "--shard": "shard",
    "--stage": "stage", "--limit": "limit", "-l": "limit", "--resume": "resume", "--config": "config", "-c": "config",
}
COUNTS = {"max_connections": 1, "require_signatures": 0, "stage": 1}  # typer's `min` of each integer option
FROM_ENV = {"allowed_signers": "ESSH_ALLOWED_SIGNERS", "secrets_file": "ESSH_SECRETS_FILE", "secret_command": "ESSH_SECRET_COMMAND"}
PATHS = ("report", "log_dir", "junit", "resume")


class ApplyCall(msgspec.Struct, frozen=True):
    """One `essh apply PLAN_FILE` command line, as typer would hand it to the command."""

    plan_file: str
    report: Path | None = None
    log_dir: Path | None = None
    max_connections: int = 100
    fail_fast: bool = False
    raw_output: bool = False
    progress: str = "auto"
    timestamps: bool = False
    prefix_task: bool = False
    no_color: bool = False
    allowed_signers: str | None = None
    require_signature: bool = False
    require_signatures: int = 0
    require_principal: tuple[str, ...] = ()
    expect_digest: str | None = None
    max_age: str | None = None
    refuse_stale: bool = False
    secrets_file: str | None = None
    secret_command: str | None = None
    junit: Path | None = None
    shard: str | None = None
    stage: int | None = None
    limit: tuple[str, ...] = ()
    resume: Path | None = None
    force: bool = False
    once: bool = False
    debug: bool = False


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> ApplyCall | None:
    """The call `argv` (the words after `essh`) makes, or None when typer must read it."""
    from .cli_files import _names_a_plan_file

    words = list(argv)
    if not words or words[0] != "apply" or "--" in words or "_ESSH_COMPLETE" in environ:
        return None
    read = read_words(words[1:], FLAGS, VALUED)
    if read is None:
        return None
    positional, found = read
    if len(positional) != 1 or not _names_a_plan_file(positional[0]):
        return None
    values: dict[str, object] = {}
    for name, value in found.items():
        if name in COUNTS:
            number = count(value, COUNTS[name])
            if number is None:
                return None
            values[name] = number
        elif name in PATHS:
            values[name] = Path(str(value))
        elif name in ("require_principal", "limit"):
            values[name] = (value,)
        elif name not in ("config", "auto_approve"):  # neither counts for a saved plan
            values[name] = value
    for name, variable in FROM_ENV.items():
        if name not in values and environ.get(variable):
            values[name] = environ[variable]
    if environ.get("ESSH_DEBUG"):
        values["debug"] = True  # what essh_forms adds for typer
    return ApplyCall(plan_file=positional[0], **values)  # type: ignore[arg-type]


def run(call: ApplyCall) -> None:
    """Check, narrow and run the plan file as `essh apply` does; ends with SystemExit and essh's exit code."""
    from . import apply_steps
    from .cli_files import _read_plan

    with errors_as_lines(call.debug):
        gate = apply_steps.gate(
            call.allowed_signers, call.require_signature, call.require_signatures, list(call.require_principal),
            call.expect_digest, call.max_age, call.refuse_stale,
        )
        the_plan, data = _read_plan(call.plan_file)
        choice = apply_steps.choose_part(the_plan, data, call.shard, call.stage, list(call.limit), call.resume)
        code = apply_steps.run(
            the_plan, data, report=call.report, log_dir=call.log_dir, max_connections=call.max_connections,
            fail_fast=call.fail_fast, raw_output=call.raw_output, gate=gate, secrets_file=call.secrets_file,
            secret_command=call.secret_command, junit=call.junit, choice=choice, force=call.force, once=call.once,
            debug=call.debug,
            looks=apply_steps.Looks(call.progress, call.timestamps, call.prefix_task, call.no_color),
        )
    raise SystemExit(code)
