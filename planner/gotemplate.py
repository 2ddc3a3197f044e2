"""The part of Go's text/template that ESSH drivers and output prefixes use.

Parse once, render many: `compile(source)` returns a `Template` whose `render(data)`
only walks prepared closures, so a prefix like `[remote:{{.Host.Name}}]` renders
per host in about a microsecond.

Supported, with Go's meaning:
- text, `{{/* comments */}}`, trim markers `{{- ` and ` -}}`;
- `{{.}}`, `{{.Field.Sub}}`, `{{$}}`, `{{$var}}`, `{{$var.field}}`, `{{$x := pipeline}}`;
- string (`"..."`, raw `` `...` ``), number, `true`, `false` and `nil` literals;
- `{{if}}`/`{{else if}}`/`{{else}}`/`{{end}}`, `{{with}}`, `{{range}}` (lists,
  tuples, and mappings in sorted key order; `$i, $x :=` or `$x :=`; `{{else}}` when empty);
- `{{template "name" pipeline}}` from the `templates` given to `compile`;
- function calls and pipelines (`{{f .A "b" | g}}`), with Go's `and or not len
  index eq ne lt le gt ge print println printf` and the caller's `funcs`.

Data is mappings (field = key) or objects (field = public attribute). Like Go
with a `map[string]any`, a missing key renders as "<no value>" and is false in
`if`. Values print as Go's `fmt` does: `true`, `<nil>`, `[a b]`, `map[k:v]`.

Anything else (`define`, `block`, `break`, assignment with `=`, methods, ...)
is refused by `compile` with a `TemplateError` carrying the template's line.

A render's output may hold `MAX_OUTPUT` characters (64 Mi), and so may one function's
result (printf's width and precision are at most Go's 1,000,000): past that, a
`TemplateError` at the line being rendered. Three nested ranges over a long list
would otherwise build gigabytes (the Lua `template` library renders outside Lua's
memory cap).

What a template reads of its data is decided while compiling, from the parsed
template, never from its text: `Template.may_read("Host")` is False only when
no evaluation can reach the data's `Host` field. The data itself (the dot at the
top, `$`, a variable or `with` dot holding it) may only be used to take a named
field; any other use (printing it, a function or `index` call on it, `range`
over it, a test of it, a nested template that uses it so) counts as reading
every field. The answer errs only on the side of "may read".
"""

from __future__ import annotations

import bisect
import decimal
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

__all__ = ["DEFAULT_TEMPLATES", "MAX_OUTPUT", "NO_VALUE", "DataFunction", "Template", "TemplateError", "compile", "render"]

MAX_OUTPUT = 64 * 2**20  # characters one render may output (and one function call return)

# ESSH's driver templates start with `{{template "environment" .}}`. essh exports the
# environment itself (essh.schema.command), so by default that template is empty.
DEFAULT_TEMPLATES: Mapping[str, str] = {"environment": ""}


