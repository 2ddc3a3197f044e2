"""The Go text/template subset that drivers and prefixes use, with Go's output."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from essh.planner.gotemplate import NO_VALUE, TemplateError, compile, render

SCRIPTS = [{"code": "echo aaa", "description": "output aaa"}, {"code": "echo bbb", "description": ""}]

# ESSH's built-in driver and the custom driver of its drivers.md, as documented.
BUILTIN_DRIVER = """{{template "environment" .}}
{{range $i, $script := .Scripts}}{{$script.code}}
{{end}}"""

MY_DRIVER = """
        {{template "environment" .}}

        set -e
        {{range $i, $script := .Scripts -}}
        echo '==> step {{$i}}:{{if $script.description}} {{$script.description}}{{end}}'
        {
            {{$script.code}}
        } | indent; __essh_exit_status=${PIPESTATUS[0]}
        if [ $__essh_exit_status -ne 0 ]; then
            exit $__essh_exit_status
        fi
        {{end}}
"""


def test_builtin_driver_concatenates_scripts():
    assert render(BUILTIN_DRIVER, {"Scripts": SCRIPTS}) == "\necho aaa\necho bbb\n"


def test_builtin_driver_with_an_environment_template():
    env = "export ESSH_TASK_NAME='{{.Task.Name}}'"
    out = render(BUILTIN_DRIVER, {"Scripts": SCRIPTS[:1], "Task": {"Name": "example"}}, templates={"environment": env})
    assert out == "export ESSH_TASK_NAME='example'\necho aaa\n"


def test_custom_driver_of_the_docs():
    out = render(MY_DRIVER, {"Scripts": SCRIPTS})
    assert "echo '==> step 0: output aaa'\n        {\n            echo aaa\n" in out
    assert "echo '==> step 1:'\n" in out
    # `{{range ... -}}` ate the indentation before the first step only.
    assert "set -e\n        echo '==> step 0" in out


def test_essh_default_prefix_with_a_function():
    names = ["web-1", "db-100"]
    width = max(map(len, names))
    template = compile(
        '[remote:{{.Host.Name}}]{{HostnameAlignString " "}}',
        funcs={"HostnameAlignString": lambda pad: pad * 0},
    )
    assert template.render({"Host": {"Name": "web-1"}}) == "[remote:web-1]"
    aligned = compile(
        "[{{.Host.Name}}]{{pad .Host.Name}} ",
        funcs={"pad": lambda name: " " * (width - len(name))},
    )
    assert [aligned.render({"Host": {"Name": n}}) for n in names] == ["[web-1]  ", "[db-100] "]


@pytest.mark.parametrize(
    "source, data, expected",
    [
        ("{{.}}", "x", "x"),
        ("{{.}}|{{.A}}", None, "<no value>|<no value>"),
        ("{{.A.B.C}}", {"A": {"B": {"C": "deep"}}}, "deep"),
        ("{{.missing}}", {}, "<no value>"),
        ("{{.a.b}}", {}, "<no value>"),
        ("{{.n}}|{{.t}}|{{.f}}|{{.z}}", {"n": None, "t": True, "f": False, "z": 0}, "<nil>|true|false|0"),
        ("{{.l}} {{.m}}", {"l": [1, "a", [2]], "m": {"b": 2, "a": [1]}}, "[1 a [2]] map[a:[1] b:2]"),
        ("{{$}}", "root", "root"),
        ("{{$.A}}", {"A": 1}, "1"),
        ("{{with .A}}{{$.B}}{{end}}", {"A": 1, "B": 2}, "2"),
        ('{{"a\\tb\\u00e9"}}|{{`raw\\n`}}', {}, "a\tb\u00e9|raw\\n"),
        ("{{1}} {{-2}} {{0x1F}} {{1_000}} {{1.5}} {{1e6}} {{3.0}}", {}, "1 -2 31 1000 1.5 1e+06 3"),
        ("{{true}} {{false}} {{nil}}", {}, "true false <nil>"),
        ("{{$x := .A}}{{$x}}{{$x.B}}", {"A": {"B": "b"}}, "map[B:b]b"),
        ("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", {}, "21"),
        ("{{$z := 0}}{{$z}}", {}, "0"),
        ("{{range .L}}{{.}},{{end}}", {"L": ["a", "b"]}, "a,b,"),
        ("{{range $x := .L}}{{$x}}{{end}}", {"L": ("a", "b")}, "ab"),
        ("{{range $i, $x := .L}}{{$i}}={{$x}} {{end}}", {"L": ["a", "b"]}, "0=a 1=b "),
        ("{{range $k, $v := .M}}{{$k}}={{$v}} {{end}}", {"M": {"z": 1, "a": 2}}, "a=2 z=1 "),
        ("{{range .L}}x{{else}}empty{{end}}", {"L": []}, "empty"),
        ("{{range .missing}}x{{else}}none{{end}}", {}, "none"),
        ("{{range .L}}{{$.P}}{{.}} {{end}}", {"L": [1, 2], "P": "#"}, "#1 #2 "),
        ("{{if .A}}yes{{end}}", {"A": "x"}, "yes"),
        ("{{if .A}}yes{{else}}no{{end}}", {"A": ""}, "no"),
        ("{{if .missing}}yes{{else}}no{{end}}", {}, "no"),
        ("{{if .A}}a{{else if .B}}b{{else}}c{{end}}", {"A": 0, "B": [1]}, "b"),
        ("{{if .A}}a{{else if .B}}b{{else}}c{{end}}", {"A": 0, "B": []}, "c"),
        ("{{with .A}}{{.B}}{{else}}none{{end}}", {"A": {"B": "b"}}, "b"),
        ("{{with .A}}{{.B}}{{else}}none{{end}}", {"A": {}}, "none"),
        ("a  {{- .X -}}  b", {"X": "x"}, "axb"),
        ("a \n\t{{- .X}} \n", {"X": "x"}, "ax \n"),
        ("{{.X -}}\n\n  b", {"X": "x"}, "xb"),
        ("{{- 3}}{{-3}}", {}, "3-3"),
        ("a{{/* a comment */}}b", {}, "ab"),
        ("a \n {{- /* a\nmulti-line comment */ -}} \n b", {}, "ab"),
        ('{{template "t" .A}}', {"A": {"N": "n"}}, "[n]"),
        ('{{template "t"}}', {}, "[<no value>]"),
        ("{{not .A}} {{and 1 0}} {{or 0 2}} {{len .L}} {{index .L 1}} {{index .M \"k\"}}",
         {"A": "", "L": [5, 6], "M": {"k": "v"}}, "true 0 2 2 6 v"),
        ("{{eq .A 1}} {{eq .A 2 1}} {{ne .A 1}} {{lt 1 2}} {{ge 1 2}}", {"A": 1}, "true true false true false"),
        ('{{printf "%s-%05d-%q-%v-%x-%%" .S 42 "q" .L 255}}', {"S": "s", "L": [1]}, 's-00042-"q"-[1]-ff-%'),
        ('{{print "a" 1 2 "b"}}|{{println 1 "a"}}', {}, "a1 2b|1 a\n"),
        ('{{.S | printf "<%s>"}}|{{"x" | printf "%s%s" "y"}}', {"S": "s"}, "<s>|yx"),
        ("{{(len .L)}} {{printf \"%d\" (len .L)}}", {"L": [1, 2, 3]}, "3 3"),
    ],
)
def test_renders_like_go(source, data, expected):
    assert render(source, data, templates={"t": "[{{.N}}]"}) == expected


def test_objects_are_read_by_attribute():
    class Host:
        def __init__(self):
            self.Name = "web-1"

    assert render("{{.Host.Name}}", {"Host": Host()}) == "web-1"
    with pytest.raises(TemplateError, match="line 1: can't evaluate field Nope in type Host"):
        render("{{.Host.Nope}}", {"Host": Host()})


def test_missing_is_a_distinct_value():
    assert compile("{{.A}}").render({"A": NO_VALUE}) == "<no value>"
    assert not NO_VALUE


@pytest.mark.parametrize(
    "source, line, message",
    [
        ("{{.A", 1, "unclosed action"),
        ("a\n\n{{.A", 3, "unclosed action"),
        ("{{if .A}}\nx", 1, "{{if}} has no {{end}}"),
        ("x\n{{end}}", 2, "unexpected {{end}}"),
        ("{{else}}", 1, "unexpected {{else}}"),
        ('\n{{define "x"}}{{end}}', 2, "{{define}} is not supported"),
        ('{{block "x" .}}{{end}}', 1, "{{block}} is not supported"),
        ("{{range .L}}{{break}}{{end}}", 1, "{{break}} is not supported"),
        ("a\nb {{$x}}", 2, "undefined variable '$x'"),
        ("{{range $i := .L}}{{end}}{{$i}}", 1, "undefined variable '$i'"),
        ("{{if 1}}{{$v := 1}}{{end}}\n{{$v}}", 2, "undefined variable '$v'"),
        ("{{foo 1}}", 1, "function 'foo' not defined"),
        ('\n\n{{template "nope"}}', 3, "no such template 'nope'"),
        ("{{template .X}}", 1, "needs a quoted template name"),
        ("{{$x := 1}}{{$x = 2}}", 1, "assignment with = is not supported"),
        ("{{.A 1}}", 1, "can't give arguments to non-function .A"),
        ("{{1 | .A}}", 1, "non-function .A in pipeline"),
        ("{{}}", 1, "missing value for command"),
        ("{{/* open", 1, "unclosed comment"),
        ("{{/* c */ .A}}", 1, "comment ends before closing delimiter"),
        ("{{.A | }}", 1, "missing command in pipeline"),
        ("{{if .A}}{{else}}{{else}}{{end}}", 1, "expected {{end}} after {{else}}"),
        ("{{end x}}", 1, "unexpected {{end}}"),
        ("{{printf (len .L}}", 1, "unclosed left paren"),
        ("{{ # }}", 1, "unexpected '#' in action"),
    ],
)
def test_compile_errors_name_the_line(source, line, message):
    with pytest.raises(TemplateError) as info:
        compile(source)
    assert info.value.line == line
    assert message in info.value.message
    assert str(info.value) == f"line {line}: {info.value.message}"
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "source, data, message",
    [
        ("{{range .S}}{{end}}", {"S": "abc"}, "line 1: range can't iterate over abc"),
        ("\n{{.A.B}}", {"A": None}, "line 2: nil pointer evaluating .B"),
        ("{{index .L 5}}", {"L": [1]}, "line 1: error calling index: "),
        ('{{printf "%d" "x"}}', {}, "line 1: error calling printf: "),
        ("{{len .N}}", {"N": 3}, "line 1: error calling len: "),
    ],
)
def test_render_errors_name_the_line(source, data, message):
    with pytest.raises(TemplateError) as info:
        render(source, data)
    assert str(info.value).startswith(message)


def test_unknown_template_lists_the_known_ones():
    with pytest.raises(TemplateError, match=r"known: a, environment"):
        compile('{{template "b"}}', templates={"environment": "", "a": "x"})


def test_compiled_template_renders_many_times_independently():
    template = compile("{{range $i, $x := .L}}{{$x := .}}{{$i}}{{$x}}{{end}}")
    assert template.render({"L": ["a"]}) == "0a"
    assert template.render({"L": ["b", "c"]}) == "0b1c"


@given(st.text().filter(lambda s: "{{" not in s))
def test_text_without_actions_is_unchanged(text):
    assert render(text, {}) == text


@given(st.text())
def test_string_literals_render_as_written(text):
    assert render("{{" + json.dumps(text) + "}}", {}) == text


@given(st.lists(st.text(alphabet="abc {}\n", max_size=5), max_size=5))
def test_range_joins_items(items):
    assert render("{{range .L}}{{.}},{{end}}", {"L": items}) == "".join(f"{i}," for i in items)


@given(
    st.text(alphabet="ab", max_size=3),
    st.text(alphabet=" \t\r\n", max_size=4),
    st.text(alphabet=" \t\r\n", max_size=4),
    st.text(alphabet="ab", max_size=3),
)
def test_trim_markers_remove_all_adjacent_whitespace(left, space_left, space_right, right):
    source = left + space_left + "{{- .X -}}" + space_right + right
    assert render(source, {"X": "x"}) == left + "x" + right


@given(
    st.recursive(
        st.one_of(st.integers(), st.booleans(), st.none(), st.text(alphabet="ab ", max_size=3)),
        lambda inner: st.lists(inner, max_size=3),
        max_leaves=8,
    )
)
def test_values_print_like_go_fmt(value):
    def go(v):
        if v is None:
            return "<nil>"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + " ".join(go(x) for x in v) + "]"
        return str(v)

    assert render("{{.V}}", {"V": value}) == go(value)


@pytest.mark.parametrize(
    "value, text",
    [
        (1.5e6, "1.5e+06"),
        (1e21, "1e+21"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (100.0, "100"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.25, "-2.25"),
        (12345.678, "12345.678"),
        (0.0, "0"),
        (float("inf"), "+Inf"),
    ],
)
def test_floats_print_like_go(value, text):
    assert render("{{.}}", value) == text


def test_prefix_renders_in_microseconds():
    template = compile("[remote:{{.Host.Name}}]")
    data = {"Host": {"Name": "web-0001"}}
    n = 20_000
    best = float("inf")
    for _ in range(3):
        start = time.process_time()  # CPU time: other processes on a busy machine do not count
        for _ in range(n):
            template.render(data)
        best = min(best, (time.process_time() - start) / n)
    assert best < 5e-6, f"{best * 1e6:.2f} µs per render"


_PIECES = st.sampled_from(
    ["{{", "}}", "{{- ", " -}}", ".", ".A", ".A.B", "$", "$x", "$i", ":=", ",", "|", "(", ")", '"s"', "`r`", "1",
     "-2", "1.5", "if", "else", "end", "range", "with", "template", '"environment"', "len", "index", "printf",
     "not", "eq", "nil", "true", "/*", "*/", " ", "\n", "text", "'c'", "#", "`a\nb`", '"\\n"']
)
_DATA = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["A", "B"]), inner, max_size=2),
    max_leaves=6,
)


@settings(max_examples=500)
@given(st.lists(_PIECES, max_size=14).map("".join), _DATA)
def test_any_template_compiles_or_is_refused_and_renders_or_is_refused(source, data):
    try:
        template = compile(source)
    except TemplateError as exc:
        assert exc.line >= 1 and "\n" not in str(exc)
        return
    try:
        assert isinstance(template.render(data), str)
    except TemplateError as exc:
        assert exc.line >= 1 and "\n" not in str(exc)
