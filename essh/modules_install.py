"""`essh modules update` and `essh modules clean`: the only code that fetches modules.

`Installer` is handed to the loader in place of the planner's `Pinned`: every
git module the configuration imports (nested imports too, as they are
reached) is cloned at its ref into the registry's modules folder, without its `.git`, and
pinned in the lock file with its commit and digest. Sources: local paths
and any URL git itself takes (tests use file:// and local repositories).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from essh.planner.modules import ModuleError, Pinned, Source, digest, parse


class Installer(Pinned):
    """`essh modules update`: fetch every git module the configuration imports (nested
    imports too, as they are reached), install it and write the lock file."""

    def __init__(self, base: str, modules_dir: str | None = None, lock_path: str | None = None) -> None:
        super().__init__(base, modules_dir, lock_path)
        self.locked: dict[str, dict[str, str]] = {}

    def folder(self, text: str, within: str = "") -> str:
        source = parse(text)
        if not source.is_git:
            return self._local(source, within)
        installed = os.path.join(self.modules_dir, source.key)
        if text not in self.locked:
            commit = _fetch(source, installed)
            self.locked[text] = {"commit": commit, "digest": digest(installed)}
        return os.path.join(installed, source.subdir) if source.subdir else installed

    def write_lock(self) -> str:
        path = self.lock_path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        text = json.dumps({"version": 1, "modules": dict(sorted(self.locked.items()))}, indent=2) + "\n"
        Path(path).write_text(text, encoding="utf-8")
        return path


def _git(*args: str, cwd: str | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise ModuleError(f"git {args[0]}: {last}")
    return done.stdout.strip()


def _fetch(source: Source, installed: str) -> str:
    """Clone the repository at its ref into `installed` (without .git); the commit."""
    with tempfile.TemporaryDirectory() as scratch:
        clone = os.path.join(scratch, "repo")
        try:
            if source.repo.startswith("-") or (source.ref or "").startswith("-"):  # never an option to git
                raise ModuleError(f"module {source.repo!r}: a repository or ref cannot start with '-'")
            _git("clone", "--quiet", "--", source.repo, clone)
            if source.ref:
                _git("checkout", "--quiet", source.ref, cwd=clone)
            commit = _git("rev-parse", "HEAD", cwd=clone)
        except ModuleError as exc:
            raise ModuleError(f"module {source.text}: {exc}") from None
        shutil.rmtree(os.path.join(clone, ".git"))
        if os.path.exists(installed):
            shutil.rmtree(installed)
        os.makedirs(os.path.dirname(installed), exist_ok=True)
        shutil.move(clone, installed)
    return commit


def clean(folder: str) -> str | None:
    """`essh modules clean`: remove the installed modules in `folder` (the lock file stays)."""
    if not os.path.isdir(folder):
        return None
    shutil.rmtree(folder)
    return folder
