"""Command generation: a task's script text per step, its shell, its output prefix.

The script text comes from the task's driver:
- the built-in driver joins the script parts' code with newlines and ends with
  one; no template engine and no Lua call is involved;
- `driver "default"` replaces the built-in driver for tasks naming no driver;
- a custom driver's `engine(ctx)` (ctx = {"name", "props"} of the driver, as
  ESSH hands the engine its driver) returns a Go text/template, rendered with
  {"Scripts": [{"code", "description"}...], "Task": {...}, "Driver": {...},
  "Host": {...} or None, "Args": [...]}. The engine runs once per driver.

`{{template "environment" .}}` renders to nothing here (gotemplate's default
"environment" template is empty): the environment is not part of the script
text but exported at the top of every step's script by
`essh.schema.command.env_prelude`, from `Host.env` and `Task.env`, so that it
is stored once per host and per task rather than in every script.

A template (driver or prefix) is rendered once per task when the compiled
template cannot read `.Host` (`Template.may_read`), else once per host.
Identical script texts are stored once (`ScriptTable`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .hints import did_you_mean
from .model import ConfigError, Config, DriverDef, HostDef, TaskDef

if TYPE_CHECKING:
    from .gotemplate import Template

_BASH = ("bash", "-c")
_LOGIN_BASH = ("bash", "-l", "-c")


def shell_for(task: TaskDef) -> tuple[str, ...]:
    """The interpreter a step's program is handed to: a login shell for a task run as
    another user (ESSH runs them with `sudo -u USER bash -l -c`: that user's profile
    sets PATH and the like), else plain bash."""
    return _LOGIN_BASH if run_as(task) is not None else _BASH


def run_as(task: TaskDef) -> str | None:
    """The user a task's steps run as through sudo (`user`, or root when privileged), or None."""
    if task.user:
        return task.user
    return "root" if task.privileged else None


class Templates:
    """Go text/templates compiled once per distinct text, for one planning run
    (`gotemplate` is imported only when a template is used)."""

    def __init__(self) -> None:
        self._compiled: dict[str, Template] = {}

    def get(self, text: str) -> Template:
        """The compiled template; raises `gotemplate.TemplateError`."""
        found = self._compiled.get(text)
        if found is None:
            from .gotemplate import compile as compile_template
            from .template_funcs import FUNCS, TEMPLATES

            found = self._compiled[text] = compile_template(text, templates=TEMPLATES, funcs=FUNCS)
        return found


def host_data(host: HostDef | None) -> dict[str, Any] | None:
    """A host as templates see it (`.Host.Name`, ...)."""
    if host is None:
        return None
    return {
        "Name": host.name,
        "Description": host.description,
        "Hidden": host.hidden,
        "Tags": list(host.tags),
        "Props": dict(sorted(host.props.items())),
        "SSHConfig": dict(host.ssh_options),
    }


def task_data(task: TaskDef, args: Sequence[str]) -> dict[str, Any]:
    """A task as templates see it (`.Task.Name`, ...)."""
    return {
        "Name": task.name,
        "Description": task.description,
        "Props": dict(sorted(task.props.items())),
        "Args": list(args),
        "Targets": list(task.targets),
        "Filters": list(task.filters),
        "Backend": task.backend or "",
        "Parallel": task.parallel,
        "Privileged": task.privileged,
        "User": task.user or "",
        "Pty": task.pty,
    }


