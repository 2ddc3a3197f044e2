"""Checking and converting the plain values a Lua table exported (see `lua_prelude`).

Every checker takes the value, a label saying which property it is
("task 'deploy': timeout") and the Source to blame, and raises a one-line
ConfigError saying what was expected and what was found.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .env import env_name_problem
from .hints import did_you_mean
from .model import ConfigError, Source

FUNCTION = "\u0000fn"
BAD = "\u0000bad"
SECRET = "\u0000secret"  # essh.secret("NAME") -> {SECRET: "NAME"}
_PROP_NAME = re.compile(r"[A-Za-z0-9_]+\Z")


def describe(value: Any) -> str:
    """How a Lua user would call this value: 'a string', 'a table', 'a function'."""
    if isinstance(value, dict):
        if FUNCTION in value:
            return "a function"
        if SECRET in value:
            return "a secret (essh.secret)"
        if BAD in value:
            return str(value[BAD])
        return "a table"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list" if value else "an empty table"
    return "nil"


def fail(label: str, expected: str, value: Any, where: Source) -> ConfigError:
    if isinstance(value, str) and len(value) <= 40:
        import json  # only for this message

        return ConfigError(f"{label} must be {expected}, got a string ({json.dumps(value)})", where)  # escaped, quoted
    shown = f" ({value!r})" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    return ConfigError(f"{label} must be {expected}, got {describe(value)}{shown}", where)


def is_function(value: Any) -> bool:
    return isinstance(value, dict) and FUNCTION in value


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def string(value: Any, label: str, where: Source) -> str:
    if not isinstance(value, str):
        raise fail(label, "a string", value, where)
    return value


def boolean(value: Any, label: str, where: Source) -> bool:
    if not isinstance(value, bool):
        raise fail(label, "true or false", value, where)
    return value


def string_list(value: Any, label: str, where: Source) -> list[str]:
    """A string or a list of strings, as a list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise fail(label, "a string or a list of strings", value, where)


def scalar_text(value: Any) -> str | None:
    """A string, number or boolean as text (Lua's tostring); None for anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


def secret_name(value: Any) -> str | None:
    """The name in an `essh.secret("NAME")` value, else None."""
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SECRET), str):
        return value[SECRET]
    return None


def env_map(value: Any, label: str, where: Source) -> tuple[dict[str, str], dict[str, str]]:
    """A task's `env`: (variable -> text, variable -> secret name), each sorted by variable."""
    return _with_secrets(value, label, where, env=True)


def props_map(value: Any, label: str, where: Source) -> tuple[dict[str, str], dict[str, str]]:
    """A host's `props`: (name -> text, name -> secret name), each sorted by name."""
    return _with_secrets(value, label, where, env=False)


def _with_secrets(value: Any, label: str, where: Source, *, env: bool) -> tuple[dict[str, str], dict[str, str]]:
    if isinstance(value, dict) and FUNCTION not in value and BAD not in value and SECRET not in value:
        secrets = {k: secret_name(x) for k, x in value.items() if secret_name(x) is not None}
        plain = {k: x for k, x in value.items() if k not in secrets}
    else:
        secrets, plain = {}, value
    texts = text_map(plain if plain != {} else [], label, where, env=env)
    for key in secrets:
        problem = env_name_problem(key) if env else (None if _PROP_NAME.match(key) else "is not a valid name (letters, digits and _)")
        if problem:
            raise ConfigError(f"{label}: {key!r} {problem}", where)
    return texts, {k: secrets[k] for k in sorted(secrets)}  # type: ignore[misc]


def text_map(value: Any, label: str, where: Source, *, env: bool = False) -> dict[str, str]:
    """A table of name = string/number/boolean, sorted by name.

    Names must fit in an environment variable: a whole name when `env` (see
    `env.env_name_problem`), else a suffix (ESSH_..._PROPS_<NAME>).
    """
    if value == []:
        return {}
    if not isinstance(value, dict) or FUNCTION in value or BAD in value:
        raise fail(label, "a table of name = value", value, where)
    result: dict[str, str] = {}
    for key in sorted(value):
        if env:
            problem = env_name_problem(key)
            if problem:
                raise ConfigError(f"{label}: {key!r} {problem}", where)
        elif not _PROP_NAME.match(key):
            raise ConfigError(f"{label}: {key!r} is not a valid name (letters, digits and _)", where)
        text = scalar_text(value[key])
        if text is None:
            raise fail(f"{label}.{key}", "a string, number or boolean", value[key], where)
        result[key] = text
    return result


def positive_number(value: Any, label: str, where: Source) -> float:
    if not is_number(value) or not math.isfinite(value) or not 0 < value <= 10**9:
        raise fail(label, "a positive number of seconds (at most 10^9)", value, where)
    return float(value)


# Counts (retries, parallel) beyond this mean nothing and would not fit the plan file.
MAX_COUNT = 1_000_000


def whole_number(value: Any, label: str, where: Source, *, minimum: int) -> int:
    if is_number(value) and math.isfinite(value) and float(value).is_integer() and minimum <= value <= MAX_COUNT:
        return int(value)
    words = f"a whole number from {minimum} to {MAX_COUNT:,}"
    raise fail(label, words, value, where)


def unknown_key(label: str, key: str, known: list[str], where: Source, *, list_known: bool = False) -> ConfigError:
    """An unknown property, with the closest known one (and, if asked, all of them)."""
    hint = did_you_mean(key, known)
    if list_known:
        hint += f" (known: {', '.join(known)})"
    return ConfigError(f"{label}: unknown property {key!r}{hint}", where)
