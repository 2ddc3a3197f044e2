"""The `essh` command line: thin glue from the planner to the plan file to the executor.

Exit codes come from `essh.schema.exit_codes` only (documented in docs/cli.md).
Everything shown from the configuration or a plan is escaped; stdout goes
through `essh.stdout`, so a reader that leaves early is not an error.

Arguments after a lone `--` are the tasks' arguments (ESSH_TASK_ARGS_<N>); they
are split off here, before typer sees the command line.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Optional

import typer

import essh
from essh import schema, stdout
from essh.places import PlaceError, check_log_dir, check_report, make_parent, reports_folder, reserve_default_report
from essh.schema import EXIT_BUG, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_REPORT_LOST, EXIT_USAGE, escape_text


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
RawOpt = Annotated[
    bool,
    typer.Option("--raw-output", help="Show remote output unchanged, escape sequences included (only for hosts you trust)."),
]


class Abort(Exception):
    """A one-line error for the user, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


@contextlib.contextmanager
def _errors(debug: bool) -> Iterator[None]:
    """Turn every error into one line on stderr and a documented exit code."""
    from essh.planner.model import ConfigError  # imported here to keep `essh --help` lean

    try:
        yield
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except Abort as exc:
        _fail(str(exc), exc.code)
    except PlaceError as exc:
        _fail(str(exc), EXIT_USAGE)
    except stdout.OutputError as exc:
        _fail(str(exc), EXIT_REPORT_LOST)
    except ConfigError as exc:
        _fail(f"configuration error: {exc}", EXIT_USAGE)
    except schema.PlanFileError as exc:
        _fail(f"plan file error: {exc}", EXIT_USAGE)
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        _fail(
            f"internal error: {type(exc).__name__}: {exc}. This is a bug in essh, please report it; "
            "--debug shows the traceback",
            EXIT_BUG,
        )


def _fail(message: str, code: int) -> None:
    typer.echo(f"essh: {escape_text(message)}", err=True)
    raise typer.Exit(code)


def _task_args(ctx: typer.Context) -> list[str]:
    """The words after `--`, which main() hands to typer as the context object."""
    return list(ctx.obj or ())


def _created_at() -> int | None:
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


def _load(config: str | None, debug: bool = False):
    """The configuration; with --debug, what it said through essh.debug() goes to stderr."""
    from essh import planner

    paths = planner.discover_config_files(config, cwd=os.getcwd(), home=str(Path.home()), environ=os.environ)
    cfg = planner.load_config(paths, home=str(Path.home()))
    if debug:
        for notice in cfg.notices:
            typer.echo(f"[essh debug] {notice}", err=True)
    return cfg


def _plan(config: str | None, tasks: Sequence[str], args: Sequence[str], debug: bool = False) -> schema.Plan:
    from essh import planner

    return planner.make_plan(
        _load(config, debug),
        list(tasks),
        list(args),
        created_at=_created_at(),
        essh_version=essh.__version__,
        relative_to=os.getcwd(),
    )


def _save(plan: schema.Plan, out: Path) -> bytes:
    try:
        make_parent(out)
        return schema.write_plan(str(out), plan)
    except OSError as exc:
        raise Abort(f"cannot write plan file {out}: {exc.strerror or exc}") from None


def _apply(
    plan: schema.Plan,
    data: bytes,
    *,
    report: Path | None,
    log_dir: Path | None,
    max_connections: int,
    fail_fast: bool,
    raw_output: bool = False,
) -> None:
    from essh.executor import ApplyOptions, LogDirError, apply_plan

    from .review import host_key_notes, render_summary

    digest = schema.payload_digest(data)
    if report is not None:
        check_report(report)
    if log_dir is not None:
        check_log_dir(log_dir)
    for warning in plan.meta.warnings:
        typer.echo(f"warning: {escape_text(warning)}", err=True)
    for note in host_key_notes(plan):
        typer.echo(note, err=True)
    # Last before the run: the executor replaces this empty file with the report.
    report_path = report or reserve_default_report(reports_folder(os.environ, Path.home()), digest)
    try:
        result = apply_plan(
            plan,
            digest,
            ApplyOptions(
                max_connections=max_connections,
                fail_fast=fail_fast,
                log_dir=str(log_dir) if log_dir else None,
                report_path=str(report_path),
                essh_version=essh.__version__,
                raw_output=raw_output,
            ),
        )
    except LogDirError as exc:
        if report is None:  # nothing ran: the reserved name is given back
            with contextlib.suppress(OSError):
                report_path.unlink()
        raise Abort(str(exc)) from None
    stdout.flush()
    typer.echo("", err=True)
    for line in render_summary(result.report):
        typer.echo(line, err=True)
    if result.report_error is not None:
        typer.echo(f"essh: {escape_text(str(result.report_error))}", err=True)
        raise typer.Exit(EXIT_REPORT_LOST)
    typer.echo(f"Report: {escape_text(str(report_path))}", err=True)
    raise typer.Exit(result.report.exit_code)