class ScriptTable:
    """The plan's scripts, each text stored once; `add` returns its index."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self._texts: list[str] | None = None

    def add(self, text: str) -> int:
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.index)
        return found

    def texts(self) -> tuple[str, ...]:
        return tuple(self.index)

    def text(self, index: int) -> str:
        if self._texts is None or len(self._texts) != len(self.index):
            self._texts = list(self.index)
        return self._texts[index]


class Drivers:
    """Chooses each task's driver and renders its scripts into a `ScriptTable`."""

    def __init__(self, config: Config, scripts: ScriptTable, templates: Templates) -> None:
        self.drivers = config.drivers
        self.scripts = scripts
        self.templates = templates
        self._engine_texts: dict[str, str] = {}

    def driver_for(self, task: TaskDef) -> DriverDef | None:
        """The task's driver; None for the built-in one."""
        if task.driver is None:
            return self.drivers.get("default")
        driver = self.drivers.get(task.driver)
        if driver is None and task.driver != "default":
            raise ConfigError(
                f'task {task.name} uses driver "{task.driver}", which is not defined'
                + did_you_mean(task.driver, self.drivers),
                task.defined_at,
            )
        return driver

    def parts(self, task: TaskDef) -> list[tuple[str, str]]:
        """The task's script as (code, description) parts (a `script_file`'s
        content is there already: the loader read it once, with its digest)."""
        return [(part.code, part.description) for part in task.script]

    def script_ids(self, task: TaskDef, hosts: Sequence[HostDef | None], args: Sequence[str]) -> list[int]:
        """One script index per entry of `hosts`."""
        ids = self._script_ids(task, hosts, args)
        for index in set(ids):
            if "\0" in self.scripts.text(index):
                # A command line cannot carry a NUL byte: it would cut the script short.
                raise ConfigError(f"task {task.name}: its script contains a NUL byte", task.defined_at)
        return ids

    def _script_ids(self, task: TaskDef, hosts: Sequence[HostDef | None], args: Sequence[str]) -> list[int]:
        parts = self.parts(task)
        driver = self.driver_for(task)
        if driver is None:
            only = self.scripts.add("".join(code + "\n" for code, _ in parts))
            return [only] * len(hosts)
        template = self._compiled(driver, task)
        data = {
            "HostnamesWidth": max((len(h.name) for h in hosts if h is not None), default=0),
            "Scripts": [{"code": code, "description": description} for code, description in parts],
            "Task": task_data(task, args),
            "Driver": {"Name": driver.name, "Props": dict(sorted(driver.props.items()))},
            "Args": list(args),
        }
        if not template.may_read("Host"):
            only = self.scripts.add(self._run(template, {**data, "Host": None}, driver, task))
            return [only] * len(hosts)
        return [self.scripts.add(self._run(template, {**data, "Host": host_data(h)}, driver, task)) for h in hosts]

    def _compiled(self, driver: DriverDef, task: TaskDef) -> Template:
        try:
            return self.templates.get(self._engine_text(driver))
        except ConfigError:
            raise
        except Exception as exc:
            raise self._template_error(driver, task, exc) from None

    def _engine_text(self, driver: DriverDef) -> str:
        found = self._engine_texts.get(driver.name)
        if found is None:
            try:
                text = driver.engine({"name": driver.name, "props": dict(sorted(driver.props.items()))})
            except ConfigError:
                raise
            except Exception as exc:
                raise ConfigError(f"driver {driver.name}: its engine failed: {exc}", driver.defined_at) from None
            if not isinstance(text, str):
                raise ConfigError(
                    f"driver {driver.name}: engine must return a template string, not {type(text).__name__}",
                    driver.defined_at,
                )
            found = self._engine_texts[driver.name] = text
        return found

    def _run(self, template: Template, data: dict[str, Any], driver: DriverDef, task: TaskDef) -> str:
        try:
            return template.render(data)
        except Exception as exc:
            raise self._template_error(driver, task, exc) from None

    @staticmethod
    def _template_error(driver: DriverDef, task: TaskDef, exc: Exception) -> ConfigError:
        return ConfigError(
            f"driver {driver.name} (at {driver.defined_at}): cannot render its template for task {task.name}: {exc}",
            task.defined_at,
        )


def default_prefix(backend: str, host: HostDef | None) -> str:
    """ESSH's prefix: `[remote:NAME]`, `[local:NAME]`, or `[local]` without a host."""
    return f"[{backend}:{host.name}]" if host is not None else f"[{backend}]"


def prefixes(
    task: TaskDef, backend: str, hosts: Sequence[HostDef | None], args: Sequence[str], templates: Templates
) -> list[str | None]:
    """The output prefix of each step; None where output passes through untouched.

    `prefix` unset: on when the task has more than one step; true: ESSH's
    default; a string: a Go template rendered per host (`{{.Host.Name}}`).
    """
    setting = task.prefix
    if setting is None:
        setting = len(hosts) > 1
    if setting is False or setting == "":
        return [None] * len(hosts)
    if setting is True:
        return [default_prefix(backend, h) for h in hosts]
    width = max((len(h.name) for h in hosts if h is not None), default=0)
    data = {"Task": task_data(task, args), "Args": list(args), "HostnamesWidth": width}
    try:
        template = templates.get(setting)
    except Exception as exc:
        raise ConfigError(f"task {task.name}: cannot render its prefix {setting!r}: {exc}", task.defined_at) from None

    def one(h: HostDef | None) -> str:
        try:
            return template.render({**data, "Host": host_data(h)})
        except Exception as exc:
            raise ConfigError(f"task {task.name}: cannot render its prefix {setting!r}: {exc}", task.defined_at) from None

    shared = None if template.may_read("Host") else one(None)
    # As ESSH: a local step without a host is prefixed `[local]`, whatever the template.
    return [default_prefix(backend, None) if h is None and backend == "local"
            else shared if shared is not None else one(h) for h in hosts]
