"""A step's file operations, carried out through its connection (see `essh.schema.files`).

Uploads, in the step's order, before its script; downloads after it. Each
upload:
1. observes the destination (read-only: exists? digest, mode, owner, group);
2. refuses it when the plan recorded what `essh plan --refresh` saw there and
   the file changed since (kind `stale`; `force` writes anyway);
3. leaves it alone when it already has the plan's digest, mode and (when
   given) owner and group: `unchanged`;
4. otherwise streams the contents over SFTP into a new private file (0600,
   created exclusively) next to the destination, or, for a task that runs as
   another user, in the login user's home (a referenced source's digest is
   checked while it is sent); then one program (with the task's sudo) copies a staged file into a private temporary
   file beside the destination, sets owner, group and mode, and renames it
   over the destination: `created` or `updated`.

A download is fetched into a temporary file beside its local path, its
digest taken, then renamed into place (a privileged task's file is first
copied by sudo into a private file the login user owns).

Failures raise `StepFailure` with kind `file_error` (or `stale`) and a reason
naming the file; the report gets one `FileDone` event per operation done.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

import msgspec

from essh.schema import Download, Observed, Plan, Step, Task, Upload
from essh.schema.files import with_secrets

from .errors import HostUnreachable, LocalError, StepFailure
from .ssh_files import SourceChanged
from .events import FileDone, Stream
from .remote_files import finish_program, observe_program, parse_observed, stage_download_program
from .transport import Command, Connection

_FINISH_ERRORS = {
    3: "cannot create a temporary file beside it",
    4: "cannot write a temporary file beside it",
    7: "cannot set its mode",
    8: "cannot rename the temporary file over it",
    9: "cannot set its owner or group",
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
    helper = Task(name=task.name, shell=task.shell, run_as=task.run_as, backend="remote")
    code = await conn.run(Command(helper, program), io)
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


@dataclass
class FileSteps:
    """The file operations of one step of `plan`, over `conn`."""

    plan: Plan
    step: int
    conn: Connection
    emit: Callable[[FileDone], None]
    force: bool = False
    secrets: dict[str, str] = field(default_factory=dict)  # secret name -> value, for uploads' contents

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
        if op.secrets:  # the plan has neither the whole contents nor their digest (see observe.py)
            data = with_secrets(blob.data, op.secrets, self.secrets)
            sha256 = hashlib.sha256(data).hexdigest()
            compared = msgspec.structs.replace(seen, sha256="")
        else:
            compared = seen
        if expected is not None and not same_file(compared, expected) and not self.force:
            raise StepFailure(
                f"{op.dest} changed on the host since the plan was made (refresh the plan, or apply with --force)",
                "stale",
            )
        if up_to_date(seen, op, sha256):
            self.emit(FileDone(self.step, index, op.dest, "unchanged", blob.size, blob.sha256))
            return
        privileged = task.run_as is not None
        token = secrets.token_hex(6)
        if privileged:
            staged = f".essh-upload-{token}"
        else:
            folder, name = posixpath.split(op.dest)
            staged = posixpath.join(folder, f".{name}.essh-{token}")
        try:
            staged = await self.conn.write_new_file(
                staged, data if blob.source is None else None, blob.source,
                sha256=blob.sha256 if blob.source is not None else None,
            )
        except (HostUnreachable, LocalError):  # the host's or this machine's: as they are
            raise
        except SourceChanged as exc:
            raise StepFailure(f"cannot write {op.dest}: its source {exc.reason}", exc.kind) from None
        except StepFailure as exc:
            where = "in the login user's home" if privileged else "beside it"
            raise StepFailure(f"cannot write {op.dest}: cannot write a temporary file {where}: {exc.reason}", exc.kind) from None
        code, _, why = await run_program(
            self.conn, task,
            finish_program(staged, op.dest, op.mode, op.owner, op.group, copy=privileged),
        )
        if code != 0:
            what = _FINISH_ERRORS.get(code, f"exit status {code}")
            raise StepFailure(f"cannot write {op.dest}: {what}" + (f": {why}" if why else ""), "file_error")
        action = "updated" if seen.exists else "created"
        self.emit(FileDone(self.step, index, op.dest, action, blob.size, blob.sha256))

    async def _download(self, task: Task, index: int, op: Download) -> None:
        remote = op.src
        if task.run_as is not None:
            code, out, why = await run_program(self.conn, task, stage_download_program(op.src))
            if code != 0:
                raise StepFailure(f"cannot read {op.src}: {why or f'exit status {code}'}", "file_error")
            remote = out.strip()
        folder = os.path.dirname(os.path.abspath(op.dest))
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(op.dest) + ".", suffix=".tmp")
            os.close(fd)
        except OSError as exc:
            raise LocalError(f"cannot write {op.dest}: {exc.strerror or exc}") from exc
        try:
            try:
                await self.conn.get_file(remote, tmp)
            except StepFailure as exc:
                raise StepFailure(exc.reason.replace(remote, op.src), exc.kind) from None
            size, digest = await trio.to_thread.run_sync(_size_and_digest, tmp)
            os.replace(tmp, op.dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        finally:
            if remote != op.src:
                with contextlib.suppress(StepFailure, OSError):
                    await self.conn.remove_file(remote)
        self.emit(FileDone(self.step, index, op.dest, "downloaded", size, digest))


def _size_and_digest(path: str) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