@app.command()
def plan(
    ctx: typer.Context,
    tasks: Annotated[Optional[list[str]], typer.Argument(help="Tasks to plan (default: the task named 'default').")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Save the plan file here.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON (docs/plan-format.md).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every script in full.")] = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Evaluate the configuration and show what would run where, in which order. `-- ARGS` passes task arguments."""
    from .review import plan_json, render_plan

    with _errors(debug):
        the_plan = _plan(config, tasks or [], _task_args(ctx), debug)
        data = _save(the_plan, out) if out else schema.encode_plan(the_plan)
        if json:
            stdout.write_bytes(plan_json(the_plan, schema.payload_digest(data)))
            return
        if stdout.write_lines(render_plan(the_plan, verbose=verbose)) and out:
            shown = escape_text(str(out))
            stdout.write_lines(
                ["", f"Saved the plan to {shown} (sha256 {schema.payload_digest(data)}).", f"To run exactly this plan: essh apply {shown}"]
            )


@app.command()
def show(
    plan_file: Annotated[Path, typer.Argument(help="A plan file written by `essh plan -o`.")],
    json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON (docs/plan-format.md).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every script in full.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Review a saved plan file."""
    from .review import plan_json, render_plan

    with _errors(debug):
        the_plan, data = _read_plan(plan_file)
        if json:
            stdout.write_bytes(plan_json(the_plan, schema.payload_digest(data)))
            return
        if stdout.write_lines(render_plan(the_plan, verbose=verbose)):
            stdout.write_lines(["", f"Plan file {escape_text(str(plan_file))} (sha256 {schema.payload_digest(data)})."])


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
    auto_approve: Annotated[bool, typer.Option("--auto-approve", help="With task names: apply without asking.")] = False,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run a saved plan exactly (`essh apply plan.bin`), or plan tasks, confirm, and run them."""
    with _errors(debug):
        if len(targets) == 1 and _names_a_plan_file(targets[0]):
            if _task_args(ctx):
                raise Abort("task arguments belong to `essh plan`; a saved plan already holds them")
            the_plan, data = _read_plan(targets[0])
        else:
            from .review import render_plan

            the_plan = _plan(config, targets, _task_args(ctx), debug)
            data = schema.encode_plan(the_plan)
            stdout.write_lines(render_plan(the_plan))
            if not auto_approve:
                if not sys.stdin.isatty():
                    raise Abort("refusing to ask for confirmation without a terminal: pass --auto-approve, or save the plan with `essh plan -o` and apply the file")
                answer = typer.prompt("\nApply this plan? Only 'yes' is accepted", default="", show_default=False)
                if answer.strip() != "yes":
                    typer.echo("Apply cancelled.", err=True)
                    raise typer.Exit(EXIT_FAILED)  # as Terraform: a script must not take "no" for done
        _apply(the_plan, data, report=report, log_dir=log_dir, max_connections=max_connections, fail_fast=fail_fast, raw_output=raw_output)


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
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Plan and apply a task at once, without a prompt (the original ESSH's `essh TASK`)."""
    with _errors(debug):
        the_plan = _plan(config, [task], [*(args or []), *_task_args(ctx)], debug)
        _apply(the_plan, schema.encode_plan(the_plan), report=report, log_dir=log_dir, max_connections=max_connections, fail_fast=fail_fast, raw_output=raw_output)


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
        _apply(the_plan, schema.encode_plan(the_plan), report=report, log_dir=log_dir, max_connections=max_connections, fail_fast=fail_fast, raw_output=raw_output)


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
    """Install the modules the configuration imports and pin them in .essh.lock.json (ESSH's --update), or remove them."""
    from essh import planner

    from .modules_install import Installer, clean

    with _errors(debug):
        paths = planner.discover_config_files(config, cwd=os.getcwd(), home=str(Path.home()), environ=os.environ)
        base = os.path.dirname(paths[0])
        if action == "update":
            installer = Installer(base)
            planner.load_config(paths, modules=installer)
            lock = installer.write_lock()
            stdout.write_lines([f"{len(installer.locked)} git modules installed and locked in {escape_text(lock)}."])
        elif action == "clean":
            removed = clean(base)
            stdout.write_lines([f"Removed {escape_text(removed)}." if removed else "No installed modules."])
        else:
            raise Abort(f"essh modules takes update or clean, not {action!r}")


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
    """ESSH's command-line forms in essh's (`essh_forms`); --working-dir is done here."""
    from .essh_forms import FormError, rewrite

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
