"""The plan file: a fixed header, then the msgpack payload it vouches for.

    offset  size  field
    0       8     magic  b"ESSHPLAN"
    8       2     format version, big-endian (FORMAT_VERSION)
    10      2     flags, big-endian; bit 0 (FLAG_SIGNED): a signature block
                  follows the payload; any other bit is refused
    12      8     payload length in bytes, big-endian
    20      32    sha256 of the payload
    52      ...   payload: the Plan as msgpack; then the signature block when
                  flag bit 0 is set (signature_block.py), else nothing

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
import functools
import hashlib
import os
import re
import stat
import struct
import time

import msgspec

from .command import ENV_NAME, SUDO
from .errors import (
    NotAPlanFile,
    PlanFileDamaged,
    PlanFileInvalid,
    UnsupportedPlanVersion,
)
from .files_check import check_files
from .plan import FORMAT_VERSION, SECRET_NAME, Plan
from .signature_block import FLAG_SIGNED, parse_block, signed_bytes
from .ssh_options import proxy_jump_loops

MAGIC = b"ESSHPLAN"
_READER_WAIT_TRIES = 40
SUPPORTED_VERSIONS = frozenset({1, 2, 3})
_HEADER = struct.Struct(">8sHHQ32s")
HEADER_SIZE = _HEADER.size

_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@-]*\Z")  # a single word sudo -u takes; never an option
_SECRET = re.compile(SECRET_NAME)
_encoder = msgspec.msgpack.Encoder(order="deterministic")


@functools.cache
def _decoder() -> msgspec.msgpack.Decoder[Plan]:
    """Made on first use: building it resolves every annotation of the plan's types (`essh plan` never decodes)."""
    return msgspec.msgpack.Decoder(Plan)


def encode_plan(plan: Plan) -> bytes:
    """The plan file's bytes. Equal plans give identical bytes."""
    payload = _encoder.encode(plan)
    digest = hashlib.sha256(payload).digest()
    return _HEADER.pack(MAGIC, FORMAT_VERSION, 0, len(payload), digest) + payload


def payload_digest(data: bytes) -> str:
    """The hex sha256 recorded in a plan file's header (what reports cite)."""
    return data[20:HEADER_SIZE].hex()


def split_signed(data: bytes) -> tuple[bytes, tuple[bytes, ...]]:
    """The bytes a plan file's signatures sign, and its SSHSIG blobs (none when unsigned).

    `data` must have passed `decode_plan`."""
    flags, length = _HEADER.unpack_from(data)[2:4]
    end = HEADER_SIZE + length
    blobs = parse_block(data[end:]) if flags & FLAG_SIGNED else ()
    return signed_bytes(data[:HEADER_SIZE], data[HEADER_SIZE:end]), blobs


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
    if flags & ~FLAG_SIGNED:
        raise UnsupportedPlanVersion(f"plan file uses features this essh does not know (header flags {flags:#06x})")
    payload = data[HEADER_SIZE:]
    if len(payload) < length:
        raise PlanFileDamaged(f"plan file is truncated: payload has {len(payload)} of {length} bytes")
    if flags & FLAG_SIGNED:
        parse_block(payload[length:])
        payload = payload[:length]
    elif len(payload) > length:
        raise PlanFileDamaged(f"plan file has {len(payload) - length} unexpected bytes after its payload")
    if hashlib.sha256(payload).digest() != digest:
        raise PlanFileDamaged("plan file is corrupted or was edited: its sha256 does not match its header")
    try:
        plan = _decoder().decode(payload)
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
    import tempfile  # here: `essh plan` without -o never needs it

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
    regular file or nothing yet (replaced atomically); OSError for any other kind.

    A device or FIFO is written only if it (and a symlink leading to it, as
    /dev/stdout is one) belongs to this user or to root: a link another user
    planted in a shared folder never takes a plan or a report to their FIFO."""
    try:
        info = os.stat(path)
        link = os.lstat(path)
    except FileNotFoundError:
        return False
    mode = info.st_mode
    if stat.S_ISREG(mode):
        return False
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        trusted = (0, os.geteuid())
        if info.st_uid not in trusted or link.st_uid not in trusted:
            raise OSError(errno.EPERM, "it is another user's FIFO or device (or a link to one); essh writes only to its own", path)
        return True
    raise _refused(path, mode)


def _refused(path: str, mode: int) -> OSError:
    kind = "a directory" if stat.S_ISDIR(mode) else "a socket" if stat.S_ISSOCK(mode) else (
        "a block device" if stat.S_ISBLK(mode) else "a file of another kind"
    )
    code = errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL
    return OSError(code, f"it is {kind}; essh writes to a regular file, a character device or a FIFO", path)


def _write_in_place(path: str, data: bytes) -> None:
    # No O_CREAT or O_TRUNC: what is there stays what it is. O_NONBLOCK: a FIFO
    # with no reader is an error now (ENXIO), not a wait that no signal ends.
    for _ in range(_READER_WAIT_TRIES):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC | os.O_NONBLOCK)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
            time.sleep(0.05)  # a reader that is just starting gets a moment (2 s in all)
    else:
        raise OSError(errno.ENXIO, "no process is reading this FIFO", path)
    with open(fd, "wb") as f:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            raise OSError(errno.EAGAIN, "it was replaced while essh opened it", path)
        os.set_blocking(fd, True)
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
    secret_names = [s.name for s in plan.secrets]
    for i, name in enumerate(secret_names):
        if not _SECRET.match(name):
            raise bad(f"$.secrets[{i}].name", f"{name!r} is not a secret name")
    for i, ref in enumerate(plan.secrets):
        if ref.source != "apply":
            raise bad(f"$.secrets[{i}].source", f"{ref.source!r} is not a secret source this essh knows")
    if len(set(secret_names)) != len(secret_names):
        raise bad("$.secrets", "a secret is listed twice")
    for where, table in [(f"$.tasks[{i}]", t.secret_env) for i, t in enumerate(plan.tasks)] + [
        (f"$.hosts[{i}]", h.secret_env) for i, h in enumerate(plan.hosts)
    ]:
        for j, (name, secret) in enumerate(table):
            if not ENV_NAME.match(name):
                raise bad(f"{where}.secret_env[{j}]", f"{name!r} is not an environment variable name")
            if secret not in secret_names:
                raise bad(f"{where}.secret_env[{j}]", f"secret {secret!r} is not in $.secrets")
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
