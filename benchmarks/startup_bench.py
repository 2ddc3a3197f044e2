"""Start-up benchmark: `essh --version` and `essh plan` on a small config against `python -c "import msgspec, lupa"`.

Not a test: prints figures. No sshd needed:

    python benchmarks/startup_bench.py [--runs 15]

Each command is a whole process (the interpreter's start-up included), with
byte-code caching on; the runs are interleaved (baseline, each essh command,
baseline, ...) and the ratios are the medians of each run's ratio to the
baseline run just before it. Target (issue 11): both within 1.5x of the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CONFIG = """\
host "web-1" { HostName = "10.0.0.1", tags = {"web"} }
host "web-2" { HostName = "10.0.0.2", tags = {"web"} }
task "deploy" { targets = {"web"}, script = "echo deploying on $ESSH_HOST_NAME" }
"""


def cpu_and_wall(argv: list[str], cwd: str, env: dict[str, str]) -> tuple[float, float]:
    import time

    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {process.stderr.read().decode(errors='replace') if process.stderr else ''}")
    return usage.ru_utime + usage.ru_stime, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("ESSH_")}
    commands = {
        "baseline: python -c 'import msgspec, lupa'": [sys.executable, "-c", "import msgspec, lupa"],
        "essh --version": [sys.executable, "-m", "essh", "--version"],
        "essh plan deploy": [sys.executable, "-m", "essh", "plan", "deploy"],
        "essh plan deploy -o plan.bin": [sys.executable, "-m", "essh", "plan", "deploy", "-o", "plan.bin"],
    }
    with tempfile.TemporaryDirectory(prefix="essh-startup-") as tmp:
        Path(tmp, ".esshconfig.lua").write_text(CONFIG)
        env["HOME"] = tmp
        for argv in commands.values():  # warm-up: byte-code written, caches warm
            cpu_and_wall(argv, tmp, env)
        got: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                got[name].append(cpu_and_wall(argv, tmp, env))
    base = next(iter(got.values()))
    print(f"{args.runs} interleaved runs, medians; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| command | CPU s | wall s | CPU / baseline | wall / baseline |")
    print("|---|---|---|---|---|")
    for name, runs in got.items():
        cpu = statistics.median(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        rc = statistics.median(r[0] / b[0] for r, b in zip(runs, base))
        rw = statistics.median(r[1] / b[1] for r, b in zip(runs, base))
        print(f"| {name} | {cpu:.3f} | {wall:.3f} | {rc:.2f} | {rw:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
