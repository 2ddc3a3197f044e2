"""File operations for people: the listing in `essh plan`/`essh show`, and the summary of changes.

Per task, each distinct operation once, with the hosts it applies to: its
destination, mode, owner, group, size and digest (`--verbose`: the text of
inline contents). Every text shown is escaped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from essh.schema import Download, Plan, Report, Upload, escape_text

TEXT_LIMIT = 64 * 1024  # inline contents longer than this are not shown, even with --verbose


def render_task_files(plan: Plan, steps: Sequence[int], *, verbose: bool) -> Iterator[str]:
    """The file operations of one task's `steps`, each with the hosts that run it."""
    hosts_of: dict[int, list[str]] = {}
    for i in steps:
        s = plan.steps[i]
        name = plan.hosts[s.host].name if s.host is not None else "(local)"
        for op in s.ops:
            hosts_of.setdefault(op, []).append(name)
    if not hosts_of:
        return
    yield f"    files ({len(hosts_of)}):"
    for index, names in hosts_of.items():
        op = plan.operations[index]
        on = "" if len(names) == len(steps) else f"  on {', '.join(escape_text(n) for n in names)}"
        if isinstance(op, Download):
            yield f"      download {escape_text(op.src)} -> {escape_text(op.dest)}{on}"
            continue
        yield f"      {describe_upload(plan, op)}{on}"
        if verbose:
            yield from _contents(plan, op)


def describe_upload(plan: Plan, op: Upload) -> str:
    blob = plan.files[op.blob]
    owner = ""
    if op.owner or op.group:
        owner = f" owner {escape_text(op.owner or '-')}:{escape_text(op.group or '-')}"
    source = {"upload": f" from {escape_text(op.src)}", "template": f" rendered from {escape_text(op.src)}",
              "content": " (inline content)"}[op.origin]
    ref = f" (read at apply from {escape_text(blob.source)})" if blob.source is not None else ""
    if op.secrets:
        names = ", ".join(escape_text(name) for _, name in op.secrets)
        return (f"upload {escape_text(op.dest)} mode {op.mode:04o}{owner}, {blob.size} bytes plus the secret(s) {names} "
                f"(inline content; its text without them: sha256 {blob.sha256[:12]})")
    return (f"{op.origin if op.origin != 'content' else 'upload'} {escape_text(op.dest)} mode {op.mode:04o}{owner}, "
            f"{blob.size} bytes, sha256 {blob.sha256[:12]}{source}{ref}")


def _contents(plan: Plan, op: Upload) -> Iterator[str]:
    blob = plan.files[op.blob]
    if blob.source is not None or blob.size > TEXT_LIMIT:
        return
    try:
        text = blob.data.decode("utf-8")
    except UnicodeDecodeError:
        yield "        (binary contents)"
        return
    if op.secrets:  # each secret shown where it goes: (secret NAME)
        data, shown = blob.data, []
        at = 0
        for offset, name in op.secrets:
            shown += [data[at:offset].decode("utf-8", "replace"), f"(secret {name})"]
            at = offset
        text = "".join([*shown, data[at:].decode("utf-8", "replace")])
    body = text[:-1] if text.endswith("\n") else text
    for line in body.split("\n"):
        yield "        | " + escape_text(line)


def summary_of_changes(report: Report) -> str | None:
    """`Files: 2 steps changed something, 3 changed nothing.` when any step had file operations."""
    totals = report.totals
    if not totals.changed and not totals.unchanged:
        return None
    return f"Files: {totals.changed} step{'s' if totals.changed != 1 else ''} changed files, {totals.unchanged} unchanged."