class TemplateError(Exception):
    """A template that cannot be compiled or rendered: what is wrong, at which line."""

    def __init__(self, message: str, line: int) -> None:
        # One line, whatever the template or a called function put in the message.
        message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        super().__init__(message, line)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class _Missing:
    """A missing map key, like Go's invalid value: prints "<no value>", is false."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE = _Missing()

_BUDGET = " output"  # the key of a render's budget in its variables (no variable can be named so)


# A render's budget is a list [characters it may still output, its limit]. Every character is
# charged once, where it is produced (text, a printed value), so the charge is the output's
# length whatever the nesting; the emitters charge inline (a prefix renders in a microsecond).


def _over(budget: list, line: int) -> None:
    limit = _size(budget[1])
    raise TemplateError(f"the output is over {limit} (a template may render {limit})", line)


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n} characters"

# Evaluators take (dot, variables) and return a value; emitters return text.
Eval = Callable[[Any, dict], Any]


class Template:
    """A compiled template; `render(data)` may be called any number of times."""

    __slots__ = ("_emit", "_reads", "source")

    def __init__(self, source: str, emit: Callable[[Any, dict], str], reads: frozenset[str] | None = None) -> None:
        self.source = source
        self._emit = emit
        self._reads = reads  # the data's fields it may read; None: any of them

    def may_read(self, field: str) -> bool:
        """Whether rendering may read the data's top-level `field` (see the module's docstring)."""
        return self._reads is None or field in self._reads

    def render(self, data: Any, *, max_output: int = MAX_OUTPUT) -> str:
        """The template's text for `data` (the dot and `$`); None is Go's nil data.

        Past `max_output` characters of output, a TemplateError."""
        dot = NO_VALUE if data is None else data
        return self._emit(dot, {"$": dot, _BUDGET: [max_output, max_output]})


def compile(
    source: str,
    *,
    templates: Mapping[str, str] | None = None,
    funcs: Mapping[str, Callable[..., Any]] | None = None,
) -> Template:
    """Parse `source`; `templates` are the names `{{template}}` may call
    (default `DEFAULT_TEMPLATES`), `funcs` extra functions by name."""
    named = DEFAULT_TEMPLATES if templates is None else templates
    all_funcs = {**_BUILTINS, **(funcs or {})}
    registry: dict[str, Callable[[Any, dict], str]] = {}
    reads: dict[str, frozenset[str] | None] = {}  # per named template, when handed the data
    for name in sorted(named):
        parser = _Parser(named[name], all_funcs, registry, named, reads)
        registry[name] = parser.parse()
        reads[name] = parser.reads
    parser = _Parser(source, all_funcs, registry, named, reads)
    emit = parser.parse()
    return Template(source, emit, parser.reads)


def render(
    source: str,
    data: Any,
    *,
    templates: Mapping[str, str] | None = None,
    funcs: Mapping[str, Callable[..., Any]] | None = None,
) -> str:
    """Compile `source` and render it once with `data`."""
    return compile(source, templates=templates, funcs=funcs).render(data)


# --- lexing ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
    | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<string>"(?:[^"\\\n]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<number>[-+]?(?:0[xX][0-9a-fA-F_]+|(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9_]+)?))
    | (?P<dot>\.)
    | (?P<declare>:=)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<punct>[|(),=])
    """,
    re.VERBOSE,
)
_SPACE = re.compile(r"[ \t\r\n]*")
_TRIM = " \t\r\n"


class _Token:
    __slots__ = ("kind", "text", "line")

    def __init__(self, kind: str, text: str, line: int) -> None:
        self.kind, self.text, self.line = kind, text, line


class _Action:
    """The tokens of one `{{...}}`."""

    __slots__ = ("tokens", "line")

    def __init__(self, tokens: list[_Token], line: int) -> None:
        self.tokens, self.line = tokens, line


def _lex(source: str) -> list[str | _Action]:
    """Text pieces (already trimmed) and actions, in order."""
    newlines = [i for i, c in enumerate(source) if c == "\n"]

    def line_at(pos: int) -> int:
        return bisect.bisect_right(newlines, pos - 1) + 1

    items: list[str | _Action] = []
    pos, trim_next = 0, False
    while True:
        start = source.find("{{", pos)
        text = source[pos:] if start < 0 else source[pos:start]
        if trim_next:
            text = text.lstrip(_TRIM)
        if start < 0:
            if text:
                items.append(text)
            return items
        pos = start + 2
        if source.startswith("-", pos) and source[pos + 1 : pos + 2] in (" ", "\t", "\r", "\n"):
            text = text.rstrip(_TRIM)
            pos += 1
        if text:
            items.append(text)
        line = line_at(start)
        pos = _SPACE.match(source, pos).end()
        if source.startswith("/*", pos):
            end = source.find("*/", pos + 2)
            if end < 0:
                raise TemplateError("unclosed comment", line)
            pos, trim_next = _comment_end(source, end + 2, line)
            continue
        tokens: list[_Token] = []
        while True:
            before = pos
            pos = _SPACE.match(source, pos).end()
            if source.startswith("-}}", pos) and pos > before:
                pos, trim_next = pos + 3, True
                break
            if source.startswith("}}", pos):
                pos, trim_next = pos + 2, False
                break
            m = _TOKEN.match(source, pos)
            if m is None:
                what = source[pos : pos + 1] or "end of template"
                raise TemplateError(f"unexpected {what!r} in action (unclosed action?)", line_at(pos))
            tokens.append(_Token(m.lastgroup, m.group(), line_at(pos)))
            pos = m.end()
        if not tokens:
            raise TemplateError("missing value for command", line)
        items.append(_Action(tokens, line))


