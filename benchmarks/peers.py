"""Peers benchmark: essh and the usual tools driving the same fleet, in the same run, against plain asyncssh.

Not a test: prints a Markdown table (docs/performance.md keeps one). Run as root
(it starts a loopback sshd and the test user of tests/sshd.py), after
`pip install -e '.[peers]'` for the Python peers:

    python benchmarks/peers.py                          # fan-out on 200 hosts and 10 tasks x 100 hosts
    python benchmarks/peers.py --only fanout --hosts 1000 --clients essh,floor --max-connections 200

Clients (one sshd on loopback stands for every host name; `echo hi`, output to /dev/null):
  floor        plain asyncssh on asyncio (benchmarks/floor_asyncssh.py), the baseline of every ratio;
  essh         `essh apply plan.bin` (a plan built by _plans.py);
  parallel-ssh one ParallelSSHClient, reused for every command (_peer_clients.py);
  Fabric       ThreadingGroup over paramiko, at most --max-connections at once (_peer_clients.py);
  pyinfra      `pyinfra inventory.py exec -- echo hi` (fan-out) / a deploy of N `server.shell` operations;
  Ansible      `ansible all -m raw -a 'echo hi' -f L` (fan-out) / a playbook of N `raw` tasks;
  OpenSSH      one `ssh` process per host and command (xargs -P L), with OpenSSH's default key
               exchange and with `KexAlgorithms=curve25519-sha256`.
A peer that is not installed is shown as "not installed"; one that fails is shown with its error.

Every client runs as a whole process; the rounds are interleaved (floor, essh, peers, floor, ...) so all
share the machine's noise; the table shows medians, and ratios are the medians of each round's ratio to
that round's floor. Client CPU is user+sys of the whole process tree (os.wait4 counts every process the
client reaped: the ssh processes of OpenSSH, Ansible's forks); sshd CPU is the server's cgroup (_fleet.py);
peak RSS is the largest single process of the tree (ru_maxrss), in MiB.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from _fleet import Server, Target
from _measure import RunFailed, Sample, measure
from _plans import write_bench_plan

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
COMMAND = "echo hi"
CLIENTS = ("floor", "essh", "parallel-ssh", "Fabric", "pyinfra", "Ansible", "OpenSSH", "OpenSSH curve25519")


@dataclass(frozen=True)
class Client:
    name: str
    argv: list[str] | None  # None: not installed
    env: dict[str, str]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs of every client (medians)")
    parser.add_argument("--hosts", type=int, default=200, help="host names in the fan-out case")
    parser.add_argument("--tasks-hosts", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--max-connections", type=int, default=100)
    parser.add_argument("--only", choices=("fanout", "tasks"))
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated, from: " + ", ".join(CLIENTS))
    return parser.parse_args()


def installed(module: str, program: str | None = None) -> bool:
    if importlib.util.find_spec(module) is None:
        return False
    return program is None or (BIN / program).exists() or shutil.which(program) is not None


def _tool(program: str) -> str:
    return str(BIN / program) if (BIN / program).exists() else shutil.which(program) or program


def openssh_argv(t: Target, hosts: int, commands: int, limit: int, kex: str | None) -> list[str]:
    """One `ssh` per host and command, at most `limit` at once, commands one after another (a barrier each)."""
    ssh = ["ssh", "-p", str(t.port), "-i", t.key, "-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={t.known_hosts}",
           "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", *(["-o", f"KexAlgorithms={kex}"] if kex else []),
           f"{t.user}@{t.address}", COMMAND]  # fmt: skip
    one = f"seq {hosts} | xargs -P {limit} -I{{}} {shlex.join(ssh)}"
    return ["sh", "-c", " && ".join([one] * commands)]


def pyinfra_files(work: Path, t: Target, hosts: int, tasks: int) -> tuple[Path, Path]:
    inventory = work / "pyinfra_inventory.py"
    data = {"ssh_hostname": t.address, "ssh_port": t.port, "ssh_user": t.user, "ssh_key": t.key,
            "ssh_known_hosts_file": t.known_hosts, "ssh_strict_host_key_checking": "yes"}  # fmt: skip
    inventory.write_text(f"hosts = [(f'bench-{{i:03d}}', {data!r}) for i in range({hosts})]\n")
    deploy = work / "pyinfra_deploy.py"
    deploy.write_text(
        "from pyinfra.operations import server\n"
        + "".join(f"server.shell(name='task {k}', commands=[{COMMAND!r}])\n" for k in range(tasks))
    )
    return inventory, deploy


def ansible_files(work: Path, t: Target, hosts: int, tasks: int) -> tuple[Path, Path, dict[str, str]]:
    inventory = work / "ansible_hosts.ini"
    inventory.write_text(
        "[all]\n"
        + "".join(f"bench-{i:03d} ansible_host={t.address} ansible_port={t.port}\n" for i in range(hosts))
        + f"[all:vars]\nansible_user={t.user}\nansible_ssh_private_key_file={t.key}\n"
    )
    playbook = work / "ansible_playbook.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        + "".join(f"    - name: task {k}\n      raw: {COMMAND}\n" for k in range(tasks))
    )
    env = {"ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_SSH_ARGS": f"-o UserKnownHostsFile={t.known_hosts} -o IdentitiesOnly=yes",
           "ANSIBLE_PYTHON_INTERPRETER": "auto_silent", "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp")}  # fmt: skip
    return inventory, playbook, env


def clients(case: str, work: Path, t: Target, hosts: int, tasks: int, limit: int, wanted: set[str]) -> list[Client]:
    work.mkdir(parents=True, exist_ok=True)
    conn = ["--address", t.address, "--port", str(t.port), "--user", t.user, "--key", t.key, "--known-hosts", t.known_hosts]
    counts = ["--hosts", str(hosts), "--commands", str(tasks), "--limit", str(limit)]
    plan = work / "plan.bin"
    write_bench_plan(str(plan), t, hosts, tasks)
    report = str(work / "report.json")
    mode = "fanout" if case == "fanout" else "reuse"
    inv, deploy = pyinfra_files(work, t, hosts, tasks)
    ainv, playbook, aenv = ansible_files(work, t, hosts, tasks)
    pyinfra = [_tool("pyinfra"), "-y", "--parallel", str(limit), str(inv)]
    pyinfra += ["exec", "--", COMMAND] if case == "fanout" else [str(deploy)]
    ansible = ([_tool("ansible"), "all", "-i", str(ainv), "-m", "raw", "-a", COMMAND, "-f", str(limit)] if case == "fanout"
               else [_tool("ansible-playbook"), "-i", str(ainv), "-f", str(limit), str(playbook)])  # fmt: skip
    every = [
        Client("floor", [sys.executable, str(HERE / "floor_asyncssh.py"), "--mode", mode, *counts, *conn], {}),
        Client("essh", [sys.executable, "-m", "essh", "apply", str(plan), "--report", report, "--max-connections", str(limit)], {}),
        Client("parallel-ssh", [sys.executable, str(HERE / "_peer_clients.py"), "pssh", *counts, *conn] if installed("pssh") else None, {}),
        Client("Fabric", [sys.executable, str(HERE / "_peer_clients.py"), "fabric", *counts, *conn] if installed("fabric") else None, {}),
        Client("pyinfra", pyinfra if installed("pyinfra", "pyinfra") else None, {}),
        Client("Ansible", ansible if installed("ansible", "ansible") else None, aenv),
        Client("OpenSSH", openssh_argv(t, hosts, tasks, limit, None) if shutil.which("ssh") else None, {}),
        Client("OpenSSH curve25519", openssh_argv(t, hosts, tasks, limit, "curve25519-sha256") if shutil.which("ssh") else None, {}),
    ]  # fmt: skip
    return [c for c in every if c.name in wanted]


def run_case(case: str, cs: list[Client], server: Server, rounds: int) -> dict[str, list[Sample] | str]:
    """Interleaved rounds; a client's entry is its samples, or why it has none."""
    got: dict[str, list[Sample] | str] = {c.name: [] if c.argv else "not installed" for c in cs}
    for c in cs:  # warm-up: byte-code and page caches (and a first failure shows before the rounds)
        if c.argv:
            try:
                measure(c.argv, server, f"{case}: {c.name} (warm-up)", c.env)
            except RunFailed as exc:
                got[c.name] = f"failed: {exc}"[:160]
    for number in range(1, rounds + 1):
        for c in cs:
            samples = got[c.name]
            if not isinstance(samples, list):
                continue
            try:
                s = measure(c.argv or [], server, f"{case}: {c.name}", c.env)
            except RunFailed as exc:
                got[c.name] = f"failed: {exc}"[:160]
                continue
            samples.append(s)
            print(f"  round {number} {case:6} {c.name:20} wall {s.wall:6.2f} s  cpu {s.cpu:6.2f} s  sshd {s.server_cpu:6.2f} s"
                  f"  rss {s.peak_rss_kib / 1024:6.1f} MiB", file=sys.stderr, flush=True)  # fmt: skip
    return got


