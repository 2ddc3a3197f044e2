"""The `ws` fixture: a scratch directory with its own HOME where `essh` runs as a process."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "home").mkdir()
    return Workspace(tmp_path)
