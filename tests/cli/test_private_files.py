"""Where `--report` and `plan -o` may point: a regular file is replaced atomically, a
character device or FIFO is written in place, anything else is refused in one line.

The null device used here is a private copy (`mknod c 1 3`) when running as root:
a regression would otherwise replace the machine's own /dev/null with a file.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path

import pytest
from cli_workspace import Workspace, one_error_line

from essh.schema import write_private_file

TASK = 'task "hello" { script = "echo hello" }\n'


@pytest.fixture
def null_device(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        return Path(os.devnull)  # not root: essh could not replace it anyway
    path = tmp_path / "null"
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return path


def _read_fifo(path: Path) -> tuple[threading.Thread, list[bytes]]:
    got: list[bytes] = []

    def reader() -> None:
        with open(path, "rb") as f:
            got.append(f.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return thread, got


def test_a_character_device_is_written_in_place_not_replaced(null_device):
    before = os.stat(null_device)
    write_private_file(str(null_device), b"report")
    after = os.stat(null_device)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino and after.st_mode == before.st_mode


def test_a_fifo_is_written_in_place_for_its_reader(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    thread, got = _read_fifo(fifo)
    write_private_file(str(fifo), b"through the fifo")
    thread.join(10)
    assert got == [b"through the fifo"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("kind", ["socket", "directory"])
def test_a_socket_or_directory_is_refused_and_left_alone(tmp_path, kind):
    path = tmp_path / kind
    if kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    else:
        path.mkdir()
    with pytest.raises(OSError, match=f"it is a {kind}; essh writes to a regular file, a character device or a FIFO"):
        write_private_file(str(path), b"x")
    assert (stat.S_ISSOCK if kind == "socket" else stat.S_ISDIR)(os.lstat(path).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == [kind]  # no temporary file left behind


def test_a_regular_file_is_still_replaced_atomically_and_privately(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    target.chmod(0o644)
    inode = target.stat().st_ino
    write_private_file(str(target), b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_ino != inode and target.stat().st_mode & 0o777 == 0o600


def test_report_to_the_null_device_and_plan_to_a_fifo_through_the_command(ws: Workspace, null_device):
    ws.write(".esshconfig.lua", TASK)
    applied = ws.essh("run", "hello", "--report", str(null_device))
    assert applied.returncode == 0, applied.stderr
    assert stat.S_ISCHR(os.stat(null_device).st_mode)
    fifo = ws.path / "plan.fifo"
    os.mkfifo(fifo)
    thread, got = _read_fifo(fifo)
    planned = ws.essh("plan", "hello", "-o", str(fifo))
    thread.join(10)
    assert planned.returncode == 0, planned.stderr
    assert got and got[0].startswith(b"ESSHPLAN")


def test_report_to_a_fifo_is_written_for_its_reader(ws: Workspace):
    ws.write(".esshconfig.lua", TASK)
    fifo = ws.path / "report.fifo"
    os.mkfifo(fifo)
    thread, got = _read_fifo(fifo)
    result = ws.essh("run", "hello", "--report", str(fifo))
    thread.join(10)
    assert result.returncode == 0, result.stderr
    assert got and b'"exit_code"' in got[0]


@pytest.mark.parametrize("option", ["--report", "-o"])
def test_a_socket_destination_is_one_clear_line_before_anything_runs(ws: Workspace, option):
    ws.write(".esshconfig.lua", 'task "hello" { script = "touch ran" }\n')
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(ws.path / "sock"))
    result = ws.essh(*(["run", "hello"] if option == "--report" else ["plan", "hello"]), option, "sock")
    assert result.returncode == 2
    assert one_error_line(result).endswith("sock: it is a socket; essh writes to a regular file, a character device or a FIFO")
    assert not (ws.path / "ran").exists()
    assert stat.S_ISSOCK(os.lstat(ws.path / "sock").st_mode)
