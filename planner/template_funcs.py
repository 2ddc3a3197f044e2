"""The functions ESSH hands its Go templates (driver engines and output prefixes).

`ShellEscape`, `ToUpper`, `ToLower`, `EnvKeyEscape` and `Add` as ESSH defines
them, and `HostnameAlignString`, which repeats its text so that prefixes line
up: once, plus as many times as the step's host name is shorter than the
longest host name of the task (`HostnamesWidth` in the data). The `functions`
template defines ESSH's `escp` and `ersync` shell functions on
`$ESSH_SSH_CONFIG` (docs/essh-compatibility.md says when a step has one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

from .gotemplate import DEFAULT_TEMPLATES, MAX_OUTPUT, DataFunction

WIDTH_KEY = "HostnamesWidth"


def shell_escape(text: Any) -> str:
    """`text` in single quotes for a POSIX shell (ESSH's ShellEscape)."""
    return "'" + str(text).replace("'", "'\"'\"'") + "'"


def env_key_escape(text: Any) -> str:
    """ESSH's EnvKeyEscape: `-` and `.` become `_`."""
    return str(text).replace("-", "_").replace(".", "_")


def _add(x: Any, y: Any) -> int:
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (x, y)):
        raise TypeError("Add takes two integers")
    return x + y


def _align(data: Any, text: Any) -> str:
    host = data.get("Host") if isinstance(data, Mapping) else None
    name = host.get("Name", "") if isinstance(host, Mapping) else ""
    width = data.get(WIDTH_KEY, len(name)) if isinstance(data, Mapping) else len(name)
    text = str(text)
    times = 1 + max(0, width - len(name))
    if len(text) * times > MAX_OUTPUT:  # HostnamesWidth comes from the data, which a configuration may give
        raise ValueError(f"the result would be over {MAX_OUTPUT // 2**20} MiB")
    return text * times


FUNCS: Mapping[str, Callable[..., Any] | DataFunction] = {
    "ShellEscape": shell_escape,
    "ToUpper": lambda text: str(text).upper(),
    "ToLower": lambda text: str(text).lower(),
    "EnvKeyEscape": env_key_escape,
    "Add": _add,
    "HostnameAlignString": DataFunction(_align, frozenset({"Host", WIDTH_KEY})),
}

# ESSH's `functions` template; the generated ssh_config is named by $ESSH_SSH_CONFIG at run time.
_FUNCTIONS = """function escp() {
    scp -F "${ESSH_SSH_CONFIG:?essh: this step has no generated ssh_config}" "$@"
}
function ersync() {
    rsync -e "ssh -F ${ESSH_SSH_CONFIG:?essh: this step has no generated ssh_config}" "$@"
}

"""

TEMPLATES: Mapping[str, str] = {**DEFAULT_TEMPLATES, "functions": _FUNCTIONS}