def _comment_end(source: str, pos: int, line: int) -> tuple[int, bool]:
    """After `*/`: the position after `}}` and whether it trims what follows."""
    if source.startswith("}}", pos):
        return pos + 2, False
    if source.startswith(" -}}", pos):
        return pos + 4, True
    raise TemplateError("comment ends before closing delimiter", line)


# --- parsing to closures --------------------------------------------------------------------

_KEYWORDS = frozenset({"if", "else", "end", "range", "with", "template", "define", "block", "break", "continue"})


class _Parser:
    """Turns the lexed items into one emitter closure, checking names as it goes.

    It also follows where the data (the root dot) can flow: expressions are
    parsed into (evaluator, holds_data) pairs, `holds_data` being True when the
    value may be the data itself; `reads` collects the data's fields taken.
    """

    def __init__(self, source, funcs, registry, named, named_reads) -> None:
        self.items = _lex(source)
        self.i = 0
        self.funcs = funcs
        self.registry = registry
        self.named = named
        self.named_reads: Mapping[str, frozenset[str] | None] = named_reads
        self.scopes: list[dict[str, bool]] = [{"$": True}]  # variable -> may hold the data
        self.dot_holds_data = True
        self._reads: set[str] | None = set()
        self.line = 1  # the line of the last action read (text is charged to the output there)

    @property
    def reads(self) -> frozenset[str] | None:
        """The data's fields the template may read; None when it may read any."""
        return None if self._reads is None else frozenset(self._reads)

    def _read_field(self, name: str) -> None:
        if self._reads is not None:
            self._reads.add(name)

    def _use(self, holds_data: bool) -> None:
        """A value used other than by taking a field: if it may be the data, anything may be read."""
        if holds_data:
            self._reads = None

    def _holds_data(self, variable: str) -> bool:
        return any(scope.get(variable, False) for scope in self.scopes)

    def parse(self) -> Callable[[Any, dict], str]:
        emit, stop = self._list()
        if stop is not None:
            raise TemplateError(f"unexpected {{{{{stop.tokens[0].text}}}}}", stop.line)
        return emit

    def _list(self) -> tuple[Callable[[Any, dict], str], _Action | None]:
        """Items up to `{{else}}`/`{{end}}` (returned) or the end of the template (None)."""
        parts: list[Any] = []
        line = self.line  # where this list's text is (its last action's line, for the output limit)
        while self.i < len(self.items):
            item = self.items[self.i]
            self.i += 1
            if isinstance(item, str):
                parts.append(item)
                continue
            first = item.tokens[0]
            self.line = line = item.line
            if first.kind == "ident" and first.text in ("else", "end"):
                return _join(parts, line), item
            parts.append(self._action(item))
        return _join(parts, line), None

    def _block(self, opener: _Action) -> tuple[Callable, _Action]:
        """A block body in its own variable scope, and the action that ended it."""
        self.scopes.append({})
        try:
            emit, stop = self._list()
        finally:
            declared = self.scopes.pop()
        if stop is None:
            keyword = opener.tokens[0].text
            raise TemplateError(f"unexpected end of template: {{{{{keyword}}}}} has no {{{{end}}}}", opener.line)
        if declared:
            inner = emit

            def emit(dot, variables, inner=inner):
                return inner(dot, dict(variables))

        return emit, stop

    def _action(self, action: _Action) -> Any:
        first = action.tokens[0]
        if first.kind == "ident" and first.text in _KEYWORDS:
            keyword = first.text
            if keyword == "if":
                return self._if(action, action.tokens[1:])
            if keyword == "with":
                return self._with(action)
            if keyword == "range":
                return self._range(action)
            if keyword == "template":
                return self._template(action)
            raise TemplateError(f"{{{{{keyword}}}}} is not supported", first.line)
        value, holds_data = self._pipeline(action.tokens, action.line, declare=True)
        tokens = action.tokens
        if tokens[0].kind == "var" and len(tokens) >= 2 and tokens[1].kind == "declare":

            def declare(dot, variables):
                value(dot, variables)
                return ""  # a declaration prints nothing

            return declare
        self._use(holds_data)
        line = action.line

        def emit(dot, variables):
            text = _text(value(dot, variables))
            budget = variables[_BUDGET]
            budget[0] -= len(text)
            if budget[0] < 0:
                _over(budget, line)
            return text

        return emit

    def _if(self, action: _Action, cond_tokens: list[_Token]) -> Callable:
        cond = self._used_pipeline(cond_tokens, action.line)
        then, stop = self._block(action)
        otherwise = self._else(stop, chain="if")

        def emit(dot, variables):
            return then(dot, variables) if _truth(cond(dot, variables)) else otherwise(dot, variables)

        return emit

    def _else(self, stop: _Action, chain: str | None) -> Callable:
        """After a body ended by `stop`: the else branch (an `else if` chain too), or nothing."""
        if stop.tokens[0].text == "end":
            _only(stop, 1)
            return _nothing
        rest = stop.tokens[1:]
        if rest and chain and rest[0].kind == "ident" and rest[0].text == chain:
            return self._if(stop, rest[1:])
        _only(stop, 1)
        otherwise, end = self._block(stop)
        if end.tokens[0].text != "end":
            raise TemplateError("expected {{end}} after {{else}}", end.line)
        _only(end, 1)
        return otherwise

    def _with(self, action: _Action) -> Callable:
        value, holds_data = self._pipeline(action.tokens[1:], action.line)
        outer_dot, self.dot_holds_data = self.dot_holds_data, holds_data
        try:
            body, stop = self._block(action)
        finally:
            self.dot_holds_data = outer_dot
        otherwise = self._else(stop, chain=None)

        def emit(dot, variables):
            v = value(dot, variables)
            return body(v, variables) if _truth(v) else otherwise(dot, variables)

        return emit

    def _range(self, action: _Action) -> Callable:
        tokens = action.tokens[1:]
        names: list[str] = []
        if len(tokens) >= 2 and tokens[0].kind == "var" and tokens[1].kind == "declare":
            names, tokens = [tokens[0].text], tokens[2:]
        elif len(tokens) >= 4 and tokens[0].kind == "var" and tokens[1].text == "," and tokens[2].kind == "var":
            if tokens[3].kind != "declare":
                raise TemplateError("range can only declare variables with :=", action.line)
            names, tokens = [tokens[0].text, tokens[2].text], tokens[4:]
        if any("." in name for name in names):
            raise TemplateError("range declares variables, not fields", action.line)
        items = self._used_pipeline(tokens, action.line)  # the elements of non-data are not the data
        self.scopes.append(dict.fromkeys(names, False))
        outer_dot, self.dot_holds_data = self.dot_holds_data, False
        try:
            body, stop = self._block(action)
        finally:
            self.scopes.pop()
            self.dot_holds_data = outer_dot
        otherwise = self._else(stop, chain=None)
        line = action.line

        def emit(dot, variables):
            pairs = _range_pairs(items(dot, variables), line)
            if not pairs:
                return otherwise(dot, variables)
            scope = dict(variables)
            out = []
            for key, value in pairs:
                if len(names) == 1:
                    scope[names[0]] = value
                elif names:
                    scope[names[0]], scope[names[1]] = key, value
                out.append(body(value, scope))
            return "".join(out)

        return emit

    def _template(self, action: _Action) -> Callable:
        tokens = action.tokens
        if len(tokens) < 2 or tokens[1].kind not in ("string", "raw"):
            raise TemplateError("{{template}} needs a quoted template name", action.line)
        name = _literal(tokens[1])
        if name not in self.named:
            known = ", ".join(sorted(self.named)) or "none"
            raise TemplateError(f"no such template {name!r} (known: {known})", action.line)
        value, holds_data = self._pipeline(tokens[2:], action.line) if len(tokens) > 2 else (_constant(NO_VALUE), False)
        if holds_data:
            # The named template gets the data: it reads what it reads of its own dot (unknown
            # when it is not compiled yet, as for a template calling itself).
            named_reads = self.named_reads.get(name)
            if named_reads is None:
                self._use(True)
            else:
                for field in named_reads:
                    self._read_field(field)
        registry = self.registry

        def emit(dot, variables):
            target = registry[name]
            v = value(dot, variables)
            return target(v, {"$": v, _BUDGET: variables[_BUDGET]})

        return emit

    # Pipelines: [$x :=] command | command ...; a command is operands, a call when it starts with a function.
    def _used_pipeline(self, tokens: list[_Token], line: int) -> Eval:
        """A pipeline whose value is used (tested, iterated), not only a field of it taken."""
        value, holds_data = self._pipeline(tokens, line)
        self._use(holds_data)
        return value

    def _pipeline(self, tokens: list[_Token], line: int, declare: bool = False) -> tuple[Eval, bool]:
        """The pipeline's evaluator, and whether its value may be the data."""
        if not tokens:
            raise TemplateError("missing value for command", line)
        target = None
        if len(tokens) >= 2 and tokens[0].kind == "var" and tokens[1].kind in ("declare", "punct"):
            if tokens[1].kind == "declare" and declare and "." not in tokens[0].text:
                target, tokens = tokens[0].text, tokens[2:]
            elif tokens[1].text == "=":
                raise TemplateError("assignment with = is not supported; declare with :=", line)
        commands: list[list[_Token]] = [[]]
        depth = 0
        for token in tokens:
            if token.kind == "punct" and token.text == "|" and depth == 0:
                commands.append([])
                continue
            if token.kind == "punct" and token.text in "()":
                depth += 1 if token.text == "(" else -1
            commands[-1].append(token)
        first, holds_data = self._command(commands[0], line, piped=False)
        rest = [self._command(command, line, piped=True)[0] for command in commands[1:]]
        if rest:
            self._use(holds_data)  # handed to a function
            holds_data = False
        if target is not None:
            scope = self.scopes[-1]
            scope[target] = scope.get(target, False) or holds_data
        if not rest and target is None:
            return first, holds_data

        def run(dot, variables):
            value = first(dot, variables)
            for call in rest:
                value = call(dot, variables, value)
            if target is not None:
                variables[target] = value
            return value

        return run, holds_data

    def _command(self, tokens: list[_Token], line: int, piped: bool) -> tuple[Callable, bool]:
        if not tokens:
            raise TemplateError("missing command in pipeline", line)
        first = tokens[0]
        if first.kind == "ident" and first.text not in ("true", "false", "nil"):
            if first.text in _KEYWORDS:
                raise TemplateError(f"unexpected {first.text!r} in pipeline", first.line)
            fn = self._function(first)
            args = self._operands(tokens[1:], line)
            for _, holds_data in args:
                self._use(holds_data)
            return _call(first.text, fn, [arg for arg, _ in args], first.line), False
        operands = self._operands(tokens, line)
        if len(operands) != 1:
            raise TemplateError(f"can't give arguments to non-function {first.text}", first.line)
        if piped:
            raise TemplateError(f"non-function {first.text} in pipeline", first.line)
        return operands[0]

    def _function(self, token: _Token) -> Callable[..., Any]:
        fn = self.funcs.get(token.text)
        if fn is None:
            raise TemplateError(f"function {token.text!r} not defined", token.line)
        for name in getattr(fn, "reads", ()):
            self._read_field(name)
        return fn

    def _operands(self, tokens: list[_Token], line: int) -> list[tuple[Eval, bool]]:
        operands: list[tuple[Eval, bool]] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token.kind == "punct" and token.text == "(":
                depth, j = 1, i + 1
                while j < len(tokens) and depth:
                    if tokens[j].text in "()" and tokens[j].kind == "punct":
                        depth += 1 if tokens[j].text == "(" else -1
                    j += 1
                if depth:
                    raise TemplateError("unclosed left paren", token.line)
                operands.append(self._pipeline(tokens[i + 1 : j - 1], token.line))
                i = j
                continue
            operands.append(self._operand(token))
            i += 1
        return operands

    def _operand(self, token: _Token) -> tuple[Eval, bool]:
        kind, text = token.kind, token.text
        if kind == "dot":
            return _dot, self.dot_holds_data
        if kind == "field":
            names = text[1:].split(".")
            if self.dot_holds_data:
                self._read_field(names[0])
            return _field_chain(None, names, token.line), False
        if kind == "var":
            name, _, path = text.partition(".")
            if not any(name in scope for scope in self.scopes):
                raise TemplateError(f"undefined variable {name!r}", token.line)
            holds_data = self._holds_data(name)
            if path and holds_data:
                self._read_field(path.split(".")[0])
            return _field_chain(name, path.split(".") if path else [], token.line), holds_data and not path
        if kind in ("string", "raw", "number"):
            return _constant(_literal(token)), False
        if kind == "ident" and text in ("true", "false", "nil"):
            return _constant({"true": True, "false": False, "nil": None}[text]), False
        if kind == "ident":
            return _call(text, self._function(token), [], token.line), False
        raise TemplateError(f"unexpected {text!r} in operand", token.line)


