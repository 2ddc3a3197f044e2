"""The plan file: a fixed header, then the msgpack payload it vouches for.

    offset  size  field
    0       8     magic  b"ESSHPLAN"
    8       2     format version, big-endian (FORMAT_VERSION)
    10      2     flags, big-endian; must be 0 (bit 0 is reserved for a
                  signature block that will follow the payload)
    12      8     payload length in bytes, big-endian
    20      32    sha256 of the payload
    52      ...   payload: the Plan as msgpack; nothing may follow it

`read_plan` checks magic, version, flags, length and digest before decoding, then
the cross-references between the plan's tables (`check_plan`), and turns every
problem into one `PlanFileError` whose message is a single line.

Version 1 plans are still read: their `Task.shell` held the sudo wrapping, which
`_upgrade_v1` turns into `Task.run_as` once, here, so nothing downstream ever
looks inside an argv.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import struct
import tempfile

import msgspec

from .errors import (
    NotAPlanFile,
    PlanFileDamaged,
    PlanFileInvalid,
    UnsupportedPlanVersion,
)
from .command import ENV_NAME, SUDO
from .files_check import check_files
from .plan import FORMAT_VERSION, Plan
from .ssh_options import proxy_jump_loops

MAGIC = b"ESSHPLAN"
SUPPORTED_VERSIONS = frozenset({1, 2, 3})
_HEADER = struct.Struct(">8sHHQ32s")
HEADER_SIZE = _HEADER.size

_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@-]*\Z")  # a single word sudo -u takes; never an option
_encoder = msgspec.msgpack.Encoder(order="deterministic")
_decoder = msgspec.msgpack.Decoder(Plan)


def encode_plan(plan: Plan) -> bytes:
    """The plan file's bytes. Equal plans give identical bytes."""
    payload = _encoder.encode(plan)
    digest = hashlib.sha256(payload).digest()
    return _HEADER.pack(MAGIC, FORMAT_VERSION, 0, len(payload), digest) + payload


def payload_digest(data: bytes) -> str:
    """The hex sha256 recorded in a plan file's header (what reports cite)."""
    return data[20:HEADER_SIZE].hex()


