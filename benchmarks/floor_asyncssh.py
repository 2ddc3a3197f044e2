"""The floor: plain asyncssh on plain asyncio doing the executor benchmark's work.

What an engineer would write by hand with asyncssh, no trio, no scheduler, no
report, against N host names that all reach one sshd (one connection per name):

  fanout  one command on every host, at most --limit connections open at once;
  reuse   --commands commands on every host over one connection per host, all
          hosts finishing command k before any starts k+1 (as essh runs tasks
          that come one after another);
  new     the same, but a new connection for every command on every host.

Connection settings are handed over as essh hands them to asyncssh (key file
and known_hosts file paths), so both clients do the same work per connection.
Commands' output goes to this process's stdout. Exit status 0 when every
command ran and exited 0, else 1, with one line on stderr saying how many did not.

    python benchmarks/floor_asyncssh.py --mode fanout --hosts 200 --limit 100 \\
        --address 127.0.0.1 --port 2222 --user essh-test --key KEY --known-hosts FILE
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import asyncssh


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("fanout", "reuse", "new"), required=True)
    parser.add_argument("--hosts", type=int, default=200, help="host names (connections) to run on")
    parser.add_argument("--commands", type=int, default=1, help="commands per host (reuse and new)")
    parser.add_argument("--limit", type=int, default=100, help="connections open at once at most")
    parser.add_argument("--command", default="echo hi")
    parser.add_argument("--stdin", default=None, help="text sent on each command's standard input (essh's step program)")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--key", required=True, help="private key file")
    parser.add_argument("--known-hosts", required=True, help="known_hosts file naming the server")
    parser.add_argument("--ciphers", help="comma-separated encryption algorithms (default: asyncssh's)")
    args = parser.parse_args(argv)
    if args.mode == "reuse" and args.hosts > args.limit:
        parser.error("--mode reuse keeps every host's connection open: --hosts must not exceed --limit")
    return args


class Floor:
    """One benchmark run's settings and its counts of failures."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.limit = asyncio.Semaphore(args.limit)
        self.failures = 0
        self.first_error = ""

    def connect(self):  # asyncssh's awaitable, async-with-able connect
        a = self.args
        ciphers = {"encryption_algs": a.ciphers.split(",")} if a.ciphers else {}
        return asyncssh.connect(
            a.address,
            port=a.port,
            username=a.user,
            client_keys=[a.key],
            agent_identities=[a.key],
            known_hosts=[a.known_hosts],
            **ciphers,
        )

    async def run(self, conn: asyncssh.SSHClientConnection) -> None:
        if self.args.stdin is None:
            result = await conn.run(self.args.command, check=False, stdin=asyncssh.DEVNULL)
        else:
            result = await conn.run(self.args.command, check=False, input=self.args.stdin)
        sys.stdout.write(result.stdout or "")
        sys.stderr.write(result.stderr or "")
        if result.exit_status != 0:
            self.failures += 1

    async def one_shot(self) -> None:
        """Connect, run the command once, disconnect."""
        async with self.limit:
            try:
                async with self.connect() as conn:
                    await self.run(conn)
            except (OSError, asyncssh.Error) as exc:
                self.failed(exc)

    def failed(self, exc: Exception, count: int = 1) -> None:
        self.failures += count
        self.first_error = self.first_error or f"{type(exc).__name__}: {exc}"

    async def fanout(self) -> None:
        await asyncio.gather(*(self.one_shot() for _ in range(self.args.hosts)))

    async def new(self) -> None:
        for _ in range(self.args.commands):
            await asyncio.gather(*(self.one_shot() for _ in range(self.args.hosts)))

    async def reuse(self) -> None:
        if not self.args.hosts:
            return
        barrier = asyncio.Barrier(self.args.hosts)
        await asyncio.gather(*(self._reuse_host(barrier) for _ in range(self.args.hosts)))

    async def _reuse_host(self, barrier: asyncio.Barrier) -> None:
        async with self.limit:
            conn = None
            try:
                conn = await self.connect()
            except (OSError, asyncssh.Error) as exc:
                self.failed(exc, self.args.commands)
            for _ in range(self.args.commands):
                if conn is not None:
                    try:
                        await self.run(conn)
                    except (OSError, asyncssh.Error) as exc:
                        self.failed(exc)
                await barrier.wait()
            if conn is not None:
                conn.close()
                await conn.wait_closed()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    floor = Floor(args)
    asyncio.run(getattr(floor, args.mode)())
    sys.stdout.flush()
    if floor.failures:
        total = args.hosts * (1 if args.mode == "fanout" else args.commands)
        print(f"floor: {floor.failures} of {total} commands failed or did not run; first error: {floor.first_error or 'a non-zero exit status'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
