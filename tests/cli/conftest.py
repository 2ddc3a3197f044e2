"""The `ws` fixture: a scratch directory with its own HOME where `essh` runs as a process; `dest`: a
folder every user may write, for files the test hosts write."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from cli_workspace import Workspace


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
