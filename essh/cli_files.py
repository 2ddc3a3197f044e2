"""The plan and report files the commands read, and the files they write: a failure is one `Abort` line."""

from __future__ import annotations

from pathlib import Path

from essh import schema
from essh.places import make_parent
from essh.schema import EXIT_REPORT_LOST

from .plan_steps import Abort


def _write_output(path: Path, data: bytes, what: str) -> None:
    try:
        make_parent(path)
        schema.write_private_file(str(path), data)
    except OSError as exc:
        raise Abort(f"cannot write the {what} to {path}: {exc.strerror or exc}", EXIT_REPORT_LOST) from None


def _read_report(path: Path) -> schema.Report:
    try:
        return schema.decode_report_json(Path(path).read_bytes())
    except OSError as exc:
        raise Abort(f"cannot read report {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # msgspec's errors: not JSON, or not a report this essh reads
        raise Abort(f"{path} is not an essh report this version can read: {exc}") from None


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
