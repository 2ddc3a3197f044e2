"""`essh graph` (text, dot, mermaid: checked structurally), `essh report timeline` (HTML with no
network, mermaid gantt), `essh init` (its output plans as written), and plain progress in a pipe."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from cli_workspace import Workspace

from essh.init import ssh_config_hosts, starter_config

CONFIG = """
host "web-1" { HostName = "127.0.0.1", tags = { "web" } }
host "web-2" { HostName = "127.0.0.1", tags = { "web" } }
task "build" { script = "echo built" }
task "fix" { targets = { "web" }, script = "echo fixing" }
task "deploy \\"quoted\\" <x>" {
    depends = { "build" }, targets = { "web" }, parallel = true, on_error = "fix", script = "echo deploying",
}
task "default" { depends = { "deploy \\"quoted\\" <x>" }, script = "true" }
"""


def check_dot(text: str) -> list[tuple[str, str]]:
    """Balanced braces and quotes; every statement a node or an edge; the edges."""
    lines = text.splitlines()
    assert lines[0] == "digraph essh {" and lines[-1] == "}"
    nodes, edges = set(), []
    for line in lines[1:-1]:
        line = line.strip()
        if m := re.fullmatch(r'(t\d+) \[label="((?:[^"\\]|\\.)*)", shape=[a-z]+(?:, style=rounded)?\];', line):
            nodes.add(m.group(1))
        elif m := re.fullmatch(r'(t\d+) -> (t\d+)(?: \[style=dashed, label="on failure"\])?;', line):
            edges.append((m.group(1), m.group(2)))
        else:
            assert re.fullmatch(r'(rankdir=LR|node \[fontname="sans-serif"\]);', line), line
    assert all(a in nodes and b in nodes for a, b in edges)
    return edges


def check_mermaid(text: str) -> list[tuple[str, str]]:
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    nodes, edges = set(), []
    for line in lines[1:]:
        if m := re.fullmatch(r'  (t\d+)(\[|\{\{|\(\[)"([^"<>]*)<br/>([^"<>]*)"(\]|\}\}|\]\))', line):
            nodes.add(m.group(1))
        elif m := re.fullmatch(r"  (t\d+) (-->|-\. on failure \.->) (t\d+)", line):
            edges.append((m.group(1), m.group(3)))
        else:
            raise AssertionError(line)
    assert all(a in nodes and b in nodes for a, b in edges)
    return edges


def test_graph_formats(ws: Workspace):
    ws.write(".esshconfig.lua", CONFIG)
    dot = ws.essh("graph", "--format", "dot")
    assert dot.returncode == 0, dot.stderr
    assert '\\"quoted\\" <x>' in dot.stdout
    assert len(check_dot(dot.stdout)) == 3  # build -> deploy, deploy -> default, deploy -> its handler
    mermaid = ws.essh("graph", "--format", "mermaid")
    assert "#quot;quoted#quot; #lt;x#gt;" in mermaid.stdout
    assert len(check_mermaid(mermaid.stdout)) == 3
    text = ws.essh("graph")
    assert "  after: build" in text.stdout and "  on failure of: deploy" in text.stdout
    assert ws.essh("graph", "--format", "png").returncode == 2


def test_graph_of_a_plan_file(ws: Workspace):
    ws.write(".esshconfig.lua", CONFIG)
    assert ws.essh("plan", "-o", "p.bin").returncode == 0
    assert check_mermaid(ws.essh("graph", "p.bin", "--format", "mermaid").stdout)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def test_timeline_html_and_mermaid(ws: Workspace):
    ws.write(".esshconfig.lua", 'task "a" { script = "echo a" }\ntask "b" { depends = { "a" }, script = "sleep 0.1" }\n')
    applied = ws.essh("run", "b", "--report", "r.json")
    assert applied.returncode == 0, applied.stderr
    html = ws.essh("report", "timeline", "r.json")
    assert html.returncode == 0, html.stderr
    parser = _Tags()
    parser.feed(html.stdout)
    tags = {tag for tag, _ in parser.found}
    assert {"html", "svg", "rect"} <= tags
    assert not tags & {"script", "link", "img", "iframe"}  # nothing to fetch, nothing to run
    assert not re.search(r"(src|href)=", html.stdout)
    assert "http" not in html.stdout.replace("http://www.w3.org/2000/svg", "")
    assert len([1 for tag, a in parser.found if tag == "rect" and "fill" in a]) == 2  # one attempt per step
    gantt = ws.essh("report", "timeline", "r.json", "--format", "mermaid").stdout.splitlines()
    assert gantt[:3] == ["gantt", "  dateFormat x", "  axisFormat %M:%S"]
    body = [line for line in gantt[4:]]
    assert [line for line in body if line.startswith("  section")] == ["  section a", "  section b"]
    for line in body:
        assert line.startswith("  section ") or re.fullmatch(r"  [^:#]+ :(crit, )?[a-z0-9]+, \d+, \d+ms", line), line
    assert ws.essh("report", "timeline", "missing.json").returncode == 2


def test_init_writes_a_config_that_plans(ws: Workspace):
    made = ws.essh("init")
    assert made.returncode == 0, made.stderr
    planned = ws.essh("plan", "--json")
    assert planned.returncode == 0, planned.stderr
    doc = json.loads(planned.stdout)
    assert [t["name"] for t in doc["tasks"]] == ["uptime", "default"]
    assert ws.essh("init").returncode == 2  # never overwrites without --force
    assert ws.essh("init", "--force").returncode == 0


def test_init_from_ssh_config(ws: Workspace):
    (ws.path / "home" / ".ssh").mkdir()
    (ws.path / "home" / ".ssh" / "config").write_text(
        "Host *\n  User me\nHost db-1 db-2 !bad\n  HostName 10.0.0.1\nhost=bastion # the jump host\nHost web-?\n"
    )
    assert ws.essh("init", "--from-ssh-config").returncode == 0
    text = (ws.path / ".esshconfig.lua").read_text()
    assert 'host "db-1"' in text and 'host "bastion"' in text and "web-?" not in text
    doc = json.loads(ws.essh("plan", "--json").stdout)
    assert [h["name"] for h in doc["hosts"]] == ["bastion", "db-1", "db-2"]


def test_ssh_config_names_are_lua_strings_and_patterns_are_left_out():
    assert ssh_config_hosts("Host a* b\nMatch host c\nHost \"d\"\n") == ["b", "d"]
    assert "host \"x\"" in starter_config("Host x\n")


def test_plain_progress_in_a_pipe_and_no_colour(ws: Workspace):
    ws.write(".esshconfig.lua", 'task "a" { script = "echo a" }\n')
    result = ws.essh("run", "a", "--timestamps", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\d\d:\d\d:\d\d\.\d{3} essh: task a: started \(1 step\)$", result.stderr, re.M)
    assert re.search(r"^\d\d:\d\d:\d\d\.\d{3} a$", result.stdout, re.M)
    assert "\x1b" not in result.stderr + result.stdout
    coloured = ws.essh("run", "a", env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert "\x1b[1;32mApply finished" in coloured.stderr
    assert "\x1b" not in ws.essh("run", "a", "--no-color", env={"FORCE_COLOR": "1", "NO_COLOR": ""}).stderr


def test_timeline_shows_waits_retries_and_escapes_names():
    from essh.schema import Attempt, Report, StepResult, Totals
    from essh.timeline import render_html, render_mermaid

    step = StepResult(
        step=0, task="<script>alert(1)</script>", host="web:1#x", status="succeeded", started_at=10.0, ended_at=14.0,
        attempts=(
            Attempt(number=1, status="failed", exit_code=1, started_at=11.0, ended_at=12.0, error="exit 1"),
            Attempt(number=2, status="succeeded", exit_code=0, started_at=12.5, ended_at=14.0),
        ),
    )
    report = Report(essh_version="t", plan_digest="d", started_at=10.0, ended_at=14.0, wall_seconds=4.0, exit_code=0,
                    totals=Totals(succeeded=1), steps=(step,))
    page = render_html(report)
    assert "<script>" not in page and "&lt;script&gt;" in page
    parser = _Tags()
    parser.feed(page)
    rects = [a for tag, a in parser.found if tag == "rect"]
    assert len([a for a in rects if a.get("class") == "wait"]) == 1
    assert len([a for a in rects if "fill" in a]) == 2  # two attempts
    gantt = list(render_mermaid(report))
    assert "  web\uff1a1\uff03x wait :w0, 0, 1000ms" in gantt
    assert "  web\uff1a1\uff03x try 1 :crit, s0a1, 1000, 1000ms" in gantt
    assert "  web\uff1a1\uff03x try 2 :s0a2, 2500, 1500ms" in gantt


def test_unknown_progress_mode_is_a_usage_error(ws: Workspace):
    ws.write(".esshconfig.lua", 'task "a" { script = "echo a" }\n')
    result = ws.essh("run", "a", "--progress", "fancy")
    assert result.returncode == 2 and "--progress must be" in result.stderr
