"""File operations into the plan: contents read and pinned, templates rendered, per host.

This is the one part of planning that reads files besides the configuration:
each upload's and template's source is read here, once per path. Contents up
to `inline_limit` bytes are stored in the plan (`FileBlob.data`); bigger ones
as a reference (digest, size, source path), read again at apply time. Each
distinct content is stored once, however many hosts receive it; each distinct
operation once, however many steps run it.

An upload whose source is a directory becomes one upload per regular file
under it (recursive, sorted, within the entry's `max_files` and `max_bytes`),
each to `dest` + its path below the directory, creating missing folders.

A template source is rendered with {"Host", "Task", "Args"} (as a driver's
template sees them), once per host when it reads `.Host`, else once per task;
so are destinations and download paths. Errors are configuration errors at
the task's file:line.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from collections.abc import Sequence
from typing import Any

from essh.schema import INLINE_LIMIT, Download, FileBlob, Operation, Upload

from .drivers import Templates, host_data, task_data
from .file_specs import FileSpec
from .model import ConfigError, HostDef, TaskDef

_CHUNK = 1024 * 1024


def _raise(exc: OSError) -> None:
    raise exc


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
        self._trees: dict[str, list[tuple[str, str, int]]] = {}  # a directory upload's source -> its files

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
                for op in self._operations(task, spec, data, host):  # type: ignore[arg-type]
                    if isinstance(op, Upload):
                        if op.dest in dests:
                            raise ConfigError(
                                f"task {task.name}: files[{dests[op.dest]}] and files[{spec.number}] both write "
                                f"{op.dest} on {host.name}", spec.where)  # type: ignore[union-attr]
                        dests[op.dest] = spec.number
                    ops.append(self._add_op(op))
            out.append(tuple(ops))
        return out

    def _operations(self, task: TaskDef, spec: FileSpec, data: dict[str, Any], host: HostDef) -> list[Operation]:
        dest = self._render(task, spec, spec.dest, data, "dest")
        label = f"task {task.name}: files[{spec.number}]"
        if spec.kind == "download":
            if ".." in dest.split("/") and ".." not in spec.dest.split("/"):
                raise ConfigError(
                    f"{label}: the local path {dest!r} for {host.name} climbs out of its folder ('..' came from a "
                    "value, such as the host's name)", spec.where)
            dest = os.path.normpath(dest)
            if dest in self._downloads:
                raise ConfigError(
                    f"{label}: {host.name} would download to {dest}, as {self._downloads[dest]} does; "
                    "name the host in the path (logs/{{.Host.Name}}/...)", spec.where)
            self._downloads[dest] = f"{task.name} on {host.name}"
            return [Download(src=self._render(task, spec, spec.source, data, "download"), dest=dest)]
        if not dest.startswith("/") or posixpath.normpath(dest) != dest or dest == "/":
            raise ConfigError(f"{label}: dest must be an absolute, normal path to a file, not {dest!r}", spec.where)
        if spec.kind == "upload" and os.path.isdir(spec.source):
            return [
                Upload(
                    dest=posixpath.join(dest, relative), blob=self._add_file(path, spec, label),
                    mode=mode if spec.mode is None else spec.mode, owner=spec.owner, group=spec.group,
                    src=path, parents=True,
                )
                for relative, path, mode in self._tree(spec, label)
            ]
        return [self._operation(task, spec, data, dest, label)]

    def _tree(self, spec: FileSpec, label: str) -> list[tuple[str, str, int]]:
        """The regular files under a directory upload's source, sorted: (path below it with "/",
        local path, 0755 if executable else 0644); anything else in it is a configuration error."""
        found = self._trees.get(spec.source)
        if found is not None:
            return found
        files, total = [], 0
        try:
            for folder, subfolders, names in os.walk(spec.source, onerror=_raise):
                subfolders.sort()
                for name in sorted(names) + [d for d in subfolders if os.path.islink(os.path.join(folder, d))]:
                    path = os.path.join(folder, name)
                    relative = os.path.relpath(path, spec.source).replace(os.sep, "/")
                    st = os.lstat(path)
                    if not stat.S_ISREG(st.st_mode):
                        raise ConfigError(
                            f"{label}: {relative} in {spec.source} is not a regular file "
                            "(a directory upload takes regular files and folders only)", spec.where)
                    files.append((relative, path, _mode_of(st.st_mode)))
                    total += st.st_size
                    if len(files) > spec.max_files:
                        raise ConfigError(f"{label}: {spec.source} has more than {spec.max_files} files "
                                          "(raise max_files to upload it)", spec.where)
                    if total > spec.max_bytes:
                        raise ConfigError(f"{label}: the files in {spec.source} are more than {spec.max_bytes} bytes "
                                          "(raise max_bytes to upload them)", spec.where)
        except OSError as exc:
            raise ConfigError(f"{label}: cannot read {exc.filename or spec.source}: {exc.strerror or exc}", spec.where) from None
        if not files:
            raise ConfigError(f"{label}: {spec.source} has no file to upload", spec.where)
        self._trees[spec.source] = files
        return files

    def _operation(self, task: TaskDef, spec: FileSpec, data: dict[str, Any], dest: str, label: str) -> Operation:
        if spec.kind == "content":
            blob = self._add_bytes(spec.source.encode("utf-8", "surrogateescape"))
            src = ""
        elif spec.kind == "upload":
            blob = self._add_file(spec.source, spec, label)
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

    def _add_file(self, path: str, spec: FileSpec, label: str) -> int:
        data, digest, size = self._load(path, spec, label)
        if data is not None:
            return self._add_bytes(data)
        key = f"ref:{digest}:{path}"
        found = self._blob_index.get(key)
        if found is None:
            found = self._blob_index[key] = len(self.blobs)
            self.blobs.append(FileBlob(sha256=digest, size=size, source=path))
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
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO must not block the planner
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise ConfigError(f"{label}: {path} is not a regular file (nor a folder)", spec.where)
            os.set_blocking(fd, True)
            with os.fdopen(fd, "rb") as f:
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


def _mode_of(local: int) -> int:
    """A folder upload's file without `mode`: its permission bits here (as `rsync -p`), so a private file
    (a key) stays private and an executable stays executable."""
    return stat.S_IMODE(local) & 0o777
