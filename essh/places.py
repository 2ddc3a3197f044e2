"""Where the CLI writes files, checked before anything runs: the plan file, the
report (its default name) and the step logs.

Folders essh creates are 0700; the files themselves are written by
`essh.schema.write_private_file` (0600, atomic for regular files, in place for
a character device or FIFO such as /dev/null).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

from essh.schema.codec import in_place_destination


class PlaceError(Exception):
    """A place essh must write cannot be written: one line naming it and why."""


def make_parent(path: Path) -> None:
    """Create the folders leading to `path` (0700), as `--report` and `plan -o` both need."""
    make_folders(path.parent)


def make_folders(folder: Path) -> None:
    """Create `folder` and any missing folder above it, each 0700 (Path.mkdir gives
    the parents it creates the default mode, not the one asked for)."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        each.mkdir(mode=0o700, exist_ok=True)


def reports_folder(environ: Mapping[str, str], home: Path) -> Path:
    """`$XDG_STATE_HOME/essh/reports`, else `~/.local/state/essh/reports`."""
    state = environ.get("XDG_STATE_HOME") or str(home / ".local" / "state")
    return Path(state) / "essh" / "reports"


def reserve_default_report(folder: Path, digest: str) -> Path:
    """A new report file in `folder`, created empty (0600) so no other run can take its name.

    Names sort by time: `<UTC time to the microsecond>-<plan digest>-<random>.json`;
    O_EXCL makes "never overwrite an earlier report" a fact, not a likelihood.
    The executor later replaces the empty file with the report."""
    try:
        make_folders(folder)
        while True:
            now = time.time()
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
            path = folder / f"{stamp}-{digest[:12]}-{secrets.token_hex(3)}.json"
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
                return path
            except FileExistsError:
                continue
    except OSError as exc:
        raise PlaceError(f"cannot write the report in {folder}: {exc.strerror or exc}") from None


def check_report(path: Path) -> None:
    """Refuse, before anything runs, a `--report` place that cannot be written."""
    try:
        if in_place_destination(str(path)):
            if not os.access(path, os.W_OK):
                raise PermissionError(13, "Permission denied")
            return
        make_parent(path)
        _probe(path.parent)
    except OSError as exc:
        raise PlaceError(f"cannot write the report to {path}: {exc.strerror or exc}") from None


def check_log_dir(folder: Path) -> None:
    """Refuse, before anything runs, a `--log-dir` that cannot be written."""
    try:
        make_folders(folder)
        _probe(folder)
    except OSError as exc:
        raise PlaceError(f"cannot write step logs in {folder}: {exc.strerror or exc}") from None


def _probe(folder: Path) -> None:
    """Create and remove a private file in `folder` (OSError if it cannot be written)."""
    import tempfile

    fd, name = tempfile.mkstemp(dir=folder, prefix=".essh-probe-")
    os.close(fd)
    os.unlink(name)