def _only(action: _Action, n: int) -> None:
    if len(action.tokens) != n:
        raise TemplateError(f"unexpected {action.tokens[n].text!r} in {{{{{action.tokens[0].text}}}}}", action.line)


def _join(parts: list[Any], line: int) -> Callable[[Any, dict], str]:
    """The parts' texts in order; the text parts' length is charged to the output (actions charge their own)."""
    parts = [p for p in parts if p != ""]
    if not parts:
        return _nothing
    size = sum(len(p) for p in parts if isinstance(p, str))
    if len(parts) == 1:
        only = parts[0]
        if not isinstance(only, str):
            return only

        def constant(dot, variables):
            budget = variables[_BUDGET]
            budget[0] -= size
            if budget[0] < 0:
                _over(budget, line)
            return only

        return constant
    texts = tuple(parts)

    def emit(dot, variables):
        if size:
            budget = variables[_BUDGET]
            budget[0] -= size
            if budget[0] < 0:
                _over(budget, line)
        return "".join([p if p.__class__ is str else p(dot, variables) for p in texts])

    return emit


def _nothing(dot, variables) -> str:
    return ""


def _dot(dot, variables):
    return dot


def _constant(value: Any) -> Eval:
    return lambda dot, variables: value


_NOTHING_PIPED = object()  # a call that is not part of a pipeline gets no extra argument


