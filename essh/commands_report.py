"""The `essh report` sub-app: turn apply reports into JUnit, summaries, one merged report, a timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from essh import schema, stdout

from .cli_app import DebugOpt, _errors, app
from .cli_files import _read_plan, _read_report, _write_output
from .plan_steps import Abort
from .report_cli import timeline


report_app = typer.Typer(help="Turn apply reports into what CI reads: JUnit, summaries, one merged report.", no_args_is_help=True)
app.add_typer(report_app, name="report")
ReportArg = Annotated[Path, typer.Argument(help="A JSON report written by `essh apply`.")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here instead of standard output.")]


def _emit(data: bytes, out: Path | None, what: str) -> None:
    if out is None:
        stdout.write_bytes(data)
    else:
        _write_output(out, data, what)


@report_app.command("junit")
def report_junit(report: ReportArg, out: OutOpt = None, debug: DebugOpt = False) -> None:
    """The report as JUnit XML: a test suite per task, a test case per host."""
    from .junit import junit_xml

    with _errors(debug):
        _emit(junit_xml(_read_report(report)), out, "JUnit report")


@report_app.command("summary")
def report_summary(
    report: ReportArg,
    format: Annotated[str, typer.Option("--format", help="markdown or text.")] = "markdown",
    debug: DebugOpt = False,
) -> None:
    """A compact summary: markdown for $GITHUB_STEP_SUMMARY and merge requests, or the terminal's text."""
    from .ci_report import markdown_summary
    from .review import render_summary

    with _errors(debug):
        if format not in ("markdown", "text"):
            raise Abort(f"--format must be markdown or text, not {format!r}")
        the_report = _read_report(report)
        if format == "markdown":
            stdout.write_bytes(markdown_summary(the_report).encode())
        else:
            stdout.write_lines(list(render_summary(the_report)))


@report_app.command("merge")
def report_merge(
    reports: Annotated[list[Path], typer.Argument(help="The reports of every shard and stage of one plan.")],
    out: OutOpt = None,
    fill_from: Annotated[
        Optional[Path], typer.Option("--fill-from", help="The plan: steps in no report are reported skipped, not an error.")
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Join the shards' reports: same plan, every step exactly once, the worst exit code kept in the report."""
    from .report_merge import MergeError, merge_reports

    with _errors(debug):
        try:
            fill = None
            if fill_from is not None:
                fill_plan, fill_data = _read_plan(fill_from)
                fill = (fill_plan, schema.payload_digest(fill_data))
            merged = merge_reports([(str(p), _read_report(p)) for p in reports], fill)
        except MergeError as exc:
            raise Abort(str(exc)) from None
        _emit(schema.encode_report_json(merged), out, "merged report")


report_app.command("timeline")(timeline)
