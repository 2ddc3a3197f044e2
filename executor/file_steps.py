"""A step's file operations, carried out through its connection (see `essh.schema.files`).

Uploads, in the step's order, before its script; downloads after it. Each
upload:
1. observes the destination (read-only: exists? digest, mode, owner, group);
2. refuses it when the plan recorded what `essh plan --refresh` saw there and
   the file changed since (kind `stale`; `force` writes anyway);
3. leaves it alone when it already has the plan's digest, mode and (when
   given) owner and group: `unchanged`;
4. otherwise runs one program with the task's sudo that receives the
   contents on its standard input (`ssh_upload.py`) into a private temporary
   file (0600, created exclusively) beside the destination, sets owner, group
   and mode, and renames it over the destination once every byte arrived
   (`remote_files.upload_program`): `created` or `updated`. A referenced
   source's digest is checked while it is sent.

A download runs `cat` on the file with the task's sudo and writes its
standard output into a temporary file beside its local path, taking its size
and digest as it comes, then renames it into place.

Failures raise `StepFailure` with kind `file_error` (or `stale`) and a reason
naming the file; the report gets one `FileDone` event per operation done.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from typing import BinaryIO

import msgspec

from essh.schema import Download, Observed, Plan, Step, Task, Upload
from essh.schema.files import as_recorded, with_secrets

from .errors import LocalError, StepFailure
from .events import FileDone, Stream
from .remote_files import download_program, observe_program, parse_observed, upload_program
from .ssh_upload import Contents, SourceChanged
from .transport import Command, Connection

_UPLOAD_ERRORS = {
    3: "cannot create a temporary file beside it",
    4: "cannot write a temporary file beside it",
    5: "the upload was interrupted",
    7: "cannot set its mode",
    8: "cannot rename the temporary file over it",
    9: "cannot set its owner or group",
    10: "cannot create its folder",
    11: "there is a directory there",
}


class _Capture:
    """A StepIO that keeps a small program's output."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()

    def output(self, stream: Stream, data: bytes) -> None:
        (self.out if stream == "stdout" else self.err).extend(data[: 1 << 20])

    def notice(self, text: str) -> None:
        self.err.extend(text.encode() + b"\n")

    def why(self) -> str:
        text = self.err.decode("utf-8", "replace").strip().splitlines()
        return text[-1] if text else ""


async def run_program(conn: Connection, task: Task, program: str) -> tuple[int, str, str]:
    """Run a small program with the task's shell and sudo; (status, stdout, last stderr line)."""
    io = _Capture()
    code = await conn.run(Command(_helper(task), program), io)
    return code, io.out.decode("utf-8", "replace"), io.why()


async def observe(conn: Connection, task: Task, path: str) -> Observed:
    """What is at `path` on the host now; StepFailure when it cannot be looked at."""
    code, out, why = await run_program(conn, task, observe_program(path))
    if code != 0:
        raise StepFailure(f"cannot look at {path}: {why or f'exit status {code}'}", "file_error")
    try:
        return parse_observed(out)
    except ValueError as exc:
        raise StepFailure(f"cannot look at {path}: {exc}", "file_error") from None


def same_file(a: Observed, b: Observed) -> bool:
    """Whether two observations see the same file (or both no file)."""
    return (a.exists, a.sha256, a.mode, a.owner, a.group) == (b.exists, b.sha256, b.mode, b.owner, b.group)


def up_to_date(seen: Observed, op: Upload, sha256: str) -> bool:
    """Whether the destination already is what the upload would make it."""
    return (
        seen.exists and seen.sha256 == sha256 and seen.mode == op.mode
        and (op.owner is None or seen.owner == op.owner) and (op.group is None or seen.group == op.group)
    )


