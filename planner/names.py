"""The rule for the names of hosts and tasks: what they may hold, in one place.

A name is printed in reviews and logs, exported as ESSH_TASK_NAME or
ESSH_HOSTNAME, and (a host's) written as an ssh_config `Host` line and a log
file name. So it cannot be empty or hold anything `str.isprintable` refuses:
newlines and other control characters, C1 controls, escape codes (ESC), bidi
overrides and other format characters. A host name also holds no space.
"""

from __future__ import annotations

import re

from .model import ConfigError, Source

_SPACE = re.compile(r"\s")


def _shows_as_written(name: str) -> bool:
    return bool(name) and name.isprintable()


def check_host_name(name: str, where: Source) -> None:
    if not _shows_as_written(name) or _SPACE.search(name):
        raise ConfigError(
            f"host {name!r}: a host name cannot be empty or contain spaces or control characters", where
        )


def check_task_name(name: str, where: Source) -> None:
    if not _shows_as_written(name):
        raise ConfigError(
            f"task {name!r}: a task name cannot be empty or contain control, bidi or escape characters", where
        )
