"""The cost of one TAB: `python -m essh.completion hosts` on a 1,000-host configuration.

Prints the CPU time (user + sys, which a loaded machine does not inflate) and
the wall time of the first call (the configuration is loaded and the cache
written) and the median of 10 later ones (answered from the cache). Budget:
a cached answer under 150 ms; exits 1 when the CPU time of one misses it.

    python benchmarks/completion_bench.py
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

BUDGET = 0.150


def config(hosts: int = 1000, tasks: int = 50) -> str:
    lines = [
        f'host "web-{i:04d}" {{ HostName = "10.0.{i // 256}.{i % 256}", description = "web {i}", tags = {{"web", "zone-{i % 3}"}} }}'
        for i in range(hosts)
    ]
    lines += [f'task "t{i}" {{ description = "task {i}", targets = "web", script = "true" }}' for i in range(tasks)]
    return "\n".join(lines) + "\n"


def one_call(cwd: str, env: dict[str, str]) -> tuple[float, float]:
    """(cpu, wall) seconds of one completion call."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "essh.completion", "hosts"], cwd=cwd, env=env, capture_output=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.stdout.count(b"\n") == 1000
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def measure() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, ".esshconfig.lua"), "w") as handle:
            handle.write(config())
        env = {**os.environ, "HOME": folder, "XDG_CACHE_HOME": os.path.join(folder, "cache")}
        env.pop("ESSH_CONFIG", None)
        first_cpu, first_wall = one_call(folder, env)
        later = [one_call(folder, env) for _ in range(10)]
    return {
        "first_cpu": first_cpu,
        "first_wall": first_wall,
        "cached_cpu": statistics.median(c for c, _ in later),
        "cached_wall": statistics.median(w for _, w in later),
    }


if __name__ == "__main__":
    figures = measure()
    for name, value in figures.items():
        print(f"{name:12} {value * 1000:7.1f} ms")
    raise SystemExit(0 if figures["cached_cpu"] < BUDGET else 1)
