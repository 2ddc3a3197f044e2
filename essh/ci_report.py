"""A report for CI pages: a markdown summary, and GitHub Actions annotations.

`markdown_summary(report)` is the compact table for `$GITHUB_STEP_SUMMARY` or a
merge-request comment: the outcome, then per task how its steps ended, then
the steps that did not succeed (at most `MAX_ROWS`). `github_annotations(plan,
report)` gives one `::error file=...,line=...,title=...::` workflow command per
step that failed, timed out or could not reach its host, pointing at the
task's definition in the configuration.

Everything from the configuration or a host is escaped for where it goes:
control characters as in the terminal (`escape_text`), then markdown's table
and HTML characters, or the workflow command's `%`, CR, LF, `:` and `,`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from essh.schema import STEP_STATUSES, Plan, Report, escape_text

MAX_ROWS = 50  # steps listed in the markdown summary; the rest are counted
_NOT_OK = ("failed", "timed_out", "unreachable", "cancelled")
_ANNOTATED = frozenset({"failed", "timed_out", "unreachable"})


def _md(text: str) -> str:
    """A table cell's text: no control characters, no HTML, no cell breaks."""
    text = escape_text(text)
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("`", "\\`"), ("*", "\\*"), ("_", "\\_")):
        text = text.replace(raw, safe)
    return text


def _outcome(report: Report) -> str:
    if not report.complete:
        return "running"
    if report.interrupted:
        return "interrupted"
    return "succeeded" if report.exit_code == 0 else "failed"


def markdown_summary(report: Report, *, title: str = "essh apply") -> str:
    """The report as GitHub-flavoured markdown (a heading, a table, the steps that did not succeed)."""
    return "\n".join(_markdown(report, title)) + "\n"


def _markdown(report: Report, title: str) -> Iterator[str]:
    facts = [f"plan `{report.plan_digest[:12]}`", f"{len(report.steps)} steps", f"{report.wall_seconds:.1f}s"]
    if report.shard:
        facts.insert(1, f"shard {report.shard}")
    if report.stage is not None:
        facts.insert(1, f"stage {report.stage}")
    if report.limit:
        facts.append("limit " + ", ".join(f"`{_md(p)}`" for p in report.limit))
    if report.carried_over:
        facts.append(f"{len(report.carried_over)} carried over from an earlier report")
    yield f"### {_md(title)}: {_outcome(report)} (exit {report.exit_code})"
    yield ""
    yield " · ".join(facts)
    yield ""
    columns = ["ok" if s == "succeeded" else s.replace("_", " ") for s in STEP_STATUSES]
    yield "| task | " + " | ".join(columns) + " |"
    yield "|---|" + "---:|" * len(columns)
    per_task: dict[str, Counter] = {}
    for result in report.steps:
        per_task.setdefault(result.task, Counter())[result.status] += 1
    for task, counts in per_task.items():
        yield f"| {_md(task)} | " + " | ".join(str(counts[s]) for s in STEP_STATUSES) + " |"
    bad = [r for r in report.steps if r.status in _NOT_OK]
    if not bad:
        return
    yield ""
    yield f"<details open><summary>{len(bad)} step{'s' if len(bad) != 1 else ''} did not succeed</summary>"
    yield ""
    yield "| task | host | status | kind | why |"
    yield "|---|---|---|---|---|"
    for r in bad[:MAX_ROWS]:
        why = r.error or (f"exit status {r.exit_code}" if r.exit_code is not None else "")
        yield f"| {_md(r.task)} | {_md(r.host or 'local')} | {r.status.replace('_', ' ')} | {r.kind or ''} | {_md(why)} |"
    if len(bad) > MAX_ROWS:
        yield ""
        yield f"and {len(bad) - MAX_ROWS} more (see the JSON report)."
    yield ""
    yield "</details>"


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _data(text: str) -> str:
    return escape_text(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_annotations(plan: Plan, report: Report) -> Iterator[str]:
    """`::error` workflow commands for the steps that failed, timed out or were unreachable."""
    where = {task.name: task.defined_at for task in plan.tasks}
    for r in report.steps:
        if r.status not in _ANNOTATED:
            continue
        place = where.get(r.task)
        props = [f"file={_property(place.file)}", f"line={place.line or 1}"] if place is not None else []
        status = r.status.replace("_", " ")
        props.append("title=" + _property(f"essh: {r.task} {status} on {r.host or 'local'}"))
        why = r.error or (f"exit status {r.exit_code}" if r.exit_code is not None else r.status)
        yield f"::error {','.join(props)}::{_data(why)}"
