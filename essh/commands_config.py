"""`essh hosts`, `tasks`, `tags`, `validate`, `graph`, `init`, `modules` and `completion`: look at and set up the configuration."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

import essh
from essh import stdout
from essh.schema import escape_text

from .cli_app import ConfigOpt, DebugOpt, _errors, _task_args, app
from .cli_files import _names_a_plan_file, _read_plan
from .plan_steps import Abort
from .plan_steps import load as _load
from .plan_steps import make as _plan


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
