"""The Terraform-style review of `essh plan --refresh`: per host, what applying would change.

    web-1
      + create /etc/motd (mode 0644, 12 bytes)
      ~ update /etc/nginx/nginx.conf
          mode 0600 -> 0644
          --- /etc/nginx/nginx.conf (on web-1)
          +++ /etc/nginx/nginx.conf (planned)
          @@ -1 +1 @@
          -worker_processes 2;
          +worker_processes 4;
      = unchanged /etc/app.conf

    Changes: 1 to create, 1 to change, 1 unchanged (2 hosts unreachable: not observed).

A diff is shown for text files under the observer's size limit; every text
shown (paths, contents, reasons) is escaped.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from essh.executor.observe import Refresh
from essh.schema import Plan, Upload, escape_text

from .file_review import TEXT_LIMIT


def render_refresh(result: Refresh) -> Iterator[str]:
    plan = result.plan
    counts = {"create": 0, "update": 0, "unchanged": 0, "unknown": 0, "at_apply": 0}
    host_of = None
    for seen in result.seen:
        step = plan.steps[seen.step]
        name = plan.hosts[step.host].name if step.host is not None else "(local)"
        if name != host_of:
            host_of = name
            yield escape_text(name)
        op = plan.operations[seen.op]
        assert isinstance(op, Upload)
        blob = plan.files[op.blob]
        dest = escape_text(op.dest)
        now = seen.observed
        if now is None:
            counts["unknown"] += 1
            yield f"  ? cannot look at {dest}: {escape_text(seen.error or 'not observed')}"
            continue
        if not now.exists:
            counts["create"] += 1
            yield f"  + create {dest} (mode {op.mode:04o}, {blob.size} bytes)"
            continue
        changes = []
        if now.mode != op.mode:
            changes.append(f"mode {now.mode:04o} -> {op.mode:04o}")
        if op.owner is not None and now.owner != op.owner:
            changes.append(f"owner {escape_text(now.owner)} -> {escape_text(op.owner)}")
        if op.group is not None and now.group != op.group:
            changes.append(f"group {escape_text(now.group)} -> {escape_text(op.group)}")
        if now.sha256 != blob.sha256 and not op.secrets:
            changes.append(f"contents: {now.size} bytes -> {blob.size} bytes")
        if not changes and op.secrets:
            counts["at_apply"] += 1
            yield f"  ? {dest}: its contents hold secrets: compared when the plan is applied"
            continue
        if not changes:
            counts["unchanged"] += 1
            yield f"  = unchanged {dest}"
            continue
        counts["update"] += 1
        yield f"  ~ update {dest}"
        for change in changes:
            yield f"      {change}"
        yield from _diff(plan, op, seen.old_text, name)
    for name, why in result.unreachable.items():
        yield f"{escape_text(name)}: unreachable, not observed: {escape_text(why)}"
    tail = f" ({len(result.unreachable)} host{'s' if len(result.unreachable) != 1 else ''} unreachable: not observed)" if result.unreachable else ""
    unknown = f", {counts['unknown']} not observed" if counts["unknown"] else ""
    unknown += f", {counts['at_apply']} with secrets compared when applied" if counts["at_apply"] else ""
    yield ""
    yield (f"Changes: {counts['create']} to create, {counts['update']} to change, "
           f"{counts['unchanged']} unchanged{unknown}{tail}.")


def _diff(plan: Plan, op: Upload, old: str | None, host: str) -> Iterator[str]:
    blob = plan.files[op.blob]
    if old is None or blob.source is not None or blob.size > TEXT_LIMIT:
        return
    try:
        new = blob.data.decode("utf-8")
    except UnicodeDecodeError:
        return
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=f"{op.dest} (on {host})", tofile=f"{op.dest} (planned)",
    )
    for line in lines:
        yield "      " + escape_text(line.rstrip("\n"))
