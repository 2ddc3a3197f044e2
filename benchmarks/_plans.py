"""The executor benchmark's plans, built directly with `essh.schema` (no Lua, no planner).

Hosts `bench-000`, `bench-001`, ... all reach the one benchmark sshd. Every task
runs `echo hi` with `parallel = 0` (all hosts at once, within the connection
limit), one step per host in host order; task k comes after task k-1, as the
planner orders tasks requested one after another.
"""

from __future__ import annotations

from essh.schema import Host, Plan, PlanMeta, Step, Task, encode_program, read_plan, step_script, write_plan
from essh.schema.command import delivery_of, login_command

from _fleet import Target

COMMAND = "echo hi"


def bench_plan(target: Target, hosts: int, tasks: int) -> Plan:
    names = [f"bench-{i:03d}" for i in range(hosts)]
    return Plan(
        meta=PlanMeta(
            essh_version="benchmark",
            created_at=0,
            lua_version="none",
            requested=tuple(f"task-{k}" for k in range(tasks)),
        ),
        hosts=tuple(
            Host(name=name, ssh_options=target.ssh_options(), env=(("ESSH_HOSTNAME", name),)) for name in names
        ),
        tasks=tuple(
            Task(name=f"task-{k}", parallel=0, after=(k - 1,) if k else (), requested=True) for k in range(tasks)
        ),
        scripts=(COMMAND,),
        steps=tuple(Step(task=k, host=h, script=0) for k in range(tasks) for h in range(hosts)),
    )


def write_bench_plan(path: str, target: Target, hosts: int, tasks: int) -> Plan:
    """Write the plan file and read it back, so it is checked as `essh apply` will check it."""
    write_plan(path, bench_plan(target, hosts, tasks))
    return read_plan(path)


def plan_command(target: Target) -> tuple[str, str]:
    """What essh sends for the first step of a benchmark plan: the command its login shell runs
    (without the pid report before it) and the program that follows on the channel's stdin."""
    plan = bench_plan(target, 1, 1)
    program = encode_program(step_script(plan, plan.steps[0]), "stdin").decode()  # with the mark the bootstrap checks
    task = plan.tasks[0]
    return login_command(task, delivery_of(task)), program
