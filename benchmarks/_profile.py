"""Where a client's CPU goes: run it once under cProfile and sum the time by package and by function.

`profile(argv, ...)` runs `python X ...` / `python -m M ...` as the same
command under cProfile timed by CPU time (`time.process_time`, so time spent
waiting on the network or for a core does not count), and returns the lines of a
summary: own time (tottime) summed per top-level package (asyncssh, trio,
essh's executor, asyncio, the interpreter's built-ins, ...) and the functions
with the most own time. cProfile slows Python code down, so the shares matter,
not the absolute seconds.
"""

from __future__ import annotations

import pstats
import sys
from collections import defaultdict
from pathlib import Path

from _fleet import REPO_ROOT, Server
from _measure import measure


_ESSH_DIRS = ("essh", "executor", "schema", "planner")

# Runs the profiled command like `python` would (a script path, or -m module), timed by CPU time.
_RUNNER = """
import cProfile, runpy, sys, time
out, args = sys.argv[1], sys.argv[2:]
module = args[1] if args[0] == "-m" else None
sys.argv = args[1:] if module else args
profiler = cProfile.Profile(time.process_time)
code = 0
try:
    profiler.enable()
    if module:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(args[0], run_name="__main__")
except SystemExit as exc:
    code = exc.code
finally:
    profiler.disable()
    profiler.dump_stats(out)
sys.exit(code)
"""


def _package(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "built-ins (C functions, frozen)"
    path = Path(filename)
    parts = path.parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            return parts[parts.index(marker) + 1].removesuffix(".py")
    if path.parent.parent == REPO_ROOT and path.parent.name in _ESSH_DIRS:
        return f"essh.{path.parent.name}.{path.stem}".replace("essh.essh.", "essh.")
    if "lib/python3" in filename:
        rest = filename.split("lib/python3", 1)[1].split("/", 2)
        return "stdlib " + (rest[1].removesuffix(".py") if len(rest) > 1 else filename)
    return filename


def profile(argv: list[str], server: Server, out: Path, top: int = 15, env: dict[str, str] | None = None) -> list[str]:
    """Profile one run of `argv` (which must start with sys.executable); return summary lines."""
    if argv[0] != sys.executable:
        raise ValueError("profile() needs a command that starts with this Python")
    measure([sys.executable, "-c", _RUNNER, str(out), *argv[1:]], server, f"profile {out.name}", env)
    stats = pstats.Stats(str(out))
    by_package: dict[str, float] = defaultdict(float)
    functions = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package(filename)] += own
        functions.append((own, cumulative, calls, f"{_package(filename)}:{line} {name}"))
    total = sum(by_package.values()) or 1.0
    lines = [f"own time by package (of {total:.2f} s profiled):"]
    for package, own in sorted(by_package.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"  {own:7.3f} s {100 * own / total:5.1f}%  {package}")
    imports = sum(v[3] for (f, _, n), v in stats.stats.items() if n == "_find_and_load")  # type: ignore[attr-defined]
    lines.append(f"imports (cumulative): {imports:.3f} s {100 * imports / total:.1f}%")
    lines.append("essh's own functions by cumulative time (cumulative s, own s, calls):")
    own_code = [f for f in functions if f[3].startswith("essh.")]
    for own, cumulative, calls, where in sorted(own_code, key=lambda f: -f[1])[:top]:
        lines.append(f"  {cumulative:7.3f} {own:7.3f} {calls:8d}  {where}")
    lines.append("functions with the most own time (own s, cumulative s, calls):")
    for own, cumulative, calls, where in sorted(functions, reverse=True)[:top]:
        lines.append(f"  {own:7.3f} {cumulative:7.3f} {calls:8d}  {where}")
    return lines
