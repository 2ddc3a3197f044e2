"""The cross-references of a plan's file operations, checked after decoding (part of `check_plan`)."""

from __future__ import annotations

from collections.abc import Callable

from .files import Upload
from .plan import Plan


def _check_secret_places(plan: Plan, i: int, op: Upload, bad: Callable[[str, str], Exception]) -> None:
    blob = plan.files[op.blob]
    if blob.source is not None:
        raise bad(f"$.operations[{i}].secrets", "secrets go only in inline contents")
    names = {s.name for s in plan.secrets}
    at = 0
    for j, (offset, name) in enumerate(op.secrets):
        if not at <= offset <= blob.size:
            raise bad(f"$.operations[{i}].secrets[{j}]", f"offset {offset} is out of order or past the contents")
        if name not in names:
            raise bad(f"$.operations[{i}].secrets[{j}]", f"secret {name!r} is not in $.secrets")
        at = offset


def check_files(plan: Plan, bad: Callable[[str, str], Exception]) -> None:
    """Raise `bad(where, what)` for a file operation a reader could not trust."""
    n_blobs, n_ops = len(plan.files), len(plan.operations)
    for i, blob in enumerate(plan.files):
        if blob.source is None and len(blob.data) != blob.size:
            raise bad(f"$.files[{i}].size", f"{blob.size} is not the length of its data ({len(blob.data)})")
        if blob.source is not None and blob.data:
            raise bad(f"$.files[{i}].data", "a reference carries no data")
    for i, op in enumerate(plan.operations):
        if isinstance(op, Upload):
            if op.blob >= n_blobs:
                raise bad(f"$.operations[{i}].blob", f"{op.blob} is out of range")
            if not op.dest.startswith("/") or "\0" in op.dest:
                raise bad(f"$.operations[{i}].dest", f"{op.dest!r} is not an absolute path")
            if op.secrets:
                _check_secret_places(plan, i, op, bad)
        elif not op.src.startswith("/") or "\0" in op.src or not op.dest or "\0" in op.dest:
            raise bad(f"$.operations[{i}]", "a download needs an absolute remote path and a local path")
    for i, step in enumerate(plan.steps):
        for j, op in enumerate(step.ops):
            if op >= n_ops:
                raise bad(f"$.steps[{i}].ops[{j}]", f"{op} is out of range")
        if step.ops and step.host is None and plan.tasks[step.task].backend == "remote":
            raise bad(f"$.steps[{i}].ops", "file operations need a host")
        if step.observed and len(step.observed) != len(step.ops):
            raise bad(f"$.steps[{i}].observed", "is not aligned with its ops")
