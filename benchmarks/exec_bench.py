"""Executor benchmark: `essh apply` against plain asyncssh on asyncio (the floor), in the same run.

Not a test: prints figures. Run as root (it starts a loopback sshd and a test user):

    python benchmarks/exec_bench.py [--rounds 3] [--fanout-rounds 5] [--json FILE] [--profile] [--floor-only]

Cases (many host names on one loopback sshd; `echo hi`, output to /dev/null):
  startup the fixed cost: a plan without steps, the floor with no hosts;
  fanout  one task on 200 hosts, at most 100 connections at once; the floor
          also sends the exact command essh sends (its login shell's
          command, the program on stdin), to tell essh's own cost from the
          cost of delivering a program that way;
  tasks   10 tasks one after another on 100 hosts, one connection per host
          reused by its 10 steps; the floor does the same, and also opens a new
          connection per step (what connection reuse is measured against), and
          runs the exact command essh sends for a step (`bash -c '...'`, the
          plan's task shell), to tell essh's own cost from the plan's.

Each client runs as a whole process (`python -m essh apply plan.bin --report ...
--max-connections 100`, `python benchmarks/floor_asyncssh.py ...`), Python
start-up included; wall time and the client's CPU (user+sys, os.wait4) are the
medians of --rounds runs (--fanout-rounds for startup and fanout, which are short
and noisier), interleaved (floor, essh, floor, essh, ...) so both
share the machine's noise. The sshd's CPU is shown too: on one machine the
server, not the client, dominates the wall time. With --profile, essh is then run
once more per case under cProfile (CPU time) and its time is shown by package and
by function.

Targets: fanout wall <= 1.15x the floor and client CPU <= 1.25x; tasks: a new
connection per step >= 3x slower (wall) than essh.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from _fleet import Server, Target
from _measure import RunFailed, Sample, measure
from _plans import COMMAND, plan_command, write_bench_plan
from _profile import profile
from essh.schema import decode_report_json

HERE = Path(__file__).resolve().parent
FLOOR = str(HERE / "floor_asyncssh.py")

FANOUT_WALL, FANOUT_CPU, REUSE_SPEEDUP = 1.15, 1.25, 3.0


@dataclass(frozen=True)
class Client:
    """One way of doing a case's work: a name and how to start it."""

    name: str
    argv: list[str]
    report: str | None = None  # essh's report file, checked after each run
    steps: int = 0


