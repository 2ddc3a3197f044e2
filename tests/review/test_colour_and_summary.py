"""Colour is decided once from flags, NO_COLOR, FORCE_COLOR, TERM and the terminal; the summary names
the hosts that failed, were unreachable, or never ran; without colour it holds no escape sequence."""

from __future__ import annotations

import io
import os

from essh.colour import Palette, host_sgr, wants_colour
from essh.review import render_summary
from essh.schema import Report, StepResult, Totals


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_decision_order():
    tty = Tty()
    assert wants_colour(tty, environ={"TERM": "xterm"})
    assert not wants_colour(tty, no_color=True, environ={"FORCE_COLOR": "1"})
    assert not wants_colour(tty, environ={"NO_COLOR": "1", "FORCE_COLOR": "1"})
    assert wants_colour(tty, environ={"NO_COLOR": ""})  # empty NO_COLOR is unset (no-color.org)
    assert not wants_colour(tty, environ={"TERM": "dumb"})
    assert wants_colour(io.StringIO(), environ={"FORCE_COLOR": "1"})
    assert not wants_colour(io.StringIO(), environ={"FORCE_COLOR": "0"})
    assert not wants_colour(io.StringIO(), environ={})


def test_host_colours_are_stable_and_spread():
    assert host_sgr("web-1") == host_sgr("web-1")
    assert len({host_sgr(f"web-{i}") for i in range(20)}) >= 5
    assert Palette(False).host("x", "web-1") == "x"


def report() -> Report:
    steps = (
        StepResult(step=0, task="deploy", host="web-1", status="succeeded", started_at=1.0, ended_at=2.0),
        StepResult(step=1, task="deploy", host="web-2", status="failed", exit_code=3, started_at=1.0, ended_at=2.0),
        StepResult(step=2, task="deploy", host="db-1", status="unreachable", error="connection refused"),
        StepResult(step=3, task="restart", host="web-1", status="skipped", error="not run: task 'deploy' failed (on_error=stop)"),
        StepResult(step=4, task="restart", host="web-3", status="skipped", error="not run: task 'deploy' failed (on_error=stop)"),
        StepResult(step=5, task="rollback", host="web-1", status="skipped", error="handler not needed"),
    )
    totals = Totals(succeeded=1, failed=1, unreachable=1, skipped=3)
    return Report(essh_version="t", plan_digest="d", started_at=0, ended_at=3, wall_seconds=3.0, exit_code=1,
                  totals=totals, steps=steps)


def test_summary_names_failed_unreachable_and_never_run_hosts():
    lines = list(render_summary(report()))
    assert "Failed on: web-2" in lines
    assert "Unreachable: db-1" in lines
    assert "Never ran (stopped by a failure, an unreachable host or an interrupt): web-1, web-3" in lines
    assert not any("\x1b" in line for line in lines)


def test_summary_in_colour_like_terraform():
    lines = list(render_summary(report(), palette=Palette(True)))
    assert lines[0].startswith("\x1b[1m")
    assert lines[-1].startswith("\x1b[1;31mApply finished")
    assert any(line.startswith("\x1b[31mfailed:\x1b[0m deploy on web-2") for line in lines)


def test_review_in_colour_only_when_asked():
    from essh.review import coloured_review

    lines = ["essh plan for: x", "warning: careful", "# deploy", "    mode: parallel", "      | echo hi", "Plan: 1 task."]
    assert list(coloured_review(iter(lines), Palette(False))) == lines
    shown = list(coloured_review(iter(lines), Palette(True)))
    assert shown[0] == lines[0]
    assert shown[1] == "\x1b[1;33mwarning: careful\x1b[0m" and shown[2] == "\x1b[1m# deploy\x1b[0m"
    assert shown[4] == "\x1b[2m      | echo hi\x1b[0m"
