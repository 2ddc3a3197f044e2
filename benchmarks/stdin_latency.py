"""Does delivering a step's program on stdin cost a round trip? One connection, steps one after another.

Plain asyncssh on asyncio against the benchmark sshd, three ways to run the same
step (an environment of 40 variables and `echo hi`), interleaved, each N times
in a row on one connection; prints the median latency per step of each:

- argv: the program inside the command line (`bash -c '<program>'`, how essh ran steps before format 2);
- stdin: essh's command line with the program on the channel's stdin, written right after the request;
- stdin after reply: the same, but waiting for the channel to open before writing (a round trip more).

With a round trip of its own, "stdin" would cost what "stdin after reply" does.

    python benchmarks/stdin_latency.py [--steps 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncssh

from _fleet import Server
from essh.schema import BOOTSTRAPS, encode_program

PROGRAM = "".join(f"export ESSH_VAR_{i}='value number {i}'\n" for i in range(40)) + "echo hi\n"
COMMAND = shlex.join(["bash", "-c", BOOTSTRAPS["stdin"]])


async def argv_way(conn: asyncssh.SSHClientConnection) -> None:
    result = await conn.run(shlex.join(["bash", "-c", PROGRAM]), stdin=asyncssh.DEVNULL, check=True)
    assert result.stdout == "hi\n"


async def stdin_way(conn: asyncssh.SSHClientConnection) -> None:
    result = await conn.run(COMMAND, input=encode_program(PROGRAM, "stdin").decode(), check=True)
    assert result.stdout == "hi\n"


async def stdin_after_reply(conn: asyncssh.SSHClientConnection) -> None:
    process = await conn.create_process(COMMAND)  # returns once the server accepted the request
    process.stdin.write(PROGRAM)
    process.stdin.write_eof()
    result = await process.wait(check=True)
    assert result.stdout == "hi\n"


async def measure(target, steps: int, rounds: int) -> dict[str, list[float]]:
    ways = {"argv": argv_way, "stdin": stdin_way, "stdin after reply": stdin_after_reply}
    times: dict[str, list[float]] = {name: [] for name in ways}
    async with asyncssh.connect(
        target.address, port=target.port, username=target.user, client_keys=[target.key],
        known_hosts=[target.known_hosts],
    ) as conn:
        for _ in range(rounds):
            for name, way in ways.items():
                started = time.perf_counter()
                for _ in range(steps):
                    await way(conn)
                times[name].append((time.perf_counter() - started) / steps)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="essh-stdin-") as workdir, Server(Path(workdir)) as server:
        times = asyncio.run(measure(server.target, args.steps, args.rounds))
    base = statistics.median(times["argv"])
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:18} {median * 1000:7.2f} ms per step   {median / base:5.2f}x argv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