@dataclass(frozen=True)
class Case:
    name: str
    hosts: int
    tasks: int
    rounds: int
    clients: list[Client]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of every client of the tasks case (medians)")
    parser.add_argument("--fanout-rounds", type=int, default=5, help="runs of every client of startup and fanout")
    parser.add_argument("--fanout-hosts", type=int, default=200)
    parser.add_argument("--tasks-hosts", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--max-connections", type=int, default=100)
    parser.add_argument("--only", choices=("startup", "fanout", "tasks"), help="run one case only")
    parser.add_argument("--profile", action="store_true", help="also profile essh once per case (cProfile, CPU time)")
    parser.add_argument("--floor-only", action="store_true", help="measure the floor clients only")
    parser.add_argument(
        "--user-ssh-config",
        action="store_true",
        help="give both clients a HOME whose ~/.ssh/config has a few Host blocks, as most users have",
    )
    parser.add_argument("--ciphers", default="", help="ssh Ciphers for both clients, e.g. aes128-gcm@openssh.com")
    parser.add_argument("--json", metavar="FILE", help="also write every sample and median as JSON")
    return parser.parse_args()


def floor_client(
    name: str, target: Target, mode: str, hosts: int, commands: int, limit: int,
    command: str | tuple[str, str] = COMMAND,
) -> Client:
    argv = [sys.executable, FLOOR, "--mode", mode, "--hosts", str(hosts), "--commands", str(commands)]
    stdin = []
    if isinstance(command, tuple):  # essh's command line, and its program on stdin
        command, program = command
        stdin = ["--stdin", program]
    return Client(name, [*argv, "--limit", str(limit), "--command", command, *stdin, *target.floor_args()])


def essh_client(workdir: Path, case: str, target: Target, hosts: int, tasks: int, limit: int) -> Client:
    plan_path = str(workdir / f"{case}.plan.bin")
    write_bench_plan(plan_path, target, hosts, tasks)
    report = str(workdir / f"{case}.report.json")
    argv = [sys.executable, "-m", "essh", "apply", plan_path, "--report", report, "--max-connections", str(limit)]
    return Client("essh apply", argv, report=report, steps=hosts * tasks)


def build_cases(args: argparse.Namespace, workdir: Path, target: Target) -> list[Case]:
    limit = args.max_connections
    cases = []
    if args.only in (None, "startup"):
        clients = [floor_client("floor (asyncssh)", target, "fanout", 0, 1, limit)]
        if not args.floor_only:
            clients.append(essh_client(workdir, "startup", target, 0, 1, limit))
        cases.append(Case("startup", 0, 1, args.fanout_rounds, clients))
    if args.only in (None, "fanout"):
        n = args.fanout_hosts
        clients = [
            floor_client("floor (asyncssh)", target, "fanout", n, 1, limit),
            floor_client("floor, essh's command", target, "fanout", n, 1, limit, plan_command(target)),
        ]
        if not args.floor_only:
            clients.append(essh_client(workdir, "fanout", target, n, 1, limit))
        cases.append(Case("fanout", n, 1, args.fanout_rounds, clients))
    if args.only in (None, "tasks"):
        n, k = args.tasks_hosts, args.tasks
        clients = [
            floor_client("floor, reused connection", target, "reuse", n, k, limit),
            floor_client("floor, new connection per step", target, "new", n, k, limit),
            floor_client("floor, reused, essh's command", target, "reuse", n, k, limit, plan_command(target)),
        ]
        if not args.floor_only:
            clients.append(essh_client(workdir, "tasks", target, n, k, limit))
        cases.append(Case("tasks", n, k, args.rounds, clients))
    return cases


def check_report(client: Client) -> None:
    """essh exited 0; make sure every planned step really ran and succeeded."""
    if client.report is None:
        return
    report = decode_report_json(Path(client.report).read_bytes())
    if report.totals.succeeded != client.steps:
        raise RunFailed(f"essh report: {report.totals.succeeded} of {client.steps} steps succeeded ({report.totals})")


def run(cases: list[Case], server: Server, env: dict[str, str]) -> dict[tuple[str, str], list[Sample]]:
    samples: dict[tuple[str, str], list[Sample]] = {(c.name, cl.name): [] for c in cases for cl in c.clients}
    for number in range(1, max(case.rounds for case in cases) + 1):
        for case in [case for case in cases if number <= case.rounds]:
            for client in case.clients:
                sample = measure(client.argv, server, f"{case.name}: {client.name}", env)
                check_report(client)
                samples[(case.name, client.name)].append(sample)
                print(
                    f"  round {number} {case.name:7} {client.name:31} wall {sample.wall:6.2f} s"
                    f"  cpu {sample.cpu:6.2f} s  sshd {sample.server_cpu:6.2f} s  logins {sample.logins}",
                    file=sys.stderr,
                    flush=True,
                )
    return samples


def warm_up(cases: list[Case], server: Server, env: dict[str, str]) -> None:
    """One untimed run of the floor (2 hosts) and of essh, so byte-code and page caches are warm."""
    clients = [client for case in cases for client in case.clients]
    argv = list(next(client for client in clients if client.report is None).argv)
    argv[argv.index("--hosts") + 1] = "2"
    argv[argv.index("--commands") + 1] = "1"
    measure(argv, server, "warm-up of the floor", env)
    essh = sorted((client for client in clients if client.report), key=lambda c: (c.steps == 0, c.steps))
    if essh:  # the smallest plan that opens connections, so the SSH code is loaded too
        measure(essh[0].argv, server, "warm-up of essh apply", env)


def user_home(tmp: Path) -> dict[str, str]:
    """A HOME with a ~/.ssh/config of the usual kind (none of its blocks names a benchmark host)."""
    ssh = tmp / "home" / ".ssh"
    ssh.mkdir(parents=True)
    blocks = [f"Host build-{i}.example.org\n    User deploy\n    Port {2200 + i}\n" for i in range(20)]
    blocks.append("Host *\n    ServerAliveInterval 60\n    AddKeysToAgent no\n")
    (ssh / "config").write_text("\n".join(blocks))
    return {"HOME": str(tmp / "home")}


def profile_essh(cases: list[Case], server: Server, tmp: Path, env: dict[str, str]) -> list[str]:
    lines = []
    for case in cases:
        for client in case.clients:
            if client.report is not None:
                lines.append(f"\nessh apply, {case.name} case, under cProfile (CPU time; shares matter, not seconds):")
                lines.extend(profile(client.argv, server, tmp / f"{case.name}.prof", env=env))
    return lines


def median(samples: list[Sample], field: str) -> float:
    return statistics.median(getattr(s, field) for s in samples)


def table(cases: list[Case], samples: dict[tuple[str, str], list[Sample]]) -> tuple[list[str], dict]:
    lines = [
        "| case | client | wall s | client CPU s | sshd CPU s | connections | wall / floor | CPU / floor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    medians: dict = {}
    for case in cases:
        floor = samples[(case.name, case.clients[0].name)]
        floor_wall, floor_cpu = median(floor, "wall"), median(floor, "cpu")
        title = f"{case.name} ({case.tasks} task{'s' if case.tasks > 1 else ''} x {case.hosts} hosts)"
        for client in case.clients:
            got = samples[(case.name, client.name)]
            wall, cpu, sshd = median(got, "wall"), median(got, "cpu"), median(got, "server_cpu")
            logins = int(median(got, "logins"))
            medians[f"{case.name}/{client.name}"] = {"wall": wall, "cpu": cpu, "sshd_cpu": sshd, "connections": logins}
            lines.append(
                f"| {title} | {client.name} | {wall:.2f} | {cpu:.2f} | {sshd:.2f} | {logins} "
                f"| {wall / floor_wall:.2f} | {cpu / floor_cpu:.2f} |"
            )
    return lines, medians


def verdicts(medians: dict) -> list[str]:
    out = []
    essh = medians.get("fanout/essh apply")
    floor = medians.get("fanout/floor (asyncssh)")
    if essh and floor:
        wall, cpu = essh["wall"] / floor["wall"], essh["cpu"] / floor["cpu"]
        out.append(f"fanout wall {wall:.3f}x the floor (target <= {FANOUT_WALL}): {'met' if wall <= FANOUT_WALL else 'MISSED'}")
        out.append(f"fanout client CPU {cpu:.3f}x the floor (target <= {FANOUT_CPU}): {'met' if cpu <= FANOUT_CPU else 'MISSED'}")
    essh, floor = medians.get("startup/essh apply"), medians.get("startup/floor (asyncssh)")
    if essh and floor:
        out.append(f"startup (no steps): essh {essh['cpu']:.3f} s CPU, floor {floor['cpu']:.3f} s")
    essh = medians.get("tasks/essh apply")
    new = medians.get("tasks/floor, new connection per step")
    if essh and new:
        speedup = new["wall"] / essh["wall"]
        verdict = "met" if speedup >= REUSE_SPEEDUP else "MISSED"
        out.append(f"tasks: new connection per step / essh wall = {speedup:.2f}x (target >= {REUSE_SPEEDUP}): {verdict}")
    return out


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="essh-exec-bench-") as tmp:
        Path(tmp).chmod(0o755)  # sshd reads the authorized keys inside as the test user
        return bench(args, Path(tmp))


def bench(args: argparse.Namespace, tmp: Path) -> int:
    with Server(tmp / "sshd", ciphers=args.ciphers) as server:
        cases = build_cases(args, tmp, server.target)
        try:
            env = user_home(tmp) if args.user_ssh_config else {}
            warm_up(cases, server, env)
            load_before = os.getloadavg()[0]
            samples = run(cases, server, env)
            load_after = os.getloadavg()[0]
            profiles = profile_essh(cases, server, tmp, env) if args.profile else []
        except RunFailed as exc:
            print(f"benchmark aborted: {exc}", file=sys.stderr)
            return 1
    lines, medians = table(cases, samples)
    rounds = ", ".join(f"{case.name} {case.rounds}" for case in cases)
    print(f"medians of interleaved runs ({rounds}), whole processes, max connections {args.max_connections}")
    if args.ciphers:
        print(f"both clients offered only these ciphers: {args.ciphers} (--ciphers)")
    if args.user_ssh_config:
        print("both clients ran with a ~/.ssh/config of 21 Host blocks (--user-ssh-config)")
    print(f"sshd CPU measured by {server.cpu_source}")
    print(f"load average (1 min) {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} CPUs")
    print("\n".join(lines))
    results = verdicts(medians)
    print("\n".join(results))
    if args.json:
        data = {
            "rounds": {case.name: case.rounds for case in cases},
            "load_average": [load_before, load_after],
            "medians": medians,
            "samples": {f"{c}/{n}": [asdict(s) for s in got] for (c, n), got in samples.items()},
            "verdicts": results,
        }
        Path(args.json).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    for line in profiles:
        print(line)
    return 1 if any("MISSED" in line for line in results) else 0


if __name__ == "__main__":
    sys.exit(main())
