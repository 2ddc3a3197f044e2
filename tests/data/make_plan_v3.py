"""Writes plan-v3.bin and plan-v3.json (format version 3) next to this script.

Version 3 gives the `files` table its meaning and adds file operations: the
`operations` table (a tagged union: upload | download), and per step `ops`
(indices into it) and `observed` (what `essh plan --refresh` saw). A step's
`script` may be None (file operations only). This plan is version 2's with a
task `config` that uploads an inline file and a referenced large one, renders
a template, and downloads a log, observed by a refresh. Run once:
`python tests/data/make_plan_v3.py`; tests/schema/test_plan_v3_file.py checks
that this essh still reads the files to the same content. Never regenerate
them to make a test pass: a difference means the format changed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import msgspec

from essh.schema import Download, FileBlob, Observed, Plan, Step, Task, Upload, encode_plan

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("make_plan_v2", HERE / "make_plan_v2.py")
make_plan_v2 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_plan_v2)
explicit = make_plan_v2.explicit

NGINX = b"worker_processes 4;\n"
WEB1 = b"name = web-1\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_plan() -> Plan:
    v2 = make_plan_v2.build_plan()
    config = Task(name="config", after=(5,), parallel=0, run_as="root")
    files = (
        FileBlob(sha256=_sha(NGINX), data=NGINX, size=len(NGINX)),
        FileBlob(sha256=_sha(WEB1), data=WEB1, size=len(WEB1)),
        FileBlob(sha256="ab" * 32, size=20 * 1024 * 1024, source="files/big.tar"),
    )
    operations = (
        Upload(dest="/etc/nginx/nginx.conf", blob=0, mode=0o644, owner="root", group="root", src="files/nginx.conf"),
        Upload(dest="/etc/app/host.conf", blob=1, mode=0o600, origin="template", src="files/host.conf.tmpl"),
        Upload(dest="/opt/big.tar", blob=2),
        Download(src="/var/log/nginx/error.log", dest="logs/web-1/error.log"),
    )
    seen = Observed(exists=True, sha256=_sha(b"old\n"), size=4, mode=0o644, owner="root", group="root")
    steps = (
        *v2.steps,
        Step(6, 1, None, "[remote:web-1] ", ops=(0, 1, 2, 3), observed=(seen, Observed(exists=False), None, None)),
    )
    meta = msgspec.structs.replace(v2.meta, refreshed_at=1700000100)
    return msgspec.structs.replace(
        v2, format_version=3, meta=meta, tasks=(*v2.tasks, config), steps=steps, files=files, operations=operations
    )


def main() -> int:
    plan = build_plan()
    (HERE / "plan-v3.bin").write_bytes(encode_plan(plan))
    text = json.dumps(explicit(plan), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (HERE / "plan-v3.json").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
