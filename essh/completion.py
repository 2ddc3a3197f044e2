"""Shell completion of task names, host names and tags, fast enough for every TAB.

`essh completion bash|zsh|fish` prints a script for the shell. At a TAB the
script runs `python -m essh.completion KIND [--config FILE]` (KIND: tasks,
hosts, targets = hosts and tags), which prints one `name<TAB>description` a
line, hidden ones left out. The names come from a cache
(`$XDG_CACHE_HOME/essh/completion/`) that holds, with them, the size and
modification time of every file the configuration read and of every file
whose appearing would change which files are read; any change and the
configuration is loaded again (a 1,000-host configuration answers from the
cache well under 150 ms: benchmarks/completion_bench.py). This module imports
neither typer nor, on a cache hit, the planner.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence

KINDS = ("tasks", "hosts", "targets")
_VERSION = 1


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def _watched(config: str | None, cwd: str, home: str, environ: Mapping[str, str]) -> list[str]:
    """Files whose appearing, going or changing changes which files discovery picks."""
    explicit = config or environ.get("ESSH_CONFIG") or ""
    names = [os.path.join(cwd, ".esshconfig.lua"), os.path.join(home, ".essh", "config.lua"),
             os.path.join(cwd, ".esshconfig_override.lua"), os.path.join(home, ".essh", "config_override.lua")]
    return names + ([os.path.join(cwd, os.path.expanduser(explicit))] if explicit else [])


def _cache_path(key: Sequence[str], environ: Mapping[str, str], home: str) -> str:
    base = environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    digest = hashlib.sha256(json.dumps(list(key)).encode()).hexdigest()[:32]
    return os.path.join(base, "essh", "completion", digest + ".json")


def _load(config: str | None, cwd: str, home: str, environ: Mapping[str, str]) -> dict:
    """Names and descriptions from the configuration itself (the slow path)."""
    from essh.planner.registries import discover_registries, load_registries, system_dir, wants_global

    found = discover_registries(config, cwd=cwd, home=home, environ=environ, with_global=wants_global(environ),
                                system_dir=system_dir(environ))
    cfg = load_registries(found, home=home)
    tags = sorted({tag for host in cfg.hosts.values() if not host.hidden for tag in host.tags})
    return {
        "files": [f.path for f in cfg.files],
        "tasks": [[t.name, t.description] for t in cfg.tasks.values() if not t.hidden],
        "hosts": [[h.name, h.description] for h in cfg.hosts.values() if not h.hidden],
        "tags": [[tag, "tag"] for tag in tags],
    }


def candidates(kind: str, config: str | None, *, cwd: str, home: str, environ: Mapping[str, str]) -> list[list[str]]:
    """[name, description] pairs for `kind`, from the cache when nothing changed."""
    watched = _watched(config, cwd, home, environ)
    # ESSH_WITH_GLOBAL as essh.planner.registries.wants_global reads it (not imported: the fast path stays light).
    with_global = environ.get("ESSH_WITH_GLOBAL", "") not in ("", "0", "false", "no")
    key = [cwd, home, config or environ.get("ESSH_CONFIG") or ""] + (["with-global"] if with_global else [])
    path = _cache_path(key, environ, home)
    data = None
    try:
        with open(path, encoding="utf-8") as handle:
            cached = json.load(handle)
        if cached.get("version") == _VERSION and all(_stat(p) == s for p, s in cached["stats"]):
            data = cached
    except (OSError, ValueError, KeyError, TypeError):
        data = None
    if data is None:
        data = _load(config, cwd, home, environ)
        data["version"] = _VERSION
        data["stats"] = [[p, _stat(p)] for p in dict.fromkeys([*watched, *data["files"]])]
        _store(path, data)
    if kind == "targets":
        return data["hosts"] + data["tags"]
    return data[kind]


def _store(path: str, data: dict) -> None:
    """Write the cache (0600, atomically); a cache that cannot be written is only slower."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        staged = f"{path}.{os.getpid()}"
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(staged, path)
    except OSError:
        pass


def _line(name: str, description: str) -> str:
    clean = "".join(c if c.isprintable() and c != "\t" else " " for c in description)
    return f"{name}\t{clean}" if clean else name


def main(argv: Sequence[str]) -> int:
    """`python -m essh.completion KIND [--config FILE]`: the candidates, one a line."""
    args = list(argv)
    config = None
    if "--config" in args:
        at = args.index("--config")
        config = args[at + 1] if at + 1 < len(args) else None
        del args[at : at + 2]
    if len(args) != 1 or args[0] not in KINDS:
        print(f"usage: python -m essh.completion {'|'.join(KINDS)} [--config FILE]", file=sys.stderr)
        return 2
    try:
        pairs = candidates(args[0], config, cwd=os.getcwd(), home=os.path.expanduser("~"), environ=os.environ)
    except Exception:  # a broken configuration completes nothing; `essh validate` says why
        return 1
    names = [_line(n, d) for n, d in pairs if n.isprintable() and "\t" not in n]
    sys.stdout.write("".join(line + "\n" for line in names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
