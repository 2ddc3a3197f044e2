"""ssh_config options of a plan host mapped onto asyncssh's connection arguments (no network)."""

from __future__ import annotations

import socket

import pytest

from essh.schema.ssh_options import APPLIED_SSH_OPTIONS, unapplied_ssh_options

from essh.executor.errors import SshOptionError
from essh.executor.ssh_options import IGNORED, connect_spec
from essh.schema import Host


def spec_of(*options: tuple[str, str]):
    return connect_spec(Host(name="web-1", ssh_options=tuple(options)))


def test_common_options_map_onto_asyncssh():
    spec = spec_of(
        ("Ciphers", "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com"),
        ("Compression", "yes"),
        ("ConnectTimeout", "7"),
        ("ForwardAgent", "yes"),
        ("HostName", "10.0.0.5"),
        ("IdentityFile", "~/.ssh/a"),
        ("IdentityFile", "/keys/b"),
        ("Port", "2222"),
        ("ProxyJump", "jump@bastion:22"),
        ("ServerAliveCountMax", "3"),
        ("ServerAliveInterval", "15"),
        ("User", "deploy"),
        ("UserKnownHostsFile", "/k/one /k/two"),
    )
    assert (spec.name, spec.host) == ("web-1", "10.0.0.5")
    assert spec.strict == "yes"
    kw = spec.kwargs
    assert kw["port"] == 2222 and kw["username"] == "deploy"
    assert kw["client_keys"][1] == "/keys/b" and not kw["client_keys"][0].startswith("~")
    assert kw["tunnel"] == "jump@bastion:22"
    assert kw["connect_timeout"] == 7.0
    assert (kw["keepalive_interval"], kw["keepalive_count_max"]) == (15.0, 3)
    assert kw["encryption_algs"] == ["aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"]
    assert kw["agent_forwarding"] is True
    assert "zlib@openssh.com" in kw["compression_algs"]
    assert kw["known_hosts"] == ["/k/one", "/k/two"] == spec.known_hosts_files
    assert "agent_identities" not in kw


def test_defaults_leave_ssh_config_and_known_hosts_to_asyncssh():
    spec = spec_of()
    assert spec.host == "web-1"  # the essh name is the ssh name when no HostName is given
    assert spec.kwargs == {}  # everything from ~/.ssh/config, the agent and ~/.ssh/known_hosts
    assert spec.known_hosts_files[0].endswith("/.ssh/known_hosts")


def test_identities_only_restricts_agent_keys(monkeypatch):
    monkeypatch.setenv("SSH_AUTH_SOCK", "/run/agent.sock")
    kw = spec_of(("IdentitiesOnly", "yes"), ("IdentityFile", "/keys/a")).kwargs
    assert kw["agent_identities"] == ["/keys/a"] == kw["client_keys"]
    monkeypatch.delenv("SSH_AUTH_SOCK")
    assert "agent_identities" not in spec_of(("IdentitiesOnly", "yes"), ("IdentityFile", "/keys/a")).kwargs
    with_agent = spec_of(("IdentitiesOnly", "yes"), ("IdentityFile", "/keys/a"), ("IdentityAgent", "/a.sock")).kwargs
    assert with_agent["agent_identities"] == ["/keys/a"]


@pytest.mark.parametrize(
    ("value", "strict", "verifies"),
    [("yes", "yes", True), ("ask", "yes", True), ("no", "no", False), ("accept-new", "accept-new", True)],
)
def test_strict_host_key_checking(value, strict, verifies):
    spec = spec_of(("StrictHostKeyChecking", value))
    assert spec.strict == strict
    assert (spec.kwargs.get("known_hosts", ()) is not None) == verifies


def test_none_values_and_address_family():
    kw = spec_of(("AddressFamily", "inet6"), ("ProxyCommand", "none"), ("IdentityAgent", "none")).kwargs
    assert kw == {"family": socket.AF_INET6, "proxy_command": None, "agent_path": None}


def test_ignored_keywords_are_accepted():
    assert spec_of(*[(keyword, "yes") for keyword in sorted(IGNORED)]).kwargs == {}


def test_keywords_essh_does_not_apply_are_left_out_as_the_plan_warned():
    assert unapplied_ssh_options(["RequestTTY", "LocalForward", "Port", "loglevel"]) == ["LocalForward", "RequestTTY"]
    assert spec_of(("RequestTTY", "yes"), ("LocalForward", "8080 localhost:80")).kwargs == {}


def test_the_executor_applies_every_keyword_the_schema_says_it_does(monkeypatch):
    monkeypatch.setenv("SSH_AUTH_SOCK", "/nonexistent/agent.sock")  # IdentitiesOnly matters with an agent
    samples = {"addressfamily": "inet", "bindaddress": "127.0.0.1", "stricthostkeychecking": "yes",
               "compression": "yes", "forwardagent": "yes", "identitiesonly": "yes", "port": "22",
               "pubkeyauthentication": "yes", "passwordauthentication": "no", "tcpkeepalive": "yes",
               "kbdinteractiveauthentication": "no", "connecttimeout": "5", "serveraliveinterval": "5",
               "serveralivecountmax": "3", "ciphers": "aes128-ctr", "macs": "hmac-sha2-256",
               "kexalgorithms": "curve25519-sha256", "hostkeyalgorithms": "ssh-ed25519", "setenv": "A=b"}
    for keyword in APPLIED_SSH_OPTIONS:
        value = samples.get(keyword.lower(), "x")
        default = spec_of()
        spec = spec_of((keyword, value))
        changed = spec.kwargs != default.kwargs or spec.host != default.host or spec.strict != "yes" or keyword == "StrictHostKeyChecking"
        assert changed, f"{keyword} is listed as applied but changes nothing"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (("Port", "ssh"), "Port 'ssh' must be a number"),
        (("ForwardAgent", "maybe"), "must be yes or no"),
        (("StrictHostKeyChecking", "sometimes"), "is not a valid value"),
        (("Ciphers", "+aes128-ctr"), "plain comma-separated list"),
        (("AddressFamily", "ipx"), "must be any, inet or inet6"),
        (("HostName", "web 1\nUser root"), "must be a host name or address"),
    ],
)
def test_bad_options_are_refused_naming_host_and_option(option, message):
    with pytest.raises(SshOptionError, match=message) as caught:
        spec_of(option)
    text = str(caught.value)
    assert text.startswith("host web-1: ssh option ") and "\n" not in text


def test_percent_tokens_are_expanded_as_openssh_does():
    spec = spec_of(
        ("HostName", "10.1.2.3"),
        ("IdentityFile", "%d/.ssh/id_%n_%r"),
        ("Port", "2200"),
        ("ProxyCommand", "connect-via bastion %h %p 100%%"),
        ("User", "deploy"),
    )
    assert spec.kwargs["proxy_command"] == "connect-via bastion 10.1.2.3 2200 100%"
    assert spec.kwargs["client_keys"][0].endswith("/.ssh/id_web-1_deploy")
    assert not spec.kwargs["client_keys"][0].startswith("%")
    with pytest.raises(SshOptionError, match="unknown %-token %Z"):
        spec_of(("ProxyCommand", "nc %Z"))
