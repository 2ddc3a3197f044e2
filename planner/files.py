"""File operations into the plan: contents read and pinned, templates rendered, per host.

This is the one part of planning that reads files besides the configuration:
each upload's and template's source is read here, once per path. Contents up
to `inline_limit` bytes are stored in the plan (`FileBlob.data`); bigger ones
as a reference (digest, size, source path), read again at apply time. Each
distinct content is stored once, however many hosts receive it; each distinct
operation once, however many steps run it.

A template source is rendered with {"Host", "Task", "Args"} (as a driver's
template sees them), once per host when it reads `.Host`, else once per task;
so are destinations and download paths. Errors are configuration errors at
the task's file:line.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Sequence
from typing import Any

from essh.schema import INLINE_LIMIT, Download, FileBlob, Operation, Upload

from .drivers import Templates, host_data, task_data
from .file_specs import FileSpec
from .model import ConfigError, HostDef, TaskDef

_CHUNK = 1024 * 1024


class FileTable:
    """The plan's `files` and `operations` tables, filled task by task."""

    def __init__(self, templates: Templates, inline_limit: int = INLINE_LIMIT) -> None:
        self._templates = templates
        self._limit = inline_limit
        self.blobs: list[FileBlob] = []
        self._blob_index: dict[str, int] = {}
        self.operations: list[Operation] = []
        self._op_index: dict[Operation, int] = {}
        self._read: dict[str, tuple[bytes | None, str, int]] = {}  # path -> (data or None, sha256, size)
        self._downloads: dict[str, str] = {}  # local path -> "task on host" writing it

    def step_ops(
        self, task: TaskDef, backend: str, hosts: Sequence[HostDef | None], args: Sequence[str]
    ) -> list[tuple[int, ...]]:
        """For each of `hosts`, the indices of the operations its step runs, in the task's order."""
        if not task.files:
            return [()] * len(hosts)
        if backend != "remote" or any(h is None for h in hosts):
            raise ConfigError(f"task {task.name}: file operations need target hosts (a remote task)", task.defined_at)
        tdata = task_data(task, args)
        out = []
        for host in hosts:
            data = {"Host": host_data(host), "Task": tdata, "Args": list(args)}
            dests: dict[str, int] = {}
            ops = []
            for spec in task.files:
                op = self._operation(task, spec, data, host)  # type: ignore[arg-type]
                if isinstance(op, Upload):
                    if op.dest in dests:
                        raise ConfigError(
                            f"task {task.name}: files[{dests[op.dest]}] and files[{spec.number}] both write "
                            f"{op.dest} on {host.name}", spec.where)  # type: ignore[union-attr]
                    dests[op.dest] = spec.number
                ops.append(self._add_op(op))
            out.append(tuple(ops))
        return out

    def _operation(self, task: TaskDef, spec: FileSpec, data: dict[str, Any], host: HostDef) -> Operation:
        dest = self._render(task, spec, spec.dest, data, "dest")
        label = f"task {task.name}: files[{spec.number}]"
        if spec.kind == "download":
            if dest in self._downloads:
                raise ConfigError(
                    f"{label}: {host.name} would download to {dest}, as {self._downloads[dest]} does; "
                    "name the host in the path (logs/{{.Host.Name}}/...)", spec.where)
            self._downloads[dest] = f"{task.name} on {host.name}"
            return Download(src=self._render(task, spec, spec.source, data, "download"), dest=dest)
        if not dest.startswith("/") or posixpath.normpath(dest) != dest or dest == "/":
            raise ConfigError(f"{label}: dest must be an absolute, normal path to a file, not {dest!r}", spec.where)
        if spec.kind == "content":
            blob = self._add_bytes(spec.source.encode("utf-8", "surrogateescape"))
            src = ""
        elif spec.kind == "upload":
            blob = self._add_file(spec, label)
            src = spec.source
        else:
            text = self._read_text(spec, label)
            blob = self._add_bytes(self._render(task, spec, text, data, "template").encode("utf-8", "surrogateescape"))
            src = spec.source
        return Upload(
            dest=dest, blob=blob, mode=0o644 if spec.mode is None else spec.mode, owner=spec.owner, group=spec.group,
            origin=spec.kind, src=src, secrets=spec.secrets,  # type: ignore[arg-type]
        )

    def _render(self, task: TaskDef, spec: FileSpec, text: str, data: dict[str, Any], what: str) -> str:
        if "{{" not in text:
            return text
        try:
            return self._templates.get(text).render(data)
        except Exception as exc:
            raise ConfigError(f"task {task.name}: files[{spec.number}]: cannot render its {what}: {exc}", spec.where) from None

    def _add_op(self, op: Operation) -> int:
        found = self._op_index.get(op)
        if found is None:
            found = self._op_index[op] = len(self.operations)
            self.operations.append(op)
        return found

    def _add_bytes(self, data: bytes) -> int:
        digest = hashlib.sha256(data).hexdigest()
        found = self._blob_index.get(digest)
        if found is None:
            found = self._blob_index[digest] = len(self.blobs)
            self.blobs.append(FileBlob(sha256=digest, data=data, size=len(data)))
        return found

    def _add_file(self, spec: FileSpec, label: str) -> int:
        data, digest, size = self._load(spec.source, spec, label)
        if data is not None:
            return self._add_bytes(data)
        key = f"ref:{digest}:{spec.source}"
        found = self._blob_index.get(key)
        if found is None:
            found = self._blob_index[key] = len(self.blobs)
            self.blobs.append(FileBlob(sha256=digest, size=size, source=spec.source))
        return found

    def _read_text(self, spec: FileSpec, label: str) -> str:
        data, _, size = self._load(spec.source, spec, label)
        if data is None:
            raise ConfigError(f"{label}: template {spec.source} is {size} bytes, over the {self._limit}-byte limit", spec.where)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{label}: template {spec.source} is not UTF-8 text", spec.where) from None

    def _load(self, path: str, spec: FileSpec, label: str) -> tuple[bytes | None, str, int]:
        found = self._read.get(path)
        if found is not None:
            return found
        try:
            with open(path, "rb") as f:
                digest, size, kept = hashlib.sha256(), 0, []
                while chunk := f.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    if size <= self._limit:
                        kept.append(chunk)
        except OSError as exc:
            raise ConfigError(f"{label}: cannot read {path}: {exc.strerror or exc}", spec.where) from None
        found = self._read[path] = (b"".join(kept) if size <= self._limit else None, digest.hexdigest(), size)
        return found
