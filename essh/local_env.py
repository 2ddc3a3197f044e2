"""What ESSH puts in the environment of a step that only the applying machine knows:
`ESSH_SSH_CONFIG` (the generated ssh_config's path) and `ESSH_DEBUG` ("1" with --debug).

A plan may be applied on another machine than the one that planned it, so
neither is in the plan: `essh apply` (and `run`, `exec`) writes the plan's
hosts as an ssh_config (what `essh hosts --ssh-config` prints for them) into a
private temporary folder for the length of the run, and local steps get both
variables (ESSH's `escp`/`ersync` functions and `ssh -F "$ESSH_SSH_CONFIG"`
then reach the plan's hosts). Remote steps get neither: the path would name a
file on another machine.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from essh import schema

from .listing import ssh_config


@contextmanager
def local_step_env(plan: schema.Plan, debug: bool) -> Iterator[tuple[tuple[str, str], ...]]:
    """The variables for local steps; the ssh_config exists until the block ends."""
    debug_value = "1" if debug else ""
    if not any(plan.tasks[step.task].backend == "local" for step in plan.steps):
        yield ()
        return
    with tempfile.TemporaryDirectory(prefix="essh-ssh-config-") as folder:  # 0700, removed afterwards
        path = os.path.join(folder, "ssh_config")
        schema.write_private_file(path, "".join(line + "\n" for line in ssh_config(plan.hosts)).encode())
        yield (("ESSH_SSH_CONFIG", path), ("ESSH_DEBUG", debug_value))
