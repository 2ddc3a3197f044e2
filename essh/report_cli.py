"""`essh report timeline`: where the time of a run went (registered on the `report` sub-app of essh/commands_report.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from essh import stdout
from essh.schema import escape_text

def timeline(
    report_file: Annotated[Path, typer.Argument(help="A report written by `essh apply` (JSON).", metavar="REPORT.json")],
    fmt: Annotated[str, typer.Option("--format", help="html (self-contained, with an SVG) or mermaid (a gantt).")] = "html",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here instead of standard output.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks for internal errors.")] = False,
) -> None:
    """Draw where the time of a run went: a Gantt of steps per task and host, waits and retries visible."""
    import msgspec

    from essh.cli_app import _errors
    from essh.plan_steps import Abort
    from essh.schema import decode_report_json

    from .timeline import render_html, render_mermaid

    with _errors(debug):
        if fmt not in ("html", "mermaid"):
            raise Abort(f"--format must be html or mermaid, not {fmt!r}")
        try:
            report = decode_report_json(report_file.read_bytes())
        except OSError as exc:
            raise Abort(f"cannot read report {report_file}: {exc.strerror or exc}") from None
        except msgspec.MsgspecError as exc:
            raise Abort(f"{report_file} is not an essh report: {exc}") from None
        text = render_html(report, title=report_file.name) if fmt == "html" else "\n".join(render_mermaid(report)) + "\n"
        if out is None:
            stdout.write_bytes(text.encode("utf-8"))
            return
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise Abort(f"cannot write {out}: {exc.strerror or exc}") from None
        stdout.say(f"Wrote {escape_text(str(out))}")
