"""Writes plan-v1.bin (a small but rich plan in format version 1) and plan-v1.json
(every field of it, defaults included) next to this script.

Run once per format version: `python tests/data/make_plan_v1.py`. The files are
committed; tests/schema/test_plan_v1_file.py checks that this essh still reads
them to the same content. Never regenerate them to make that test pass: a
difference means the format changed, which needs a new FORMAT_VERSION.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from essh.schema import (
    ConfigFile,
    FileBlob,
    Host,
    Location,
    Plan,
    PlanMeta,
    SecretRef,
    Step,
    Task,
    encode_plan,
)

HERE = Path(__file__).resolve().parent
SUDO = ("sudo", "-n", "-u", "root", "-H", "--", "bash", "-c")


def build_plan() -> Plan:
    """The plan stored as plan-v1.bin: remote and local tasks, a handler, a
    composite, prefixes, environments, SSH options, a reserved file and secret."""
    config = "/srv/ops/.esshconfig.lua"
    hosts = (
        Host(
            name="db-1",
            ssh_options=(("HostName", "10.0.0.11"), ("Port", "2222"), ("User", "ops")),
            tags=("db", "production"),
            props=(("role", "primary"),),
            env=(("ESSH_HOSTNAME", "db-1"), ("ESSH_HOST_HOSTNAME", "10.0.0.11"), ("ESSH_HOST_TAGS_DB", "1")),
            defined_at=Location(file=config, line=1),
        ),
        Host(
            name="web-1",
            ssh_options=(
                ("HostName", "10.0.0.21"),
                ("IdentityFile", "~/.ssh/id_ed25519"),
                ("IdentityFile", "~/.ssh/id_rsa"),
                ("ProxyJump", "bastion"),
                ("StrictHostKeyChecking", "no"),
            ),
            description="web server, zone a",
            tags=("web", "production"),
            env=(("ESSH_HOSTNAME", "web-1"), ("ESSH_HOST_TAGS_WEB", "1")),
            defined_at=Location(file=config, line=8),
        ),
        Host(
            name="web-2",
            ssh_options=(("HostName", "web-2.example.internal"),),
            tags=("web",),
            env=(("ESSH_HOSTNAME", "web-2"), ("ESSH_HOST_PROPS_ZONE", "b")),
            props=(("zone", "b"),),
            defined_at=Location(file=config, line=15),
        ),
    )
    tasks = (
        Task(
            name="build",
            description="Build the release locally",
            defined_at=Location(file=config, line=22),
            backend="local",
            env=(("ESSH_TASK_NAME", "build"),),
        ),
        Task(
            name="backup",
            defined_at=Location(file=config, line=30),
            parallel=0,
            on_error="continue",
            timeout=300.5,
            retries=2,
            env=(("ESSH_TASK_NAME", "backup"), ("ESSH_TASK_PROPS_KEEP", "7")),
            props=(("keep", "7"),),
        ),
        Task(
            name="migrate",
            defined_at=Location(file=config, line=40),
            after=(1,),
            on_error="handler",
            handler=3,
            shell=SUDO,
            env=(("ESSH_TASK_NAME", "migrate"),),
        ),
        Task(
            name="migrate-failed",
            defined_at=Location(file=config, line=50),
            role="handler",
            handles=2,
            backend="local",
            hidden=True,
            env=(("ESSH_TASK_NAME", "migrate-failed"),),
        ),
        Task(
            name="deploy",
            description="Build, back up, migrate",
            defined_at=Location(file=config, line=55),
            role="composite",
            after=(0, 1, 2),
            requested=True,
        ),
        Task(
            name="restart",
            defined_at=Location(file=config, line=60),
            after=(4,),
            parallel=2,
            pty=True,
            env=(("ESSH_TASK_NAME", "restart"), ("ESSH_TASK_ARGS_1", "--graceful")),
            requested=True,
        ),
    )
    scripts = (
        "make release\n",
        "pg_dump app > /var/backups/app.sql\n",
        "cd /srv/app && ./migrate up\n",
        'echo "migration failed on $ESSH_FAILED_HOSTS" >&2\n',
        "systemctl restart app\n",
    )
    steps = (
        Step(0, None, 0),
        Step(1, 0, 1, "[remote:db-1] "),
        Step(2, 0, 2),
        Step(3, None, 3),
        Step(5, 1, 4, "[remote:web-1] "),
        Step(5, 2, 4, "[remote:web-2] "),
    )
    return Plan(
        format_version=1,  # written when FORMAT_VERSION was 1
        meta=PlanMeta(
            essh_version="0.1.0",
            created_at=1_767_225_600,
            lua_version="Lua 5.4",
            config_files=(ConfigFile(path=config, sha256="ab" * 32),),
            requested=("deploy", "restart"),
            args=("--graceful",),
            warnings=("task 'cleanup' left out: its prepare returned false",),
        ),
        hosts=hosts,
        tasks=tasks,
        scripts=scripts,
        steps=steps,
        files=(FileBlob(sha256="cd" * 32, data=b"\x00\x01release\xff"),),
        secrets=(SecretRef(name="db_password", source="env:DB_PASSWORD"),),
    )


def explicit(value: Any) -> Any:
    """`value` as JSON-ready builtins with every field, defaults included (bytes as hex)."""
    if isinstance(value, msgspec.Struct):
        return {name: explicit(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, (tuple, list)):
        return [explicit(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def main() -> int:
    plan = build_plan()
    (HERE / "plan-v1.bin").write_bytes(encode_plan(plan))
    text = json.dumps(explicit(plan), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (HERE / "plan-v1.json").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
