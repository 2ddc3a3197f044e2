"""Planning benchmark: 10,000 hosts, 300 tasks of ~1,000 hosts each (~300,000 steps).

Not a test: prints figures. Run: `python benchmarks/plan_bench.py [--python-config]`.

The configuration: hosts `rackR-nodeNNNN` (10 racks of 1,000), tagged with their
rack, a role and an environment. Task k selects rack k % 10, by tag for even k
and by glob (`rackR-*`) for odd k, and depends on task k-1 within chains of 10;
the 30 chain ends are requested, so all 300 tasks are planned.

Figures: load (Lua -> Config; skipped with --python-config or when the loader
is missing, then the Config is built in Python), resolve (Config -> Plan),
encode, decode (`essh.schema.decode_plan`, with every check), plan size, and
the baseline: msgspec alone encoding/decoding the same hosts, scripts and steps
as plain tuples (no Structs, no header, no digest, no checks), measured in the
same run, to show what the plan format costs on top.
Load runs once; the other figures are medians (3 runs of resolve, 5 of the rest).
Targets on the 2-core machine: load + resolve < 3 s, decode < 0.3 s, < 30 MB.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time

import msgspec

from essh.planner.loader import load_config
from essh.planner.model import Config, ConfigFileRead, HostDef, ScriptPart, Source, TaskDef
from essh.planner.resolve import make_plan
from essh.schema import decode_plan, encode_plan

RACKS, PER_RACK, TASKS, CHAIN = 10, 1000, 300, 10


def host_name(rack: int, i: int) -> str:
    return f"rack{rack}-node{i:04d}"


def task_target(k: int) -> str:
    rack = k % RACKS
    return f"rack{rack}" if k % 2 == 0 else f"rack{rack}-*"


def task_script(k: int) -> str:
    return f"echo task {k} on $ESSH_HOSTNAME\nsystemctl status service-{k}"


def requested() -> list[str]:
    return [f"task{k:03d}" for k in range(CHAIN - 1, TASKS, CHAIN)]


def lua_config() -> str:
    """The configuration as ESSH Lua."""
    out = []
    for rack in range(RACKS):
        for i in range(PER_RACK):
            out.append(
                f'host "{host_name(rack, i)}" {{ HostName = "10.{rack}.{i // 256}.{i % 256}", Port = 22, '
                f'tags = {{ "rack{rack}", "role{i % 7}", "{"prod" if i % 2 else "stage"}" }} }}\n'
            )
    for k in range(TASKS):
        depends = f'depends = {{ "task{k - 1:03d}" }}, ' if k % CHAIN else ""
        out.append(
            f'task "task{k:03d}" {{ description = "task {k}", targets = {{ "{task_target(k)}" }}, {depends}'
            f"parallel = true, script = [[{task_script(k)}]] }}\n"
        )
    return "".join(out)


def python_config() -> Config:
    """The same configuration built directly as a `Config`."""
    hosts = {}
    for rack in range(RACKS):
        for i in range(PER_RACK):
            name = host_name(rack, i)
            hosts[name] = HostDef(
                name=name,
                defined_at=Source("bench.lua", rack * PER_RACK + i + 1),
                ssh_options=[("HostName", f"10.{rack}.{i // 256}.{i % 256}"), ("Port", "22")],
                tags=[f"rack{rack}", f"role{i % 7}", "prod" if i % 2 else "stage"],
            )
    tasks = {}
    for k in range(TASKS):
        name = f"task{k:03d}"
        tasks[name] = TaskDef(
            name=name,
            defined_at=Source("bench.lua", RACKS * PER_RACK + k + 1),
            description=f"task {k}",
            script=[ScriptPart(task_script(k))],
            targets=[task_target(k)],
            depends=[f"task{k - 1:03d}"] if k % CHAIN else [],
            parallel=True,
        )
    return Config(
        files=[ConfigFileRead("bench.lua", "0" * 64)], hosts=dict(sorted(hosts.items())), tasks=tasks, drivers={}, lua_version="n/a"
    )


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def median_timed(fn, *args, runs: int = 5):
    """The last result and the median time of `runs` calls (GC included, as users get it)."""
    times = []
    result = None
    for _ in range(runs):
        result = None  # let the previous result go before the next run, as a fresh process would
        result, seconds = timed(fn, *args)
        times.append(seconds)
    return result, statistics.median(times)


def load_lua(path: str) -> Config:
    return load_config([path])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python-config", action="store_true", help="build the Config in Python, skip Lua")
    opts = parser.parse_args()

    if opts.python_config:
        config, load_s, source = python_config(), 0.0, "built in Python (no Lua load)"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "esshconfig.lua")
            with open(path, "w") as f:
                f.write(lua_config())
            config, load_s = timed(load_lua, path)
        source = "Lua via essh.planner.loader"

    plan, resolve_s = median_timed(lambda: make_plan(config, requested(), created_at=0, essh_version="bench"), runs=3)
    data, encode_s = median_timed(encode_plan, plan)
    rows = (
        [(h.name, h.ssh_options, h.tags, h.env, h.defined_at.file, h.defined_at.line) for h in plan.hosts],
        list(plan.scripts),
        [(s.task, s.host, s.script, s.prefix) for s in plan.steps],
    )
    counts = (len(config.hosts), len(plan.tasks), len(plan.steps), len(plan.scripts))
    # `essh apply` decodes in a process holding nothing else: so does this benchmark.
    del config, plan
    gc.collect()
    decoded, decode_s = median_timed(decode_plan, data)
    assert encode_plan(decoded) == data
    del decoded
    base_encoder = msgspec.msgpack.Encoder()
    pairs = tuple[tuple[str, str], ...]
    base_decoder = msgspec.msgpack.Decoder(
        tuple[
            list[tuple[str, pairs, tuple[str, ...], pairs, str, int]],
            list[str],
            list[tuple[int, int, int, str | None]],
        ]
    )
    base_data, base_encode_s = median_timed(base_encoder.encode, rows)
    _, base_decode_s = median_timed(base_decoder.decode, base_data)

    print(f"config: {source}")
    print("hosts {:,}  tasks {}  steps {:,}  scripts {}".format(*counts))
    print(f"load     {load_s:7.3f} s")
    print(f"resolve  {resolve_s:7.3f} s")
    print(f"planning {load_s + resolve_s:7.3f} s   (load + resolve; target < 3 s)")
    print(f"encode   {encode_s:7.3f} s   baseline {base_encode_s:.3f} s   ratio {encode_s / base_encode_s:.2f}")
    print(f"decode   {decode_s:7.3f} s   baseline {base_decode_s:.3f} s   ratio {decode_s / base_decode_s:.2f}   (target < 0.3 s)")
    print(f"size     {len(data) / 1e6:7.2f} MB  baseline {len(base_data) / 1e6:.2f} MB   (target < 30 MB)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
