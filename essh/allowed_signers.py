"""OpenSSH's allowed_signers file (ssh-keygen(1), ALLOWED SIGNERS): the same file git uses.

    principals [options] keytype base64-key [comment]

`principals`: comma-separated names or patterns (`*`, `?`). Options, comma
separated: `namespaces="a,b"` (patterns too), `valid-after="T"` and
`valid-before="T"` with T as YYYYMMDD[HHMM[SS]] in local time, or UTC with a
trailing Z; `cert-authority` (certificate signers) is refused, essh verifies
plain keys only. Blank lines and lines starting with `#` are skipped.
"""

from __future__ import annotations

import base64
import calendar
import re
import time

import msgspec

_TIME = re.compile(r"(\d{8})(\d{4}(\d{2})?)?(Z?)\Z")


class AllowedSignersError(ValueError):
    """The file cannot be read or a line is not in the format (file:line: why)."""


class AllowedSigner(msgspec.Struct, frozen=True):
    principals: tuple[str, ...]
    public_key: bytes  # SSH wire form
    namespaces: tuple[str, ...] | None = None  # None: every namespace
    valid_after: float | None = None
    valid_before: float | None = None
    line: int = 0

    def allows_namespace(self, namespace: str) -> bool:
        return self.namespaces is None or matches_pattern_list(namespace, self.namespaces)

    def names(self, principal: str) -> bool:
        return matches_pattern_list(principal, self.principals)


def matches_pattern_list(text: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """OpenSSH's pattern lists (match_pattern_list): `*` and `?` wildcards only; a `!pattern` that matches
    refuses whatever else matches; otherwise any plain pattern that matches accepts."""
    accepted = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if _pattern(pattern[1:]).fullmatch(text):
                return False
        elif _pattern(pattern).fullmatch(text):
            accepted = True
    return accepted


def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def read_allowed_signers(path: str) -> list[AllowedSigner]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise AllowedSignersError(f"cannot read allowed signers file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_allowed_signers(text, path)


def parse_allowed_signers(text: str, path: str = "allowed_signers") -> list[AllowedSigner]:
    signers = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            signers.append(_parse_line(line, number))
        except ValueError as exc:
            raise AllowedSignersError(f"{path}:{number}: {exc}") from None
    return signers


def _parse_line(line: str, number: int) -> AllowedSigner:
    principals, rest = _next_token(line)
    options: dict[str, str | None] = {}
    token, after = _next_token(rest)
    if not _looks_like_key_type(token):
        options = _parse_options(token)
        token, after = _next_token(after)
    key_type = token
    key_text, _comment = _next_token(after)
    if not key_type or not key_text:
        raise ValueError("expected: principals [options] keytype base64-key")
    try:
        blob = base64.b64decode(key_text, validate=True)
    except ValueError:
        raise ValueError("the public key is not valid base64") from None
    if not blob.startswith(len(key_type).to_bytes(4, "big") + key_type.encode()):
        raise ValueError(f"the public key is not of type {key_type}")
    if "cert-authority" in options:
        raise ValueError("cert-authority signers are not supported by essh; list the signers' keys")
    unknown = sorted(set(options) - {"namespaces", "valid-after", "valid-before"})
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r}")
    namespaces = options.get("namespaces")
    return AllowedSigner(
        principals=tuple(p for p in principals.split(",") if p),
        public_key=blob,
        namespaces=tuple(namespaces.split(",")) if namespaces is not None else None,
        valid_after=_timestamp(options["valid-after"]) if "valid-after" in options else None,
        valid_before=_timestamp(options["valid-before"]) if "valid-before" in options else None,
        line=number,
    )


def _next_token(text: str) -> tuple[str, str]:
    """The first whitespace-separated token (double quotes keep spaces), and the rest."""
    text = text.lstrip()
    i, quoted = 0, False
    while i < len(text) and (quoted or not text[i].isspace()):
        if text[i] == '"':
            quoted = not quoted
        i += 1
    if quoted:
        raise ValueError("unbalanced double quote")
    return text[:i], text[i:]


def _looks_like_key_type(token: str) -> bool:
    return token.startswith(("ssh-", "ecdsa-", "sk-", "rsa-"))


def _parse_options(token: str) -> dict[str, str | None]:
    options: dict[str, str | None] = {}
    for part in re.findall(r'(?:[^,"]|"[^"]*")+', token):
        name, eq, value = part.partition("=")
        name = name.lower()
        if eq:
            if len(value) < 2 or value[0] != '"' or value[-1] != '"':
                raise ValueError(f"option {name} needs a quoted value")
            options[name] = value[1:-1]
        else:
            options[name] = None
    return options


def _timestamp(value: str | None) -> float:
    m = _TIME.match(value or "")
    if not m:
        raise ValueError(f"{value!r} is not a time (YYYYMMDD[HHMM[SS]][Z])")
    text = m.group(1) + (m.group(2) or "0000") + ("" if m.group(3) else "00")
    try:
        parts = time.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        raise ValueError(f"{value!r} is not a time (YYYYMMDD[HHMM[SS]][Z])") from None
    return float(calendar.timegm(parts)) if m.group(4) else time.mktime(parts)
