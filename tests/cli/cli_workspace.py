"""Running the real `essh` command in a scratch directory with its own HOME (helpers for tests/cli)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Workspace:
    """A working directory with a private HOME, where `essh` runs as a separate process."""

    path: Path

    def write(self, name: str, text: str) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def essh(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        full_env = {
            key: value for key, value in os.environ.items() if not key.startswith(("ESSH_", "SOURCE_DATE_EPOCH"))
        }
        full_env.update(HOME=str(self.path / "home"), XDG_STATE_HOME=str(self.path / "state"))
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "essh", *args],
            cwd=self.path,
            env=full_env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line an error must be, checked to be exactly that."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def with_terminal(ws: Workspace, answer: bytes, *args: str) -> tuple[int, str]:
    """Run essh with a terminal on stdin/stdout, type `answer` at the prompt."""
    leader, follower = os.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESSH_")}
    env.update(HOME=str(ws.path / "home"), XDG_STATE_HOME=str(ws.path / "state"))
    process = subprocess.Popen(
        [sys.executable, "-m", "essh", *args], cwd=ws.path, env=env, stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    while b"Apply this plan?" not in seen and time.monotonic() < deadline:
        seen += os.read(leader, 4096)
    os.write(leader, answer)
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: essh ended
            break
        if not chunk:
            break
        seen += chunk
    code = process.wait(timeout=60)
    os.close(leader)
    return code, seen.decode(errors="replace")