class DataFunction(msgspec.Struct, frozen=True):
    """A template function that also takes the template's data (`$`) as its first argument.

    `reads` names the data's fields it takes, so `Template.may_read` stays exact
    (ESSH's `HostnameAlignString` reads `.Host` without naming it).
    """

    fn: Callable[..., Any]
    reads: frozenset[str]


def _call(name: str, fn: Callable[..., Any], args: list[Eval], line: int):
    def call(dot, variables, piped=_NOTHING_PIPED):
        values = [a(dot, variables) for a in args]
        if isinstance(fn, DataFunction):
            return _call(name, fn.fn, [lambda d, v: v["$"], *args], line)(dot, variables, piped)
        if piped is not _NOTHING_PIPED:
            values.append(piped)
        try:
            result = fn(*values)
        except TemplateError:
            raise
        except Exception as exc:  # the caller's function failed: say which and where
            raise TemplateError(f"error calling {name}: {exc}", line) from None
        if result.__class__ is str and len(result) > variables[_BUDGET][1]:
            limit = _size(variables[_BUDGET][1])
            raise TemplateError(f"error calling {name}: its result is over {limit} (a template may render {limit})", line)
        return result

    return call


def _field_chain(var: str | None, names: list[str], line: int) -> Eval:
    """An evaluator for `.A.B` (from the dot) or `$v.A.B` (from a variable)."""
    if var is None and len(names) == 1:
        (name,) = names

        def get(dot, variables):
            if dot.__class__ is dict:
                return dot.get(name, NO_VALUE)
            return _field(dot, name, line)

        return get
    if var is None and len(names) == 2:
        first, second = names

        def get(dot, variables):
            if dot.__class__ is dict:
                inner = dot.get(first, NO_VALUE)
                if inner.__class__ is dict:
                    return inner.get(second, NO_VALUE)
                return _field(inner, second, line)
            return _field(_field(dot, first, line), second, line)

        return get

    def get(dot, variables):
        value = dot if var is None else variables[var]
        for name in names:
            value = _field(value, name, line)
        return value

    return get


