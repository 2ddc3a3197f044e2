"""The Python half of ESSH's `re`, `template` and `yaml` Lua libraries (lua_libs/*.lua).

Lua calls these with strings and gets strings back: plain data only (JSON,
numbers), never a Python object. Each answer starts with "+" (then the
result), "-" (then one line saying what is wrong) or "!" (then one line: a
limit below was reached, which the library raises as an error at the
caller's line); they never raise, since Lua would be handed the exception
object.

The work here is outside lupa's memory cap on Lua (`lua_limits`), so each
result is bounded: `re` returns at most `MAX_SPANS` matches and captures
per call, a YAML document converts to at most `MAX_YAML_VALUES` values and
`MAX_YAML_BYTES` bytes of text (its aliases expanded), and a template
renders at most `gotemplate.MAX_OUTPUT` bytes.

- `re`: RE2 (google-re2), the regular expression syntax of Go's `regexp`
  that ESSH's gluare uses. RE2 runs in time linear in the input, so no pattern
  backtracks catastrophically; a call is still under the planner's CPU limit
  and watchdog (`lua_limits`). Offsets are bytes, 1-based, as Lua's.
- `template`: Go's text/template, by essh's own `gotemplate` (gluatemplate's
  `dostring`/`dofile`), with ESSH's template functions.
- `yaml`: PyYAML's `safe_load`/`safe_dump` (no Python object is ever built or
  written); values that are not JSON's (dates, binary) become strings.
"""

from __future__ import annotations

import datetime
import functools
import json
from typing import Any

MAX_PATTERN = 64 * 1024  # bytes of a pattern; RE2's own memory cap bounds the compiled program
MAX_SPANS = 1_000_000  # matches plus captures one `re` call may return (each is two offsets)
MAX_YAML_VALUES = 1_000_000  # values (scalars, lists, mappings) of one parsed YAML document, aliases expanded
MAX_YAML_BYTES = 64 * 2**20  # bytes of text (strings, keys) of one parsed YAML document, aliases expanded


class LimitError(Exception):
    """A bound on the work done here (outside Lua's memory cap) was reached: raised in Lua."""


def _answer(fn):
    @functools.wraps(fn)
    def guarded(*args: Any) -> str:
        try:
            return "+" + fn(*args)
        except LimitError as exc:
            return "!" + str(exc)
        except MemoryError:
            return "!out of memory"
        except Exception as exc:  # one line for the configuration's error
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return "-" + text

    return guarded


@functools.lru_cache(maxsize=256)
def _regex(pattern: bytes):
    import re2

    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"a pattern may hold {MAX_PATTERN} bytes")
    options = re2.Options()
    options.max_mem = 8 << 20
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raise ValueError(f"bad regular expression: {exc}") from None


@_answer
def re_scan(pattern: str, subject: str, init: int, limit: int) -> str:
    """Matches of `pattern` in `subject` from byte `init` (1-based), at most `limit` (< 0: all):
    JSON [[start, end, cap1start, cap1end, ...], ...], 1-based inclusive starts and
    exclusive ends in bytes; an unmatched group is [0, 0]. At most `MAX_SPANS` matches and
    captures in all (LimitError past that)."""
    regex = _regex(_bytes(pattern))
    data = _bytes(subject)
    pos = max(int(init) - 1, 0)
    per_match = regex.groups + 1
    most = MAX_SPANS // per_match  # matches that fit the bound
    found: list[str] = []  # each match's JSON text: far smaller than lists of ints
    while pos <= len(data) and (limit < 0 or len(found) < limit):
        match = regex.search(data, pos)
        if match is None:
            break
        if len(found) >= most:
            raise LimitError(f"over {MAX_SPANS} matches and captures in one call "
                             f"(a pattern with {regex.groups} groups may match {most} times)")
        spans = [match.span()] + [match.span(i) for i in range(1, per_match)]
        found.append("[" + ",".join(f"{start + 1},{end + 1}" if start >= 0 else "0,0" for start, end in spans) + "]")
        start, end = match.span()
        pos = end + 1 if end == start else end  # an empty match moves on by one byte
    return "[" + ",".join(found) + "]"


@_answer
def re_quote(text: str) -> str:
    import re2

    return re2.escape(_bytes(text)).decode("utf-8", "surrogateescape")


def _bytes(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")


@_answer
def template_render(source: str, data_json: str) -> str:
    """A Go text/template rendered with the values (JSON of a Lua table)."""
    from .gotemplate import TemplateError, render
    from .template_funcs import FUNCS, TEMPLATES

    data = json.loads(data_json) if data_json else None
    try:
        return render(source, data, templates=TEMPLATES, funcs=FUNCS)
    except TemplateError as exc:
        raise ValueError(f"template: {exc}") from None


@_answer
def yaml_parse(text: str) -> str:
    """The first YAML document of `text` as JSON (safe_load: plain data only)."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(" ".join(str(exc).split())) from None
    return json.dumps(_Plain().convert(value), sort_keys=True)


@_answer
def yaml_dump(data_json: str) -> str:
    """JSON (of a Lua value) as YAML, keys sorted (safe_dump)."""
    import yaml

    return yaml.safe_dump(json.loads(data_json), sort_keys=True, default_flow_style=False, allow_unicode=True)


class _Plain:
    """What YAML built, as JSON's values: mapping keys as strings, dates and bytes as text.

    safe_load shares one object for every alias of an anchor, so a small document can
    stand for a huge tree ("billion laughs"); converting it expands every alias, so the
    values and the bytes of text converted are counted against MAX_YAML_VALUES and
    MAX_YAML_BYTES, and a node containing itself is refused.
    """

    def __init__(self) -> None:
        self.values = 0
        self.bytes = 0
        self.open: set[int] = set()  # ids of the lists and mappings being converted

    def _count(self, size: int) -> None:
        self.values += 1
        self.bytes += size
        if self.values > MAX_YAML_VALUES:
            raise LimitError(f"the document holds more than {MAX_YAML_VALUES} values (aliases expanded)")
        if self.bytes > MAX_YAML_BYTES:
            raise LimitError(f"the document holds more than {MAX_YAML_BYTES // 2**20} MiB of text (aliases expanded)")

    def convert(self, value: Any) -> Any:
        if isinstance(value, (dict, list, tuple, set)):
            self._count(0)
            if id(value) in self.open:
                raise ValueError("a node contains itself (a recursive alias)")
            self.open.add(id(value))
            try:
                if isinstance(value, dict):
                    return {self.key(k): self.convert(v) for k, v in value.items()}
                return [self.convert(v) for v in value]
            finally:
                self.open.discard(id(value))
        if isinstance(value, (datetime.date, datetime.datetime)):
            value = value.isoformat()
        elif isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            value = str(value)  # JSON has no NaN nor infinity
        self._count(len(value) if isinstance(value, str) else 8)
        return value

    def key(self, key: Any) -> str:
        if isinstance(key, bool):
            return "true" if key else "false"
        if isinstance(key, str):
            self._count(len(key))
            return key
        return str(self.convert(key))


def helpers() -> dict[str, Any]:
    """The functions handed to the libraries through the prelude."""
    return {
        "re_scan": re_scan,
        "re_quote": re_quote,
        "template_render": template_render,
        "yaml_parse": yaml_parse,
        "yaml_dump": yaml_dump,
    }
