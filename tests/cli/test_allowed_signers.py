"""allowed_signers lines as OpenSSH writes them, and the refusals of essh's trust policy without a server."""

from __future__ import annotations

import calendar
import time

import pytest

from essh.allowed_signers import AllowedSignersError, parse_allowed_signers

KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIGOqJiVMVkQ8QUb+TJ4lwGaDeoaLa6tJGiL4+/y7gVtE"


def test_lines_with_options_patterns_and_comments():
    signers = parse_allowed_signers(
        "# comment\n\n"
        f'alice@example.com,*@ops.example.com namespaces="essh-plan,git" ssh-ed25519 {KEY} laptop\n'
        f'bob valid-after="20240101",valid-before="202501021030Z" ssh-ed25519 {KEY}\n'
        f"carol ssh-ed25519 {KEY}\n"
    )
    alice, bob, carol = signers
    assert alice.names("dave@ops.example.com") and not alice.names("dave@example.com")
    assert alice.allows_namespace("essh-plan") and not alice.allows_namespace("file")
    assert bob.valid_before == calendar.timegm((2025, 1, 2, 10, 30, 0, 0, 0, 0))
    assert bob.valid_after == time.mktime((2024, 1, 1, 0, 0, 0, 0, 0, -1))
    assert carol.namespaces is None and carol.line == 5


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("alice", "expected: principals"),
        (f"alice ssh-rsa {KEY}", "not of type ssh-rsa"),
        ("alice ssh-ed25519 !!!", "not valid base64"),
        (f"alice cert-authority ssh-ed25519 {KEY}", "cert-authority"),
        (f'alice valid-before="2024" ssh-ed25519 {KEY}', "is not a time"),
        (f'alice frobnicate ssh-ed25519 {KEY}', "unknown option"),
    ],
)
def test_bad_lines_say_where_and_why(line, words):
    with pytest.raises(AllowedSignersError, match=rf"^signers:1: .*{words}"):
        parse_allowed_signers(line + "\n", "signers")
