"""Shared pytest fixtures: the real OpenSSH servers that tests run against; `ws`, a scratch directory with
its own HOME where `essh` runs as a process; `dest`, a folder every user may write (files the test hosts write)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sshd import SshdFleet, start_fleet

sys.path.insert(0, str(Path(__file__).parent / "cli"))  # cli_workspace, for `ws` here and the tests that use it

from cli_workspace import Workspace  # noqa: E402


@pytest.fixture(scope="session")
def sshd() -> Iterator[SshdFleet]:
    """Four sshd servers on 127.0.0.1 (db-1, db-2, web-1, web-2), started once per session.

    Fails (never skips) when sshd is missing or the session is not root.
    """
    # Not under pytest's basetemp: that is private to root, and sshd reads the
    # authorized_keys file as the test user.
    workdir = Path(tempfile.mkdtemp(prefix="essh-sshd-"))
    fleet = start_fleet(workdir)
    try:
        yield fleet
    finally:
        fleet.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "home").mkdir()
    return Workspace(tmp_path)


@pytest.fixture
def dest():
    path = Path(tempfile.mkdtemp(prefix="essh-cli-files-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)
