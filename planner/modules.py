"""ESSH's modules: `import "SOURCE"` returns the value of the module's `index.lua`.

A SOURCE is a local directory (relative to the main configuration file's
folder) or a git repository: `git::URL`, a `file://` URL, an `https://` or
`ssh://` URL, or a path ending in `.git`; `//subdir` after the repository
picks a folder in it, `?ref=REF` a branch, tag or commit (go-getter's syntax,
as ESSH 2 used).

Git modules are installed by `essh modules update` into the registry's
modules folder (ESSH's: `.essh/modules/` next to the main configuration file
for the `local` registry, `~/.essh/modules/` for the `global` one), and
pinned in the lock file `.essh.lock.json` beside the configuration (the
global registry's: `~/.essh/.essh.lock.json`): the commit and the sha256 of the installed
files (Terraform's dependency lock file is the model). Planning (`Pinned`)
never reaches the network: it uses the installed copy, and refuses one that
is missing or does not match the lock, naming the module and the command
to run. Installing is the CLI's (`essh.modules_install`): nothing here runs git.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

import msgspec

LOCK_NAME = ".essh.lock.json"
MODULES_DIR = os.path.join(".essh", "modules")
_GIT_URL = re.compile(r"(git::|file://|https?://|ssh://|git@)|.*\.git(//|\?|$)")


class ModuleError(Exception):
    """A module that cannot be used: one line naming it and what to do."""


class Source(msgspec.Struct, frozen=True):
    """A parsed SOURCE: the repository (or folder), the folder in it, the ref."""

    text: str
    repo: str
    subdir: str
    ref: str
    is_git: bool

    @property
    def key(self) -> str:
        """The folder name of the installed module: stable for the same SOURCE."""
        tail = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.repo.rstrip("/").rsplit("/", 1)[-1])[:40]
        return f"{tail}-{hashlib.sha256(self.text.encode()).hexdigest()[:16]}"


def parse(text: str) -> Source:
    """`text` as a Source (no check that it exists)."""
    is_git = bool(_GIT_URL.match(text))
    body = text[len("git::"):] if text.startswith("git::") else text
    body, _, query = body.partition("?")
    ref = ""
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        if name != "ref":
            raise ModuleError(f"module {text}: unknown option {name!r} (only ?ref=REF)")
        ref = value
    scheme_end = body.find("://") + 3 if "://" in body else 0
    cut = body.find("//", scheme_end)
    repo, subdir = (body[:cut], body[cut + 2 :]) if cut >= 0 else (body, "")
    if not is_git and ref:
        raise ModuleError(f"module {text}: ?ref= is for git repositories; a local folder has no ref")
    if is_git and (repo.startswith("-") or ref.startswith("-")):  # git would take it as an option
        raise ModuleError(f"module {text}: a repository or ref cannot start with '-'")
    return Source(text, repo, subdir.strip("/"), ref, is_git)


def digest(folder: str) -> str:
    """sha256 over the module's files (relative paths and contents, sorted; `.git` left out)."""
    h = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder)
            with open(path, "rb") as handle:
                data = handle.read()
            h.update(f"{rel}\0{len(data)}\0".encode())
            h.update(data)
    return "sha256:" + h.hexdigest()


def read_lock(path: str) -> dict[str, dict[str, str]]:
    """The lock file's modules (empty when there is none)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ModuleError(f"cannot read the lock file {path}: {exc}") from None
    modules = data.get("modules") if isinstance(data, dict) else None
    if not isinstance(modules, dict):
        raise ModuleError(f"the lock file {path} is damaged: run `essh modules update` to write it again")
    return modules


class Pinned:
    """Planning: installed modules only, each matching the lock file; never the network.

    `base`: the configuration's folder (relative local modules start there);
    `modules_dir` and `lock_path`: the registry's, by default `base/.essh/modules`
    and `base/.essh.lock.json`. `used` records every module imported, by SOURCE:
    (commit, digest), the commit empty for a local folder."""

    def __init__(self, base: str, modules_dir: str | None = None, lock_path: str | None = None) -> None:
        self.base = base
        self.modules_dir = modules_dir or os.path.join(base, MODULES_DIR)
        self.lock_path = lock_path or os.path.join(base, LOCK_NAME)
        self._lock: dict[str, dict[str, str]] | None = None
        self.used: dict[str, tuple[str, str]] = {}

    def folder(self, text: str, within: str = "") -> str:
        """The folder holding the module's index.lua; a relative local folder is taken
        from `within` (the importing module's folder), else from the configuration's."""
        source = parse(text)
        if not source.is_git:
            return self._local(source, within)
        if self._lock is None:
            self._lock = read_lock(self.lock_path)
        pinned = self._lock.get(text)
        installed = os.path.join(self.modules_dir, source.key)
        if pinned is None:
            raise ModuleError(f"module {text} is not in the lock file {LOCK_NAME}: run `essh modules update`")
        if not os.path.isdir(installed):
            raise ModuleError(f"module {text} is not installed: run `essh modules update`")
        found = digest(installed)
        if found != pinned.get("digest"):
            raise ModuleError(
                f"module {text} does not match the lock file (installed {found}, locked {pinned.get('digest')}):"
                " run `essh modules update` to install and lock it again"
            )
        self.used[text] = (str(pinned.get("commit", "")), found)
        return os.path.join(installed, source.subdir) if source.subdir else installed

    def _local(self, source: Source, within: str = "") -> str:
        folder = os.path.join(within or self.base, os.path.expanduser(source.repo), source.subdir)
        if not os.path.isdir(folder):
            raise ModuleError(f"module {source.text}: no folder {folder}")
        folder = os.path.normpath(folder)
        self.used.setdefault(source.text, ("", digest(folder)))
        return folder
