"""The Python peers of benchmarks/peers.py, each run as its own process: parallel-ssh and Fabric.

    python benchmarks/_peer_clients.py pssh|fabric --hosts N --commands K --limit L \\
        --address A --port P --user U --key KEY --known-hosts FILE

Every host name reaches the same loopback sshd (one connection per name), each
connection runs `--command` K times, all hosts finishing command k before any
starts k+1 (as essh runs tasks one after another). Output goes to stdout; exit 1
(one line on stderr) when a command failed or a host could not be reached.
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("peer", choices=("pssh", "fabric"))
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--commands", type=int, default=1)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--command", default="echo hi")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--known-hosts", required=True)
    return parser.parse_args(argv)


def run_pssh(a: argparse.Namespace) -> int:
    """parallel-ssh (libssh2, C): one client for all hosts, reused for every command, a join after each."""
    from pssh.clients import ParallelSSHClient

    client = ParallelSSHClient([a.address] * a.hosts, user=a.user, port=a.port, pkey=a.key, pool_size=a.limit, num_retries=1)
    failed = 0
    for _ in range(a.commands):
        output = client.run_command(a.command, stop_on_errors=False)
        client.join(output)
        for host_out in output:
            sys.stdout.writelines(f"{line}\n" for line in host_out.stdout or ())
            failed += host_out.exception is not None or host_out.exit_code != 0
    return failed


def run_fabric(a: argparse.Namespace) -> int:
    """Fabric's ThreadingGroup (paramiko): a thread per host per command, connections kept between commands."""
    from fabric import Connection, ThreadingGroup
    from fabric.exceptions import GroupException

    kwargs = {"key_filename": a.key, "look_for_keys": False, "allow_agent": False}
    conns = [Connection(a.address, user=a.user, port=a.port, connect_kwargs=kwargs) for _ in range(a.hosts)]
    for conn in conns:
        conn.client.load_host_keys(a.known_hosts)
    failed = 0
    for start in range(0, a.hosts, a.limit):  # ThreadingGroup has no pool: at most --limit at once by batches
        group = ThreadingGroup.from_connections(conns[start : start + a.limit])
        for _ in range(a.commands):
            try:
                results = group.run(a.command, hide=False, warn=True)
            except GroupException as exc:
                results = exc.result
            failed += sum(1 for r in results.values() if isinstance(r, Exception) or r.exited != 0)
        group.close()
    return failed


def main() -> int:
    a = parse_args()
    failed = run_pssh(a) if a.peer == "pssh" else run_fabric(a)
    if failed:
        print(f"{a.peer}: {failed} of {a.hosts * a.commands} commands failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
