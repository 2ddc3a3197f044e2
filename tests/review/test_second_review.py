"""Second review: defects found in the fixes made after the first review.

Each test states the behaviour essh should have; they were strict xfails until
the fixes landed. SSH tests use the real sshd fleet from tests/sshd.py, with
HOME pointed at a scratch directory.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from harness import NONCE, Capture, run_on, step
import trio.testing

from essh.executor.bridge import run
from essh.executor.errors import HostUnreachable
from essh.executor.ssh_pool import SshTransport
from essh.schema import Host


def _sink() -> Capture:
    return Capture()


def _run_on(hosts: list[Host], index: int, *, max_connections: int = 4, seconds: float = 20) -> int:
    async def main() -> int:
        async with SshTransport(hosts, max_connections=max_connections, nonce=NONCE) as pool:
            with trio.fail_after(seconds):
                return await run_on(pool, index, *step(["true"]), _sink())

    return run(main)


def _without(host: Host, *keys: str) -> Host:
    return Host(name=host.name, ssh_options=tuple((k, v) for k, v in host.ssh_options if k not in keys))


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


# --- host keys ---------------------------------------------------------------


@pytest.mark.sshd
def test_accept_new_refuses_a_changed_key_when_the_port_comes_from_ssh_config(sshd, home, tmp_path):
    port = sshd.port("web-1")
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line("web-1", sshd.new_key("impostor")))  # the recorded key differs
    (home / ".ssh" / "config").write_text(f"Host webx\n  Port {port}\n")
    base = sshd.schema_host("web-1", UserKnownHostsFile=str(known), StrictHostKeyChecking="accept-new")
    host = Host(name="webx", ssh_options=_without(base, "Port").ssh_options)
    with pytest.raises(HostUnreachable, match="does not match|accept-new is not applied because ~/.ssh/config sets port"):
        _run_on([host], 0)


@pytest.mark.sshd
def test_accept_new_steps_back_for_a_known_hosts_file_set_in_an_included_config(sshd, home, tmp_path):
    elsewhere = tmp_path / "elsewhere_known_hosts"
    elsewhere.write_text(sshd.known_hosts_line("web-1", sshd.new_key("impostor")))
    (home / ".ssh" / "included.conf").write_text(f"Host *\n  UserKnownHostsFile {elsewhere}\n")
    (home / ".ssh" / "config").write_text(f"Include {home}/.ssh/included.conf\n")
    host = _without(sshd.schema_host("web-1", StrictHostKeyChecking="accept-new"), "UserKnownHostsFile")
    with pytest.raises(HostUnreachable):
        _run_on([host], 0)


# --- ProxyJump -----------------------------------------------------------------


def _bastion_and_inner(sshd) -> tuple[Host, Host]:
    inner_port = sshd.port("web-2")
    bastion = sshd.schema_host("bastion", Port=str(sshd.port("web-1")))
    inner = sshd.schema_host(
        "inner", Port=str(inner_port), ProxyJump="bastion", HostKeyAlias=f"[127.0.0.1]:{inner_port}"
    )
    return bastion, inner


@pytest.mark.sshd
def test_proxy_jump_runs_with_one_connection_allowed(sshd, home):
    bastion, inner = _bastion_and_inner(sshd)
    assert _run_on([bastion, inner], 1, max_connections=1, seconds=10) == 0


@pytest.mark.sshd
def test_proxy_jump_runs_with_two_connections_allowed(sshd, home):
    bastion, inner = _bastion_and_inner(sshd)
    assert _run_on([bastion, inner], 1, max_connections=2) == 0


@pytest.mark.sshd
def test_a_jump_chain_is_not_a_loop_while_its_middle_host_connects(sshd, home):
    p1, p2 = sshd.port("web-1"), sshd.port("web-2")
    b = sshd.schema_host("b", Port=str(p1))
    a = sshd.schema_host("a", Port=str(p2), ProxyJump="b", HostKeyAlias=f"[127.0.0.1]:{p2}")
    c = sshd.schema_host("c", Port=str(p1), ProxyJump="a", HostKeyAlias=f"[127.0.0.1]:{p1}")

    async def main() -> dict[int, int | str]:
        results: dict[int, int | str] = {}
        async with SshTransport([a, b, c], max_connections=10, nonce=NONCE) as pool:

            async def one(index: int) -> None:
                try:
                    results[index] = await run_on(pool, index, *step(["true"]), _sink())
                except HostUnreachable as exc:
                    results[index] = exc.reason

            async with trio.open_nursery() as nursery:
                nursery.start_soon(one, 0)
                await trio.testing.wait_all_tasks_blocked()  # a is now waiting for b's connection
                nursery.start_soon(one, 2)
        return results

    assert run(main) == {0: 0, 2: 0}


# --- keys ----------------------------------------------------------------------


@pytest.mark.sshd
def test_identities_only_never_offers_an_unnamed_default_key(sshd, home, tmp_path):
    shutil.copy(sshd.key_path, home / ".ssh" / "id_ed25519")  # authorized, but not the key the plan names
    named = tmp_path / "encrypted_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(named)], check=True)
    host = sshd.schema_host("web-1", IdentityFile=str(named), IdentitiesOnly="yes")
    with pytest.raises(HostUnreachable, match="authentication failed"):
        _run_on([host], 0)


# --- CLI -----------------------------------------------------------------------


def _essh(cwd: Path, *args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESSH_", "SOURCE_DATE_EPOCH"))}
    env.update(HOME=str(cwd / "home"), XDG_STATE_HOME=str(cwd / "state"))
    (cwd / "home").mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "essh", *args], cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE,
        text=True, stdin=subprocess.DEVNULL, timeout=120,
    )


@pytest.fixture
def workspace(tmp_path) -> Path:
    (tmp_path / ".esshconfig.lua").write_text(
        'host "web" { HostName = "127.0.0.1" }\ntask "hello" { backend = "local", script = "echo hi" }\n'
    )
    return tmp_path


def test_exec_passes_the_commands_own_options_through(workspace):
    done = _essh(workspace, "exec", "-t", "web", "--backend", "local", "echo", "-p", "hello")
    assert done.returncode == 0
    assert done.stdout.startswith("-p hello")


def test_exec_accepts_a_double_dash_before_the_command(workspace):
    done = _essh(workspace, "exec", "-t", "web", "--backend", "local", "--", "echo", "hello")
    assert done.returncode == 0, done.stderr


def test_apply_with_a_closed_stdout_is_not_an_internal_error(workspace):
    assert _essh(workspace, "plan", "-o", "p.bin", "hello").returncode == 0
    done = subprocess.run(
        f"{sys.executable} -m essh apply p.bin >&-", shell=True, cwd=workspace, capture_output=True, text=True,
        env={**os.environ, "HOME": str(workspace / "home"), "XDG_STATE_HOME": str(workspace / "state")}, timeout=120,
    )
    assert "internal error" not in done.stderr
    assert done.returncode == 0


def test_ssh_config_output_cannot_be_injected_through_a_host_name(tmp_path):
    (tmp_path / ".esshconfig.lua").write_text('host "web\\nProxyCommand touch /tmp/x" { HostName = "127.0.0.1" }\n')
    done = _essh(tmp_path, "hosts", "--ssh-config")
    assert "\nProxyCommand" not in done.stdout
