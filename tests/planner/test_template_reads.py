"""Whether a template reads `.Host` is decided from the compiled template, not its text;
so is whether a driver or prefix renders once per task or once per host."""

from __future__ import annotations

import pytest
from essh.planner import make_plan
from essh.planner.gotemplate import compile as compile_template
from hypothesis import given, settings
from hypothesis import strategies as st
from resolve_build import config, driver, host, task

WEB = [host("web-1", "web"), host("web-2", "web")]


@pytest.mark.parametrize(
    "source",
    [
        "{{.Host.Name}}",
        "{{$.Host.Name}}",
        '{{with index . "Host"}}{{.Name}}{{end}}',
        "{{with .}}{{.Host.Name}}{{end}}",
        "{{with $}}{{with .Host}}{{.Name}}{{end}}{{end}}",
        "{{$d := .}}{{$d.Host.Name}}",
        "{{$d := $}}{{with $d}}{{.Host}}{{end}}",
        "{{range $k, $v := .}}{{$v}}{{end}}",
        "{{.}}",
        '{{printf "%v" .}}',
        "{{if .}}x{{end}}",
        "{{. | print}}",
        '{{template "leak" .}}',
        "{{range .Scripts}}{{$.Host.Name}}{{end}}",
        "{{if .Task}}{{else}}{{with .}}{{.Host}}{{end}}{{end}}",
    ],
)
def test_templates_that_may_read_the_host(source):
    assert compile_template(source, templates={"leak": "{{.Host.Name}}"}).may_read("Host")


@pytest.mark.parametrize(
    "source",
    [
        "plain text",
        '{{template "environment" .}}set -e\n{{range .Scripts}}{{.code}}\n{{end}}',
        "{{.Task.Name}} {{$.Task.Name}} {{.Driver.Props.x}}",
        '{{with .Task}}{{.Name}}{{with .Props}}{{index . "Host"}}{{end}}{{end}}',  # the task's, not the data's
        "{{range $i, $s := .Scripts}}{{$i}}: {{$s.code}} {{.description}}{{end}}",
        '{{$t := .Task}}{{$t.Name}}{{printf "%s" $t.Name}}',
        '{{template "quiet" .}}',
        '{{/* .Host is only mentioned in a comment */}}{{"{{.Host}}"}}',
    ],
)
def test_templates_that_cannot_read_the_host(source):
    assert not compile_template(source, templates={"environment": "", "quiet": "{{.Task.Name}}"}).may_read("Host")


@pytest.mark.parametrize("engine", ['{{with index . "Host"}}{{.Name}}{{end}}', "{{$h := .Host}}{{$h.Name}}"])
def test_a_driver_reading_the_host_any_way_renders_per_host(engine):
    plan = make_plan(config(WEB, [task("a", targets=["web"], driver="d")], [driver("d", engine)]), ["a"], essh_version="t")
    assert plan.scripts == ("web-1", "web-2")


def test_a_prefix_reading_the_host_any_way_renders_per_host():
    prefix = '{{with index . "Host"}}{{.Name}}{{end}} |'
    plan = make_plan(config(WEB, [task("a", targets=["web"], prefix=prefix)]), ["a"], essh_version="t")
    assert [s.prefix for s in plan.steps] == ["web-1 |", "web-2 |"]


def test_a_driver_that_mentions_host_only_in_text_renders_once():
    engine = '# .Host is not read here\n{{range .Scripts}}{{.code}}{{end}}'
    plan = make_plan(config(WEB, [task("a", "x", targets=["web"], driver="d")], [driver("d", engine)]), ["a"], essh_version="t")
    assert plan.scripts == ("# .Host is not read here\nx",)


# Property: when the analysis says a template cannot read Host, no Host changes what it renders.

_VALUES = [".", "$", ".Task", ".Host", "$.Host", '(index . "Host")', ".Args", "$d", '(index $ "Task")']
_LEAVES = [
    "x", "{{.Name}}", "{{.Task.Name}}", "{{.Host.Name}}", "{{$.Host.Name}}", "{{.}}", "{{$}}", "{{$d}}",
    '{{printf "%v" .}}', "{{len .Args}}", '{{template "host" .}}', '{{template "task" .}}', "{{$d.Host}}",
]


def _templates(children):
    value = st.sampled_from(_VALUES)
    return st.one_of(
        st.tuples(children, children).map("".join),
        st.tuples(value, children).map(lambda p: f"{{{{with {p[0]}}}}}{p[1]}{{{{end}}}}"),
        st.tuples(value, children, children).map(lambda p: f"{{{{if {p[0]}}}}}{p[1]}{{{{else}}}}{p[2]}{{{{end}}}}"),
        st.tuples(value, children).map(lambda p: f"{{{{range {p[0]}}}}}{p[1]}{{{{end}}}}"),
        st.tuples(value, children).map(lambda p: f"{{{{$d := {p[0]}}}}}{p[1]}"),
    )


TEMPLATES = st.recursive(st.sampled_from(_LEAVES), _templates, max_leaves=6).map(lambda body: "{{$d := .Task}}" + body)
NAMED = {"environment": "", "host": "{{with .Host}}{{.Name}}{{end}}", "task": "{{.Task.Name}}"}
HOSTS = [None, {"Name": "h1", "Tags": ["a"]}, {"Name": "h2", "Tags": []}]


def _outcome(template, host_value):
    try:
        return "ok", template.render({"Task": {"Name": "t"}, "Args": ["1"], "Host": host_value})
    except Exception as exc:  # a template failing for one host and not another also depends on it
        return "error", str(exc)


@settings(max_examples=400, deadline=None)
@given(TEMPLATES)
def test_a_template_said_not_to_read_host_renders_the_same_for_every_host(source):
    template = compile_template(source, templates=NAMED)
    outcomes = {_outcome(template, h) for h in HOSTS}
    if not template.may_read("Host"):
        assert len(outcomes) == 1, (source, outcomes)


@settings(max_examples=200, deadline=None)
@given(TEMPLATES.filter(lambda source: "Host" not in source and "{{." + "}}" not in source))
def test_host_free_templates_render_once(source):
    """Precision: fragments that only take other fields of the data are not mistaken for reads."""
    template = compile_template(source, templates=NAMED)
    uses_whole_data = any(v in source for v in ("{{$}}", 'printf "%v" .}}', "with .}}", "with $}}", "range .}}",
                                                "range $}}", "if .}}", "if $}}", 'template "host" .', "index .",
                                                "index $", "$d := .}}", "$d := $}}"))
    if not uses_whole_data:
        assert not template.may_read("Host"), source
