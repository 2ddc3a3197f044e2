"""The Python half of ESSH's `re`, `template` and `yaml` Lua libraries (lua_libs/*.lua).

Lua calls these with strings and gets strings back: plain data only (JSON,
numbers), never a Python object. Each answer starts with "+" (then the
result) or "-" (then one line saying what is wrong); they never raise, since
Lua would be handed the exception object.

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


def _answer(fn):
    @functools.wraps(fn)
    def guarded(*args: Any) -> str:
        try:
            return "+" + fn(*args)
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
    exclusive ends in bytes; an unmatched group is [0, 0]."""
    regex = _regex(_bytes(pattern))
    data = _bytes(subject)
    pos = max(int(init) - 1, 0)
    found: list[list[int]] = []
    while pos <= len(data) and (limit < 0 or len(found) < limit):
        match = regex.search(data, pos)
        if match is None:
            break
        spans = [match.span()] + [match.span(i) for i in range(1, regex.groups + 1)]
        found.append([n for start, end in spans for n in ((start + 1, end + 1) if start >= 0 else (0, 0))])
        start, end = match.span()
        pos = end + 1 if end == start else end  # an empty match moves on by one byte
    return json.dumps(found)


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
    return json.dumps(_plain(value), sort_keys=True)


@_answer
def yaml_dump(data_json: str) -> str:
    """JSON (of a Lua value) as YAML, keys sorted (safe_dump)."""
    import yaml

    return yaml.safe_dump(json.loads(data_json), sort_keys=True, default_flow_style=False, allow_unicode=True)


def _plain(value: Any) -> Any:
    """What YAML built, as JSON's values: mapping keys as strings, dates and bytes as text."""
    if isinstance(value, dict):
        return {_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)  # JSON has no NaN nor infinity
    return value


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return key if isinstance(key, str) else str(_plain(key))


def helpers() -> dict[str, Any]:
    """The functions handed to the libraries through the prelude."""
    return {
        "re_scan": re_scan,
        "re_quote": re_quote,
        "template_render": template_render,
        "yaml_parse": yaml_parse,
        "yaml_dump": yaml_dump,
    }
