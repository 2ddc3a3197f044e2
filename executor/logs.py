"""The log-file sink: every byte of each step's output, raw, in a private file of its own.

`check_log_dir` runs before anything does: the folder is made (0700) or must be
a folder owned by this user that no one else can write to, so nobody can plant
or read a step's log. A step's file is created when its command starts (not
while it waits for a connection), fresh (O_EXCL, 0600, never through a symlink),
named `NNNNN-TASK-HOST.log` with the names made safe and short enough for any
file system.

Trouble on this machine never fails a step: a log that cannot be opened (out
of descriptors) is skipped with a notice; a full disk stops all logging with
one notice, and the run goes on.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Sequence
from typing import BinaryIO

from essh.schema import Plan

from .events import AttemptEnded, AttemptStarted, Event, LogOpened, Notice, OutputChunk, StepEnded

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_PART = 80  # bytes of a task or host name kept in a file name (NAME_MAX is 255)
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class LogDirError(Exception):
    """The log folder cannot be used safely; nothing has run."""


def check_log_dir(path: str) -> None:
    """Make `path` (0700), or check it is a folder of ours no one else can write to."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.stat(path)
    except OSError as exc:
        raise LogDirError(f"cannot use log folder {path}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise LogDirError(f"log folder {path} is not a folder")
    if info.st_uid != os.geteuid():
        raise LogDirError(f"log folder {path} belongs to another user; use a folder of your own")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise LogDirError(f"log folder {path} can be written by other users; use a private folder (chmod go-w)")


def log_name(plan: Plan, step: int, number: int | None = None) -> str:
    """The log file of `step`, named by `number` (its number in the whole plan, when `plan` is a part of it)."""
    s = plan.steps[step]
    host = "local" if s.host is None else plan.hosts[s.host].name
    task = plan.tasks[s.task].name
    parts = [_UNSAFE.sub("_", part)[:_NAME_PART] for part in (task, host)]
    return f"{step if number is None else number:05d}-{parts[0]}-{parts[1]}.log"


class LogSink:
    """Writes each step's output to its own file in `log_dir`."""

    def __init__(
        self, plan: Plan, log_dir: str, emit: Callable[[Event], None], step_ids: Sequence[int] | None = None
    ) -> None:
        self._plan = plan
        self._ids = step_ids  # a part of a plan (see narrow.py): each step's number in the whole plan
        self._dir = log_dir
        self._emit = emit
        self._files: dict[int, BinaryIO] = {}
        self._opened: set[int] = set()
        self.stopped: str | None = None  # why logging stopped for good

    def handle(self, event: Event) -> None:
        if self.stopped is not None:
            return
        if isinstance(event, OutputChunk):
            log = self._files.get(event.step)
            if log is not None:
                self._write(event.step, log, event.data)
        elif isinstance(event, AttemptStarted):
            if event.step not in self._opened:
                self._opened.add(event.step)
                self._open(event.step)
        elif isinstance(event, AttemptEnded) and event.retrying:
            log = self._files.get(event.step)
            if log is not None:
                self._write(event.step, log, f"essh: attempt {event.number}: {event.error}; trying again\n".encode())
        elif isinstance(event, StepEnded):
            log = self._files.pop(event.step, None)
            if log is not None:
                self._close(event.step, log)

    def _open(self, step: int) -> None:
        path = os.path.join(self._dir, log_name(self._plan, step, None if self._ids is None else self._ids[step]))
        try:
            try:
                fd = os.open(path, _OPEN_FLAGS, 0o600)
            except FileExistsError:  # an earlier run's: the folder is ours alone, so is the file
                os.unlink(path)
                fd = os.open(path, _OPEN_FLAGS, 0o600)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                self._stop(exc)
            else:
                self._emit(Notice(f"no log for this step: cannot create {path}: {exc.strerror or exc}", step))
            return
        self._files[step] = open(fd, "wb")  # noqa: SIM115 - closed at StepEnded or when logging stops
        self._emit(LogOpened(step, path))

    def _write(self, step: int, log: BinaryIO, data: bytes) -> None:
        try:
            log.write(data)
        except OSError as exc:
            self._fail(step, exc)

    def _close(self, step: int, log: BinaryIO) -> None:
        try:
            log.close()
        except OSError as exc:
            self._fail(step, exc)

    def _fail(self, step: int, exc: OSError) -> None:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            self._stop(exc)
            return
        log = self._files.pop(step, None)
        if log is not None:
            _quietly_close(log)
        self._emit(Notice(f"this step's log stopped: {exc.strerror or exc}", step))

    def _stop(self, exc: OSError) -> None:
        self.stopped = exc.strerror or str(exc)
        for log in self._files.values():
            _quietly_close(log)
        self._files.clear()
        self._emit(Notice(f"logging stopped: {self.stopped} in {self._dir}; the run goes on"))

    def close(self) -> None:
        """The run is over (or essh is stopping): close what is still open."""
        for step, log in list(self._files.items()):
            self._close(step, log)
        self._files.clear()


def _quietly_close(log: BinaryIO) -> None:
    try:
        log.close()
    except OSError:
        pass
