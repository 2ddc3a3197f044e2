"""`essh report timeline`: where the time of a run went, from its report (schema objects only).

A Gantt of steps per host and task: one row per step (task, then host, in the
report's order), a bar per attempt; the time a step waited between starting
and its first attempt (a connection slot, a connection being opened) is drawn
as a pale bar before it, and retries show as several bars. Two forms:

- `render_html`: one self-contained HTML file with an inline SVG and inline
  CSS, no script and no network (open it anywhere, attach it to a CI run);
  every text in it is escaped for HTML.
- `render_mermaid`: a mermaid `gantt` (times in milliseconds from the start).
"""

from __future__ import annotations

import html
from collections.abc import Iterator

from essh.schema import Report, StepResult, escape_text

_COLOURS = {
    "succeeded": "#3a9a4a", "failed": "#c93c3c", "timed_out": "#c96b3c", "unreachable": "#8a3cc9",
    "cancelled": "#c9a23c", "skipped": "#bbbbbb", "running": "#3c7ac9", "pending": "#dddddd",
}
ROW = 18
LABEL = 260
WIDTH = 900


def _rows(report: Report) -> list[StepResult]:
    """Steps that started, task by task, hosts in the report's order."""
    return [r for r in report.steps if r.started_at is not None]


def render_html(report: Report, title: str = "essh run") -> str:
    rows = _rows(report)
    start = report.started_at
    span = max(report.ended_at - start, 1e-3)
    scale = (WIDTH - LABEL - 20) / span
    height = ROW * (len(rows) + 2)
    svg: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="11">'
    ]
    for tick in range(0, 11):  # a scale: ten divisions of the run
        x = LABEL + tick * span / 10 * scale
        svg.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - ROW}" stroke="#eee"/>')
        svg.append(f'<text x="{x:.1f}" y="{height - 4}" fill="#666">{tick * span / 10:.1f}s</text>')
    for i, r in enumerate(rows):
        y = i * ROW + 2
        label = _text(f"{r.task} @ {r.host or 'local'}")
        svg.append(f'<text x="4" y="{y + 12}"><title>{label}</title>{label[:42]}</text>')
        first = min((a.started_at for a in r.attempts), default=r.started_at)
        if r.started_at is not None and first > r.started_at:
            x, w = LABEL + (r.started_at - start) * scale, max((first - r.started_at) * scale, 0.5)
            svg.append(f'<rect class="wait" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 4}">'
                       f"<title>waited {first - r.started_at:.2f}s</title></rect>")
        for a in r.attempts:
            x, w = LABEL + (a.started_at - start) * scale, max((a.ended_at - a.started_at) * scale, 1.0)
            tip = _text(f"{r.task} @ {r.host or 'local'}: attempt {a.number}, {a.status}, {a.ended_at - a.started_at:.2f}s"
                        + (f": {a.error}" if a.error else ""))
            svg.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 4}" fill="{_COLOURS.get(a.status, "#888")}">'
                       f"<title>{tip}</title></rect>")
    svg.append("</svg>")
    legend = " ".join(f'<span style="background:{c}">&nbsp;&nbsp;</span> {s.replace("_", " ")}'
                      for s, c in _COLOURS.items() if s not in ("running", "pending"))
    head = _text(f"{title}: {len(report.steps)} steps in {report.wall_seconds:.1f}s")
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{head}</title>"
        "<style>body{font-family:sans-serif;margin:1em} .wait{fill:#ccd8e8} span{display:inline-block}</style>"
        "</head><body>"
        f"<h1 style=\"font-size:1.2em\">{head}</h1>"
        f"<p>{legend} <span class=\"wait\" style=\"background:#ccd8e8\">&nbsp;&nbsp;</span> waiting for a connection</p>"
        + "\n".join(svg)
        + "\n</body></html>\n"
    )


def _text(value: str) -> str:
    return html.escape(escape_text(value), quote=True)


def _mermaid_name(value: str) -> str:
    # A mermaid gantt line ends a task name at ':' and a section at a newline; '#' starts an entity.
    return escape_text(value).replace(":", "\uff1a").replace("#", "\uff03").replace(";", ",")


def render_mermaid(report: Report) -> Iterator[str]:
    start = report.started_at
    yield "gantt"
    yield "  dateFormat x"
    yield "  axisFormat %M:%S"
    yield f"  title {_mermaid_name(f'essh run: {len(report.steps)} steps in {report.wall_seconds:.1f}s')}"
    section = None
    for n, r in enumerate(_rows(report)):
        if r.task != section:
            section = r.task
            yield f"  section {_mermaid_name(r.task)}"
        where = _mermaid_name(r.host or "local")
        first = min((a.started_at for a in r.attempts), default=r.started_at)
        if r.started_at is not None and first > r.started_at:
            yield f"  {where} wait :w{n}, {_ms(r.started_at, start)}, {_ms(first, start) - _ms(r.started_at, start) or 1}ms"
        for a in r.attempts:
            tag = "crit, " if a.status not in ("succeeded", "skipped") else ""
            length = max(_ms(a.ended_at, start) - _ms(a.started_at, start), 1)
            yield f"  {where} try {a.number} :{tag}s{n}a{a.number}, {_ms(a.started_at, start)}, {length}ms"


def _ms(at: float, start: float) -> int:
    return int(round((at - start) * 1000))