def _field(value: Any, name: str, line: int) -> Any:
    if isinstance(value, Mapping):
        return value.get(name, NO_VALUE)
    if value is NO_VALUE:
        return NO_VALUE
    if value is None:
        raise TemplateError(f"nil pointer evaluating .{name}", line)
    if name.startswith("_") or not hasattr(value, name):
        raise TemplateError(f"can't evaluate field {name} in type {type(value).__name__}", line)
    return getattr(value, name)


def _range_pairs(value: Any, line: int) -> list[tuple[Any, Any]]:
    if value is None or value is NO_VALUE:
        return []
    if isinstance(value, Mapping):
        return [(k, value[k]) for k in sorted(value)]
    if isinstance(value, (list, tuple)):
        return list(enumerate(value))
    raise TemplateError(f"range can't iterate over {_text(value)}", line)


def _truth(value: Any) -> bool:
    return bool(value)


def _literal(token: _Token) -> Any:
    text = token.text
    if token.kind == "raw":
        return text[1:-1]
    if token.kind == "string":
        try:
            return json.loads(text)
        except ValueError:
            raise TemplateError(f"bad string literal {text}", token.line) from None
    digits = text.replace("_", "")
    try:
        if re.fullmatch(r"[-+]?0[xX][0-9a-fA-F]+", digits):
            return int(digits, 16)
        if re.fullmatch(r"[-+]?[0-9]+", digits):
            return int(digits)
        return float(digits)
    except ValueError:
        raise TemplateError(f"bad number syntax: {text!r}", token.line) from None