def decode_plan(data: bytes) -> Plan:
    """The plan in `data`, checked; raises a `PlanFileError` saying what is wrong."""
    if len(data) < len(MAGIC) or not data.startswith(MAGIC):
        raise NotAPlanFile("not an essh plan file (no ESSHPLAN header)")
    if len(data) < HEADER_SIZE:
        raise PlanFileDamaged(f"plan file is truncated: {len(data)} bytes, shorter than its {HEADER_SIZE}-byte header")
    _, version, flags, length, digest = _HEADER.unpack_from(data)
    if version not in SUPPORTED_VERSIONS:
        newer = "a newer" if version > max(SUPPORTED_VERSIONS) else "an older"
        raise UnsupportedPlanVersion(
            f"plan file format version {version} is not supported by this essh "
            f"(it reads {', '.join(map(str, sorted(SUPPORTED_VERSIONS)))}); it was written by {newer} essh"
        )
    if flags:
        raise UnsupportedPlanVersion(f"plan file uses features this essh does not know (header flags {flags:#06x})")
    payload = data[HEADER_SIZE:]
    if len(payload) < length:
        raise PlanFileDamaged(f"plan file is truncated: payload has {len(payload)} of {length} bytes")
    if len(payload) > length:
        raise PlanFileDamaged(f"plan file has {len(payload) - length} unexpected bytes after its payload")
    if hashlib.sha256(payload).digest() != digest:
        raise PlanFileDamaged("plan file is corrupted or was edited: its sha256 does not match its header")
    try:
        plan = _decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise PlanFileInvalid(f"plan file does not match format version {version}: {_one_line(exc)}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # msgspec raises the latter for bad UTF-8 keys
        raise PlanFileInvalid(f"plan file payload cannot be decoded: {_one_line(exc)}") from None
    if plan.format_version == FORMAT_VERSION and version != FORMAT_VERSION:
        # Left out of the payload as the default of its day: the header's version.
        plan = msgspec.structs.replace(plan, format_version=version)
    if plan.format_version != version:
        raise PlanFileInvalid(
            f"plan file header says format version {version} but its payload says {plan.format_version}"
        )
    if version == 1:
        plan = _upgrade_v1(plan)
    check_plan(plan)
    return plan


def _upgrade_v1(plan: Plan) -> Plan:
    """A version-1 plan in today's form: `sudo -n -u USER -H -- bash -c` shells become run_as."""
    tasks = []
    for i, task in enumerate(plan.tasks):
        shell = task.shell
        if shell[: len(SUDO)] == SUDO:
            if len(shell) < len(SUDO) + 3 or shell[len(SUDO) + 1 : len(SUDO) + 3] != ("-H", "--"):
                raise PlanFileInvalid(f"plan file is inconsistent at $.tasks[{i}].shell: not a sudo wrapping essh wrote")
            task = msgspec.structs.replace(task, run_as=shell[len(SUDO)], shell=shell[len(SUDO) + 3 :])
        tasks.append(task)
    return msgspec.structs.replace(plan, tasks=tuple(tasks))


def _one_line(exc: Exception) -> str:
    """`exc`'s message with control characters escaped (msgspec quotes the file's own field names)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(exc))


def read_plan(path: str) -> Plan:
    """Read and check the plan file at `path`."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise PlanFileInvalid(f"cannot read plan file {path}: {exc.strerror or exc}") from None
    try:
        return decode_plan(data)
    except (NotAPlanFile, PlanFileDamaged, UnsupportedPlanVersion, PlanFileInvalid) as exc:
        raise type(exc)(f"{path}: {exc}") from None


def write_plan(path: str, plan: Plan) -> bytes:
    """Write `plan` to `path` (replaced atomically, 0600); return the bytes written."""
    data = encode_plan(plan)
    write_private_file(path, data)
    return data


def write_private_file(path: str, data: bytes) -> None:
    """Write `data` to `path`, readable by its owner only.

    A regular file (or a new one) is replaced atomically: a fresh file (0600,
    O_EXCL: never a symlink or someone else's file planted at a guessable name)
    is written next to `path`, then renamed over it. Plans hold every step's
    environment; reports hold their output.

    A character device or a FIFO that `path` already is (`/dev/null`,
    `/dev/stdout`, `mkfifo`) is written in place, never replaced. A directory,
    socket or block device is refused with an OSError whose `strerror` says so."""
    if in_place_destination(path):
        _write_in_place(path, data)
        return
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=os.path.basename(path) + ".", suffix=".tmp")
    try:
        with open(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def in_place_destination(path: str) -> bool:
    """True if `path` is a character device or FIFO to write in place; False if it is a
    regular file or nothing yet (replaced atomically); OSError for any other kind."""
    try:
        mode = os.stat(path).st_mode  # follows the path's own symlinks: /dev/stdout is one
    except FileNotFoundError:
        return False
    if stat.S_ISREG(mode):
        return False
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return True
    raise _refused(path, mode)


def _refused(path: str, mode: int) -> OSError:
    kind = "a directory" if stat.S_ISDIR(mode) else "a socket" if stat.S_ISSOCK(mode) else (
        "a block device" if stat.S_ISBLK(mode) else "a file of another kind"
    )
    code = errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL
    return OSError(code, f"it is {kind}; essh writes to a regular file, a character device or a FIFO", path)


def _write_in_place(path: str, data: bytes) -> None:
    # No O_CREAT or O_TRUNC: what is there stays what it is. A FIFO blocks here
    # until it has a reader, as `echo > fifo` does.
    fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
    with open(fd, "wb") as f:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            raise OSError(errno.EAGAIN, "it was replaced while essh opened it", path)
        f.write(data)


def check_plan(plan: Plan) -> None:
    """Check the cross-references between the plan's tables; raise PlanFileInvalid."""
    n_tasks, n_hosts, n_scripts = len(plan.tasks), len(plan.hosts), len(plan.scripts)

    def bad(where: str, what: str) -> PlanFileInvalid:
        return PlanFileInvalid(f"plan file is inconsistent at {where}: {what}")

    for i, task in enumerate(plan.tasks):
        for j, dep in enumerate(task.after):
            if dep >= i:
                raise bad(f"$.tasks[{i}].after[{j}]", f"{dep} is not an earlier task")
        if task.on_error == "handler":
            h = task.handler
            if h is None or h >= n_tasks or plan.tasks[h].role != "handler" or plan.tasks[h].handles != i:
                raise bad(f"$.tasks[{i}].handler", "does not name a handler task for this task")
        if task.role == "handler" and (task.handles is None or task.handles >= n_tasks):
            raise bad(f"$.tasks[{i}].handles", "does not name a task")
        if not task.shell:
            raise bad(f"$.tasks[{i}].shell", "is empty")
        if task.run_as is not None and not _USER.match(task.run_as):
            raise bad(f"$.tasks[{i}].run_as", f"{task.run_as!r} is not a user name")
    for i, chain in sorted(proxy_jump_loops(plan.hosts).items())[:1]:
        raise bad(f"$.hosts[{i}].ssh_options", f"ProxyJump loops back: {chain}")
    # Before format 3 `files` was reserved: a plan of versions 1-2 carrying it was not written by essh.
    if plan.format_version < 3 and (plan.files or plan.operations):
        raise bad("$.files", f"file operations need format version 3, not {plan.format_version}")
    if plan.secrets:
        raise bad("$.secrets", "secret references are reserved for a later format version; this essh cannot resolve them")
    for where, table in [(f"$.hosts[{i}].env", h.env) for i, h in enumerate(plan.hosts)] + [
        (f"$.tasks[{i}].env", t.env) for i, t in enumerate(plan.tasks)
    ]:
        for j, (name, _) in enumerate(table):
            if not ENV_NAME.match(name):
                raise bad(f"{where}[{j}]", f"{name!r} is not an environment variable name")
    for i, step in enumerate(plan.steps):
        if step.task >= n_tasks:
            raise bad(f"$.steps[{i}].task", f"{step.task} is out of range")
        if step.host is not None and step.host >= n_hosts:
            raise bad(f"$.steps[{i}].host", f"{step.host} is out of range")
        if step.host is None and plan.tasks[step.task].backend == "remote":
            raise bad(f"$.steps[{i}].host", "a remote step needs a host")
        if step.script is None:
            if not step.ops:
                raise bad(f"$.steps[{i}].script", "a step without a script needs file operations")
        elif step.script >= n_scripts:
            raise bad(f"$.steps[{i}].script", f"{step.script} is out of range")
        if plan.tasks[step.task].role == "composite":
            raise bad(f"$.steps[{i}].task", "a composite task has no steps")
    check_files(plan, bad)