def table(title: str, got: dict[str, list[Sample] | str]) -> list[str]:
    floor = got.get("floor")
    lines = [f"\n{title}\n", "| client | wall s | client CPU s | sshd CPU s | peak RSS MiB | wall / floor | CPU / floor |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, samples in got.items():
        if not isinstance(samples, list) or not samples:
            lines.append(f"| {name} | {samples or 'no run'} | | | | | |")
            continue
        med = {f: statistics.median(getattr(s, f) for s in samples) for f in ("wall", "cpu", "server_cpu", "peak_rss_kib")}
        ratios = ["", ""]
        if isinstance(floor, list) and len(floor) == len(samples):
            ratios = [f"{statistics.median(getattr(s, f) / getattr(b, f) for s, b in zip(samples, floor)):.2f}" for f in ("wall", "cpu")]
        lines.append(f"| {name} | {med['wall']:.2f} | {med['cpu']:.2f} | {med['server_cpu']:.2f} | {med['peak_rss_kib'] / 1024:.1f} "
                     f"| {ratios[0]} | {ratios[1]} |")  # fmt: skip
    return lines


def main() -> int:
    args = parse_args()
    wanted = {name.strip() for name in args.clients.split(",")} | {"floor"}
    unknown = wanted - set(CLIENTS)
    if unknown:
        print(f"peers.py: unknown clients {', '.join(sorted(unknown))} (known: {', '.join(CLIENTS)})", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="essh-peers-") as tmp:
        Path(tmp).chmod(0o755)  # sshd reads the authorized keys inside as the test user
        with Server(Path(tmp) / "sshd") as server:
            print(f"medians of {args.rounds} interleaved rounds, whole processes; sshd CPU from {server.cpu_source}")
            limit = args.max_connections
            cases = []
            if args.only in (None, "fanout"):
                cases.append(("fanout", f"Fan-out: `{COMMAND}` on {args.hosts} hosts, at most {limit} connections", args.hosts, 1))
            if args.only in (None, "tasks"):
                cases.append(("tasks", f"{args.tasks} tasks one after another on {args.tasks_hosts} hosts", args.tasks_hosts, args.tasks))
            for case, title, hosts, tasks in cases:  # each table as soon as its case is done
                load = os.getloadavg()
                cs = clients(case, Path(tmp) / case, server.target, hosts, tasks, limit, wanted)
                lines = table(title, run_case(case, cs, server, args.rounds))
                after = os.getloadavg()
                print("\n".join(lines))
                print(f"\n{os.cpu_count()} CPUs; load average (1, 5, 15 min) {'/'.join(f'{x:.1f}' for x in load)} before, "
                      f"{'/'.join(f'{x:.1f}' for x in after)} after", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