def _text(value: Any) -> str:
    """`value` as Go's fmt prints it with %v."""
    if value.__class__ is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "<nil>"
    if value is NO_VALUE:
        return "<no value>"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{_text(k)}:{_text(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_text(v) for v in value) + "]"
    return str(value)


def _go_float(value: float) -> str:
    """Go's %v for a float64 (strconv's shortest 'g'): exponent form when the
    exponent is below -4 or at least max(6, digits) (digits if they reach the point)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign, digit_tuple, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # where the decimal point falls in `digits`
    exp = point - 1
    eprec = len(digits) if 6 > len(digits) >= point else 6
    prefix = "-" if sign else ""
    if exp < -4 or exp >= eprec:
        frac = "." + digits[1:] if len(digits) > 1 else ""
        return f"{prefix}{digits[0]}{frac}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


# --- Go's built-in functions ----------------------------------------------------------------


def _and(*args):
    for arg in args:
        if not _truth(arg):
            return arg
    return args[-1]


def _or(*args):
    for arg in args:
        if _truth(arg):
            return arg
    return args[-1]


def _index(item, *keys):
    for key in keys:
        try:
            item = item[key]
        except (KeyError, IndexError, TypeError):
            if isinstance(item, Mapping):
                item = NO_VALUE
            else:
                raise ValueError(f"error calling index: index {_text(key)} out of range") from None
    return item


def _joined(texts: list[str], sep: str = "") -> str:
    """The texts joined, refused before they are when the result would be over MAX_OUTPUT."""
    if sum(map(len, texts)) + len(sep) * len(texts) > MAX_OUTPUT:
        raise ValueError(f"the result would be over {_size(MAX_OUTPUT)}")
    return sep.join(texts)


def _print(*args) -> str:
    # Go's Sprint adds spaces only between operands when neither is a string.
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(_text(arg))
    return _joined(out)


def _println(*args) -> str:
    return _joined([_text(a) for a in args], " ") + "\n"


_VERB = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d+))?([vsdqxXfeEgGtc%])")
_MAX_WIDTH = 1_000_000  # Go's fmt refuses a larger width or precision (%!(BADWIDTH))


def _printf(fmt: str, *args) -> str:
    values = iter(args)
    size = [len(fmt)]  # the result's length so far, at most: refused past MAX_OUTPUT

    def one(m: re.Match) -> str:
        text = verb_text(m)
        size[0] += len(text)
        if size[0] > MAX_OUTPUT:
            raise ValueError(f"the result would be over {_size(MAX_OUTPUT)}")
        return text

    def verb_text(m: re.Match) -> str:
        flags, width, precision, verb = m.groups()
        if verb == "%":
            return "%"
        if len(width) > 7 or (width and int(width) > _MAX_WIDTH):
            raise ValueError(f"width {width} is over {_MAX_WIDTH}")
        if precision is not None and (len(precision) > 7 or int(precision) > _MAX_WIDTH):
            raise ValueError(f"precision {precision} is over {_MAX_WIDTH}")
        value = next(values, None)
        if verb in "vst":
            text = _text(value)
            if precision is not None and verb == "s":
                text = text[: int(precision)]
            return f"%{flags}{width}s" % text
        if verb == "q":
            return f"%{flags}{width}s" % json.dumps(_text(value), ensure_ascii=False)
        if verb == "c":
            return chr(value)
        spec = f"%{flags}{width}" + (f".{precision}" if precision is not None else "") + verb
        return spec % value

    try:
        return _VERB.sub(one, fmt)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad printf arguments: {exc}") from None


_BUILTINS: Mapping[str, Callable[..., Any]] = {
    "and": _and,
    "or": _or,
    "not": lambda a: not _truth(a),
    "len": len,
    "index": _index,
    "eq": lambda a, *bs: any(a == b for b in bs),
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "print": _print,
    "println": _println,
    "printf": _printf,
}