class FileSteps(msgspec.Struct):
    """The file operations of one step of `plan`, over `conn`."""

    plan: Plan
    step: int
    conn: Connection
    emit: Callable[[FileDone], None]
    force: bool = False
    secrets: dict[str, str] = msgspec.field(default_factory=dict)  # secret name -> value, for uploads' contents

    @property
    def _step(self) -> Step:
        return self.plan.steps[self.step]

    async def uploads(self) -> None:
        s = self._step
        task = self.plan.tasks[s.task]
        for n, index in enumerate(s.ops):
            op = self.plan.operations[index]
            if isinstance(op, Upload):
                expected = s.observed[n] if s.observed else None
                await self._upload(task, index, op, expected)

    async def downloads(self) -> None:
        s = self._step
        task = self.plan.tasks[s.task]
        for index in s.ops:
            op = self.plan.operations[index]
            if isinstance(op, Download):
                await self._download(task, index, op)

    async def _upload(self, task: Task, index: int, op: Upload, expected: Observed | None) -> None:
        blob = self.plan.files[op.blob]
        seen = await observe(self.conn, task, op.dest)
        data, sha256 = blob.data, blob.sha256
        if op.secrets:  # the plan has neither the whole contents nor their digest
            data = with_secrets(blob.data, op.secrets, self.secrets)
            sha256 = hashlib.sha256(data).hexdigest()
        if expected is not None and not same_file(as_recorded(seen, op), expected) and not self.force:
            raise StepFailure(
                f"{op.dest} changed on the host since the plan was made (refresh the plan, or apply with --force)",
                "stale",
            )
        if up_to_date(seen, op, sha256):
            self.emit(FileDone(self.step, index, op.dest, "unchanged", blob.size, blob.sha256))
            return
        size = blob.size if blob.source is not None else len(data)  # inline: with its secrets put in
        contents = Contents(data if blob.source is None else None, blob.source, size, blob.sha256)
        program = upload_program(op.dest, size, op.mode, op.owner, op.group, parents=op.parents)
        io = _Capture()
        try:
            code = await self.conn.upload(Command(_helper(task), program), io, contents)
        except SourceChanged as exc:
            raise StepFailure(f"cannot write {op.dest}: its source {exc.reason}", exc.kind) from None
        if code != 0:
            what = _UPLOAD_ERRORS.get(code, f"exit status {code}")
            why = io.why()
            raise StepFailure(f"cannot write {op.dest}: {what}" + (f": {why}" if why else ""), "file_error")
        action = "updated" if seen.exists else "created"
        self.emit(FileDone(self.step, index, op.dest, action, blob.size, blob.sha256))

    async def _download(self, task: Task, index: int, op: Download) -> None:
        folder = os.path.dirname(os.path.abspath(op.dest))
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(op.dest) + ".", suffix=".tmp")
        except OSError as exc:
            raise LocalError(f"cannot write {op.dest}: {exc.strerror or exc}") from exc
        try:
            with os.fdopen(fd, "wb") as f:
                into = _IntoFile(f)
                code = await self.conn.run(Command(_helper(task), download_program(op.src)), into)
                if into.failed is not None:
                    raise LocalError(f"cannot write {op.dest}: {into.failed.strerror or into.failed}")
            if code != 0:
                why = into.why() or f"exit status {code}"
                raise StepFailure(f"cannot read {op.src}: {why}", "file_error")
            try:
                os.replace(tmp, op.dest)
            except OSError as exc:
                raise LocalError(f"cannot write {op.dest}: {exc.strerror or exc}") from exc
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.emit(FileDone(self.step, index, op.dest, "downloaded", into.size, into.digest.hexdigest()))


def _helper(task: Task) -> Task:
    """The task's command line without its terminal: file programs need clean standard streams."""
    return Task(name=task.name, shell=task.shell, run_as=task.run_as, backend="remote")


class _IntoFile(_Capture):
    """A StepIO that writes a program's standard output into a local file, with its size and digest."""

    def __init__(self, f: BinaryIO) -> None:
        super().__init__()
        self.f = f
        self.size = 0
        self.digest = hashlib.sha256()
        self.failed: OSError | None = None

    def output(self, stream: Stream, data: bytes) -> None:
        if stream != "stdout":
            super().output(stream, data)
        elif self.failed is None:
            try:
                self.f.write(data)
            except OSError as exc:  # this machine's disk: the step fails as a local error
                self.failed = exc
                return
            self.size += len(data)
            self.digest.update(data)
