"""Uploads: `essh apply` against OpenSSH's `scp` and `sftp` in the same run, with peak RSS.

    python benchmarks/file_bench.py                       # the issue's cases: 100 MB to 20 hosts, 1 GiB to 1 host
    python benchmarks/file_bench.py --mb 20 --hosts 5 --big-mb 256 --rounds 1   # quick

Run as root (the loopback sshd of `tests/sshd.py`, as `exec_bench.py`). Every
host name reaches the same sshd and writes its own destination file. essh
runs `python -m essh apply plan.bin` on a plan made by the planner
(`files = {{ upload = ... }}`, parallel on every host, the file stored as a
reference: read at apply time, its sha256 checked); this includes essh's own
work: a look at the destination before writing, a private temporary file
renamed into place. OpenSSH runs one `scp` (and, separately, one `sftp -b`)
per host, all at once. Both at their defaults (the ciphers each negotiated are
printed). The essh sources are byte-compiled first, as an installed essh is
(this machine sets PYTHONDONTWRITEBYTECODE, which would make every essh start
compile its modules). Wall time is spawn to reap of every process; peak RSS is
`ru_maxrss` of the essh process (and the largest of the OpenSSH clients); its
growth is measured against essh uploading 1 MB to 1 host. Each round runs
every client once per case, in a rotating order; figures are medians over
rounds, and the ratio is the median of each round's essh / best OpenSSH.

A download case follows (`--download-mb`, 1 GiB by default): essh fetching one
file from one host (`files = {{ download = ... }}`) against `scp` fetching it,
with essh's peak RSS growth (the issue's bound: under 50 MB).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _fleet import REPO_ROOT, Server


def _source(path: Path, mb: int) -> None:
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as f:
        for _ in range(mb):
            f.write(block)


def _wait_all(processes: list[subprocess.Popen]) -> tuple[float, int]:
    """(0, the largest peak RSS in KiB) after reaping every process; raises when one failed."""
    peak = 0
    for p in processes:
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            raise SystemExit(f"{p.args[0]} exited {p.returncode}: {p.stderr.read().decode(errors='replace')[-500:]}")
        peak = max(peak, usage.ru_maxrss)
    return 0.0, peak


def _essh(server: Server, work: Path, src: Path, hosts: int, dest: Path) -> tuple[float, int]:
    t = server.target
    options = lambda: ", ".join(f'{k} = "{v}"' for k, v in t.ssh_options())
    lua = "".join(f'host "bench-{i:03d}" {{ {options()} }}\n' for i in range(hosts))
    lua += f'task "up" {{ targets = "bench-*", parallel = true, files = {{ {{ upload = "{src}", dest = "{dest}/{{{{.Host.Name}}}}.bin" }} }} }}\n'
    return _plan_and_apply(work, "up", lua)


def _plan_and_apply(work: Path, task: str, lua: str) -> tuple[float, int]:
    """Plan `task` of the configuration `lua` (not timed), then time `essh apply`: (seconds, its peak RSS in KiB)."""
    (work / f"{task}.lua").write_text(lua)
    env = {**os.environ, "ESSH_CONFIG": str(work / f"{task}.lua")}
    subprocess.run([sys.executable, "-m", "essh", "plan", task, "-o", str(work / f"{task}.bin")], check=True, env=env,
                   stdout=subprocess.DEVNULL, cwd=work)
    started = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "essh", "apply", str(work / f"{task}.bin"), "--report", str(work / f"{task}.json")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=work, env=env)
    _, peak = _wait_all([p])
    return time.perf_counter() - started, peak


def _essh_download(server: Server, work: Path, src: Path) -> tuple[float, int]:
    t = server.target
    options = ", ".join(f'{k} = "{v}"' for k, v in t.ssh_options())
    lua = f'host "bench-dl" {{ {options} }}\n'
    lua += f'task "down" {{ targets = "bench-dl", files = {{ {{ download = "{src}", dest = "{work}/dl/{{{{.Host.Name}}}}.bin" }} }} }}\n'
    elapsed, peak = _plan_and_apply(work, "down", lua)
    assert (work / "dl" / "bench-dl.bin").stat().st_size == src.stat().st_size
    shutil.rmtree(work / "dl")
    return elapsed, peak


def _scp_download(server: Server, work: Path, src: Path) -> float:
    t = server.target
    common = ["-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={t.known_hosts}", "-o", "BatchMode=yes", "-i", t.key]
    started = time.perf_counter()
    _wait_all([subprocess.Popen(["scp", "-q", "-P", str(t.port), *common, f"{t.user}@{t.address}:{src}", str(work / "scp-dl.bin")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)])
    elapsed = time.perf_counter() - started
    (work / "scp-dl.bin").unlink()
    return elapsed


def _openssh(server: Server, tool: str, src: Path, hosts: int, dest: Path, work: Path) -> tuple[float, int]:
    t = server.target
    common = ["-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={t.known_hosts}", "-o", "BatchMode=yes", "-i", t.key]
    started = time.perf_counter()
    processes = []
    for i in range(hosts):
        target = f"{dest}/openssh-{i:03d}.bin"
        if tool == "scp":
            argv = ["scp", "-q", "-P", str(t.port), *common, str(src), f"{t.user}@{t.address}:{target}"]
            processes.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        else:
            batch = work / f"batch-{i}"
            batch.write_text(f"put {src} {target}\n")
            argv = ["sftp", "-q", "-P", str(t.port), *common, "-b", str(batch), f"{t.user}@{t.address}"]
            processes.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    _, peak = _wait_all(processes)
    return time.perf_counter() - started, peak


def _ciphers(server: Server, work: Path) -> tuple[str, str]:
    """(essh's cipher, OpenSSH's cipher), as each negotiates it with the server at its defaults."""
    import asyncio

    import asyncssh
    from essh.executor.ciphers import prefer_aes_gcm

    t = server.target
    prefer_aes_gcm()

    async def essh_cipher() -> str:
        async with asyncssh.connect(t.address, port=t.port, username=t.user, client_keys=[t.key],
                                    known_hosts=t.known_hosts) as conn:
            return str(conn.get_extra_info("send_cipher"))

    common = ["-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={t.known_hosts}", "-o", "BatchMode=yes", "-i", t.key]
    probe = subprocess.run(["ssh", "-v", "-p", str(t.port), *common, f"{t.user}@{t.address}", "true"],
                           capture_output=True, text=True)
    found = [line.split("client->server cipher:")[1].split()[0] for line in probe.stderr.splitlines()
             if "client->server cipher:" in line]
    return asyncio.run(essh_cipher()), (found[0] if found else "unknown")


def case(server: Server, work: Path, mb: int, hosts: int, order: tuple[str, ...]) -> dict[str, tuple[float, int]]:
    src = work / f"src-{mb}.bin"
    if not src.exists():
        _source(src, mb)
    dest = Path(tempfile.mkdtemp(prefix="essh-file-bench-"))
    dest.chmod(0o777)
    try:
        out = {}
        for name in order:
            for f in dest.iterdir():
                f.unlink()
            if name == "essh":
                out[name] = _essh(server, work, src, hosts, dest)
            else:
                out[name] = _openssh(server, name, src, hosts, dest, work)
        return out
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--big-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--download-mb", type=int, default=1024)
    args = parser.parse_args()
    os.chdir(REPO_ROOT)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO_ROOT)], check=True, stdout=subprocess.DEVNULL,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
    work = Path(tempfile.mkdtemp(prefix="essh-file-bench-work-"))
    work.chmod(0o755)  # sshd reads the authorized keys below it as the test user
    cases = [(f"{args.mb} MB to {args.hosts} hosts", args.mb, args.hosts), (f"{args.big_mb} MB to 1 host", args.big_mb, 1)]
    clients = ("scp", "essh", "sftp")
    runs: dict[str, list[dict[str, tuple[float, int]]]] = {label: [] for label, _, _ in cases}
    downloads: list[tuple[float, float, int]] = []  # (essh s, scp s, essh peak RSS KiB)
    try:
        with Server(work / "sshd") as server:
            ciphers = _ciphers(server, work)
            baseline = case(server, work, 1, 1, ("essh",))["essh"][1]  # essh's RSS with a 1 MB file: the growth's zero
            for n in range(args.rounds):
                order = clients[n % 3:] + clients[: n % 3]
                for label, mb, hosts in cases:
                    runs[label].append(case(server, work, mb, hosts, order))
                    print(f"round {n + 1} {label}: " + ", ".join(f"{k} {v[0]:.2f}s" for k, v in runs[label][-1].items()),
                          flush=True)
                if args.download_mb:
                    big = work / f"src-{args.download_mb}.bin"
                    if not big.exists():
                        _source(big, args.download_mb)
                    big.chmod(0o644)
                    scp_s = _scp_download(server, work, big)
                    essh_s, peak = _essh_download(server, work, big)
                    downloads.append((essh_s, scp_s, peak))
                    print(f"round {n + 1} download {args.download_mb} MB: essh {essh_s:.2f}s, scp {scp_s:.2f}s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    missed = False
    print(f"ciphers at their defaults: essh {ciphers[0]}, OpenSSH {ciphers[1]}")
    print(f"essh peak RSS uploading 1 MB to 1 host (the baseline): {baseline / 1024:.1f} MB")
    print(f"{'case':<22} {'essh s':>8} {'scp s':>8} {'sftp s':>8} {'essh/best':>10} {'essh RSS MB':>12} {'growth MB':>10} {'OpenSSH RSS MB':>15}")
    for label, _, _ in cases:
        r = runs[label]
        time_of = {name: statistics.median(run[name][0] for run in r) for name in clients}
        ratio = statistics.median(run["essh"][0] / min(run["scp"][0], run["sftp"][0]) for run in r)
        rss = max(run["essh"][1] for run in r)
        openssh_rss = max(max(run["scp"][1], run["sftp"][1]) for run in r)
        missed |= ratio > 1.5
        print(f"{label:<22} {time_of['essh']:>8.2f} {time_of['scp']:>8.2f} {time_of['sftp']:>8.2f} {ratio:>9.2f}x "
              f"{rss / 1024:>12.1f} {(rss - baseline) / 1024:>10.1f} {openssh_rss / 1024:>15.1f}")
    if downloads:
        ratio = statistics.median(e / s for e, s, _ in downloads)
        peak = max(p for _, _, p in downloads)
        print(f"download {args.download_mb} MB from 1 host: essh/scp {ratio:.2f}x, essh peak RSS {peak / 1024:.1f} MB "
              f"(growth {(peak - baseline) / 1024:.1f} MB over the 1 MB upload)")
    print("target: essh within 1.5x of OpenSSH's best time" + (" -- MISSED" if missed else " -- met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
