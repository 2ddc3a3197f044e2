"""Shared pytest fixtures: the real OpenSSH servers that executor tests run against."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sshd import SshdFleet, start_fleet


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
