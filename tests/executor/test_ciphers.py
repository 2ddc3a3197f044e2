"""The default cipher order: AES-GCM first where the CPU has AES; an explicit Ciphers still wins."""

from __future__ import annotations

import asyncssh
from asyncssh.encryption import get_default_encryption_algs

from essh.executor.ciphers import aes_first, cpu_has_aes, prefer_aes_gcm


def test_aes_flag_read_from_cpuinfo():
    assert cpu_has_aes("processor: 0\nflags\t\t: fpu sse2 aes avx\n")
    assert cpu_has_aes("Features\t: fp asimd aes pmull sha1\n")
    assert not cpu_has_aes("flags\t\t: fpu sse2 avx\n")
    assert not cpu_has_aes("")


def test_aes_gcm_moves_to_the_front_and_nothing_is_lost():
    algs = [b"chacha20-poly1305@openssh.com", b"aes256-gcm@openssh.com", b"aes128-gcm@openssh.com", b"aes128-ctr"]
    assert aes_first(algs) == [b"aes128-gcm@openssh.com", b"aes256-gcm@openssh.com", b"chacha20-poly1305@openssh.com", b"aes128-ctr"]
    assert aes_first([b"aes128-ctr"]) == [b"aes128-ctr"]


def test_only_the_default_changes_and_ciphers_still_wins():
    before = list(get_default_encryption_algs())
    try:
        assert not prefer_aes_gcm(has_aes=False)
        assert get_default_encryption_algs() == before
        assert prefer_aes_gcm(has_aes=True)
        assert get_default_encryption_algs()[0] == b"aes128-gcm@openssh.com"
        assert sorted(get_default_encryption_algs()) == sorted(before)
        chosen = asyncssh.SSHClientConnectionOptions(encryption_algs=["chacha20-poly1305@openssh.com"], config=[])
        assert chosen.encryption_algs == [b"chacha20-poly1305@openssh.com"]
        default = asyncssh.SSHClientConnectionOptions(config=[])
        assert default.encryption_algs[0] == b"aes128-gcm@openssh.com"
    finally:
        get_default_encryption_algs()[:] = before
