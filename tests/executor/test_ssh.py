"""The SSH transport against real OpenSSH servers: connections, output, pty, sudo, failures, cancellation."""

from __future__ import annotations

import hashlib
import io
import os
import re
import resource
import shutil
import signal
import subprocess
import time
import uuid
from functools import partial
from pathlib import Path

import pytest
import trio
from harness import NONCE, Capture, Framed, run_on
from harness import step as bare_step

from essh.executor.bridge import run
from essh.executor.errors import HostUnreachable, LocalError
from essh.executor.ssh_pool import SshTransport
from essh.schema import TAIL_BYTES, Host, Task

pytestmark = pytest.mark.sshd


def sink_output() -> tuple[Capture, io.BytesIO, io.BytesIO]:
    out = Capture()
    return out, out.stdout, out.stderr


def run_one(host: Host, argv: list[str], *, pty: bool = False) -> tuple[int, bytes, bytes]:
    async def main() -> tuple[int, bytes, bytes]:
        out, stdout, stderr = sink_output()
        async with SshTransport([host], max_connections=4, nonce=NONCE) as pool:
            code = await run_on(pool, 0, *bare_step(argv, pty=pty), out)
        return code, stdout.getvalue(), stderr.getvalue()

    return run(main)


def unreachable_reason(host: Host) -> str:
    with pytest.raises(HostUnreachable) as caught:
        run_one(host, ["true"])
    return caught.value.reason


def remote_processes(pattern: str) -> list[str]:
    found = subprocess.run(["pgrep", "-a", "-f", pattern], capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def wait_gone(pattern: str, seconds: float = 3.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := remote_processes(pattern)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_exit_status_stdout_stderr_and_host_env(sshd):
    host = sshd.schema_host("web-1")
    code, out, err = run_one(host, ["bash", "-c", "echo out; echo err >&2; exit 7"])
    assert (code, out, err) == (7, b"out\n", b"err\n")
    code, _, _ = run_one(host, ["bash", "-c", "kill -TERM $$"])
    assert code == 143


def test_one_connection_per_host_many_channels(sshd):
    names = [name for name, _ in sshd.hosts]
    before = {name: sshd.servers[name].accepted_logins() for name in names}
    outputs: dict[tuple[str, int], bytes] = {}

    async def main() -> int:
        async with SshTransport([sshd.schema_host(n) for n in names], max_connections=10, nonce=NONCE) as pool:

            async def step(index: int, number: int) -> None:
                out, stdout, _ = sink_output()
                assert await run_on(pool, index, *bare_step(["bash", "-c", f"sleep 0.2; echo step {number}"], pty=False), out) == 0
                outputs[names[index], number] = stdout.getvalue()

            for _round in range(2):  # several at once per host, then again on the same connections
                async with trio.open_nursery() as nursery:
                    for index in range(len(names)):
                        for number in range(3):
                            nursery.start_soon(step, index, number)
            return pool.opened

    started = time.monotonic()
    opened = run(main)
    assert time.monotonic() - started < 3  # the three channels of a host overlapped
    assert opened == len(names)
    assert {k: v for k, v in outputs.items() if v != f"step {k[1]}\n".encode()} == {}
    time.sleep(0.2)  # sshd writes its log line asynchronously
    assert {n: sshd.servers[n].accepted_logins() - before[n] for n in names} == {n: 1 for n in names}


def test_connection_limit_closes_idle_connections(sshd):
    names = [name for name, _ in sshd.hosts]
    peak = 0

    async def main() -> int:
        nonlocal peak
        async with SshTransport([sshd.schema_host(n) for n in names], max_connections=2, nonce=NONCE) as pool:

            async def step(index: int) -> None:
                nonlocal peak
                out, _, _ = sink_output()
                assert await run_on(pool, index, *bare_step(["true"], pty=False), out) == 0
                peak = max(peak, pool.open_connections)

            async with trio.open_nursery() as nursery:
                for index in range(len(names)):
                    nursery.start_soon(step, index)
            await pool.release(0)
            assert 0 not in pool._links
            return pool.opened

    assert run(main) == len(names)
    assert peak <= 2


def test_prefixed_lines_never_mix_under_load(sshd):
    names = [name for name, _ in sshd.hosts]
    prefixes = [f"[remote:{n}]" for n in names]
    width = max(map(len, prefixes))
    shared = io.BytesIO()
    lines = 5000

    async def main() -> None:
        async with SshTransport([sshd.schema_host(n) for n in names], max_connections=10, nonce=NONCE) as pool:

            async def step(index: int) -> None:
                out = Framed(prefix=prefixes[index], width=width, stdout=shared, stderr=shared)
                script = f'for i in $(seq 1 {lines}); do echo "{names[index]} line $i of many words to make it long"; done'
                assert await run_on(pool, index, *bare_step(["bash", "-c", script], pty=False), out) == 0
                out.close()

            async with trio.open_nursery() as nursery:
                for index in range(len(names)):
                    nursery.start_soon(step, index)

    run(main)
    seen = {name: 0 for name in names}
    pattern = re.compile(rb"(\[remote:([\w-]+)\]) +(\S+) line (\d+) of many words to make it long")
    for line in shared.getvalue().splitlines():
        match = pattern.fullmatch(line)
        assert match, line
        assert match.group(2) == match.group(3)  # the line came from the host its prefix names
        assert line.index(b" line ") == width + 1 + len(match.group(3))  # aligned column
        name = match.group(2).decode()
        seen[name] += 1
        assert int(match.group(4)) == seen[name]  # in order, none lost
    assert seen == {name: lines for name in names}


def test_fifty_megabytes_bounded_memory_exact_log(sshd, tmp_path):
    data_file = Path(sshd.workdir) / "fifty.bin"
    # Random bytes (short lines) then 25 MB with no newline at all (one huge line),
    # made outside this process so its peak memory says only what streaming cost.
    subprocess.run(
        ["bash", "-c", f"head -c 25000000 /dev/urandom > {data_file}; head -c 25000000 /dev/zero | tr '\\0' x >> {data_file}"],
        check=True,
    )
    data_file.chmod(0o644)
    log_path = tmp_path / "00000-t-h.log"
    with open(os.devnull, "wb") as devnull:

        async def main() -> tuple[int, Framed]:
            out = Framed(prefix="[remote:web-1]", width=14, stdout=devnull, stderr=devnull, log_dir=str(tmp_path))
            async with SshTransport([sshd.schema_host("web-1")], max_connections=1, nonce=NONCE) as pool:
                code = await run_on(pool, 0, *bare_step(["cat", str(data_file)], pty=False), out)
            out.close()
            return code, out

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        code, out = run(main)
        grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert code == 0
    assert data_file.stat().st_size == 50_000_000
    with open(data_file, "rb") as sent, open(log_path, "rb") as logged:
        assert hashlib.file_digest(logged, "sha256").digest() == hashlib.file_digest(sent, "sha256").digest()
    assert out.tail("stdout") == "x" * TAIL_BYTES
    print(f"peak RSS grew by {grown_kib} KiB while streaming 50 MB")
    assert grown_kib < 20 * 1024
    data_file.unlink()


def test_pty_gets_a_terminal(sshd):
    host = sshd.schema_host("web-2")
    code, out, _ = run_one(host, ["bash", "-c", "tty; test -t 1 && echo terminal; echo to-stderr >&2"], pty=True)
    assert code == 0
    assert re.match(rb"/dev/pts/\d+\r?\nterminal\r?\nto-stderr\r?\n\Z", out), out
    code, out, _ = run_one(host, ["bash", "-c", "test -t 1 || echo no-terminal"], pty=False)
    assert out == b"no-terminal\n"


def test_sudo_runs_as_root(sshd):
    host = sshd.schema_host("db-1")
    argv = ["sudo", "-n", "-u", "root", "-H", "--", "bash", "-c", "id -un; echo $HOME"]
    assert run_one(host, argv)[:2] == (0, b"root\n/root\n")


def test_refused_port(sshd):
    assert "connection refused" in unreachable_reason(sshd.closed_port_host())


def test_unresolvable_name(sshd):
    reason = unreachable_reason(sshd.schema_host("web-1", HostName="no-such-host.invalid"))
    assert "does not resolve" in reason


def test_wrong_key_is_auth_failure(sshd):
    reason = unreachable_reason(sshd.schema_host("web-1", IdentityFile=str(sshd.other_key_path)))
    assert "authentication failed" in reason
    assert "BEGIN" not in reason and str(sshd.other_key_path) not in reason


def test_changed_host_key_is_refused(sshd, tmp_path):
    impostor = sshd.new_key("impostor_host_key")
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line("web-1", impostor))
    reason = unreachable_reason(sshd.schema_host("web-1", UserKnownHostsFile=str(known)))
    assert "host key does not match" in reason
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    assert "|1|" in known.read_text()  # hashed host names are recognised too
    assert "host key does not match" in unreachable_reason(sshd.schema_host("web-1", UserKnownHostsFile=str(known)))
    # accept-new trusts only unknown hosts, never a changed key
    reason = unreachable_reason(
        sshd.schema_host("web-1", UserKnownHostsFile=str(known), StrictHostKeyChecking="accept-new")
    )
    assert "host key does not match" in reason


def test_unknown_host_key_refused_by_default(sshd, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/known_hosts, no ~/.ssh/config
    default = Host(
        name="web-1",
        ssh_options=tuple(
            (k, v) for k, v in sshd.schema_host("web-1").ssh_options if k != "UserKnownHostsFile"
        ),
    )
    assert "not in known_hosts" in unreachable_reason(default)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    assert "not in known_hosts" in unreachable_reason(sshd.schema_host("web-1", UserKnownHostsFile=str(empty)))


def test_strict_host_key_checking_no_and_accept_new(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    lax = sshd.schema_host("web-2", UserKnownHostsFile=str(empty), StrictHostKeyChecking="no")
    assert run_one(lax, ["echo", "ok"])[:2] == (0, b"ok\n")
    assert empty.read_text() == ""  # "no" trusts but records nothing
    new = sshd.schema_host("web-2", UserKnownHostsFile=str(empty), StrictHostKeyChecking="accept-new")
    assert run_one(new, ["echo", "ok"])[:2] == (0, b"ok\n")
    assert empty.read_text() == sshd.known_hosts_line("web-2")
    assert run_one(sshd.schema_host("web-2", UserKnownHostsFile=str(empty)), ["true"])[0] == 0


def test_accept_new_never_trusts_a_revoked_key(sshd, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    known = tmp_path / "known_hosts"
    known.write_text("@revoked " + sshd.known_hosts_line("web-1"))
    host = sshd.schema_host("web-1", UserKnownHostsFile=str(known), StrictHostKeyChecking="accept-new")
    assert "revoked" in unreachable_reason(host)
    assert known.read_text().startswith("@revoked ")  # nothing was added


def test_accept_new_steps_back_when_ssh_config_may_point_elsewhere(sshd, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("Host web-*\n    UserKnownHostsFile ~/.ssh/elsewhere\n")
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    host = sshd.schema_host("web-2", UserKnownHostsFile=str(empty), StrictHostKeyChecking="accept-new")
    reason = unreachable_reason(host)
    assert "accept-new is not applied because ~/.ssh/config sets userknownhostsfile" in reason
    assert empty.read_text() == ""


def test_an_option_essh_does_not_apply_is_left_out_as_the_plan_warned(sshd):
    host = sshd.schema_host("web-1", RequestTTY="yes", LocalForward="8080 localhost:80")
    assert run_one(host, ["bash", "-c", "test -t 1 || echo no-terminal"])[:2] == (0, b"no-terminal\n")


@pytest.mark.parametrize(
    ("pty", "sudo"), [(False, False), (True, False), (False, True), (True, True)], ids=["plain", "pty", "sudo", "sudo-pty"]
)
def test_cancel_ends_remote_process_group(sshd, pty, sudo):
    marker = f"{3000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6}"
    argv = ["bash", "-c", f"echo started; sleep {marker}; echo never"]
    stdout = io.BytesIO()

    async def main() -> list[str]:
        out = Capture()
        out.stdout = stdout
        async with SshTransport([sshd.schema_host("db-2")], max_connections=1, nonce=NONCE) as pool:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(partial(run_on, pool, 0, *bare_step(argv, pty=pty, run_as="root" if sudo else None), out))
                with trio.fail_after(10):
                    while b"started" not in stdout.getvalue():
                        await trio.sleep(0.02)
                await trio.sleep(0.1)
                running = remote_processes(f"sleep {marker}")
                nursery.cancel_scope.cancel()
        return running

    assert len(run(main)) >= 2  # the shell and its sleep were running before the cancel (sudo's argv holds no script now)
    assert stdout.getvalue().strip() == b"started"
    assert wait_gone(f"sleep {marker}") == []


def test_connection_lost_mid_step_is_unreachable_and_next_step_reconnects(sshd):
    async def main() -> tuple[str, int, int]:
        async with SshTransport([sshd.schema_host("web-1")], max_connections=1, nonce=NONCE) as pool:
            out, _, _ = sink_output()
            with pytest.raises(HostUnreachable) as caught:
                # $PPID is the sshd process serving this connection: the connection dies.
                await run_on(pool, 0, Task(name="t"), "kill -KILL $PPID; sleep 5", out)
            out, _, _ = sink_output()
            code = await run_on(pool, 0, *bare_step(["true"], pty=False), out)
            return caught.value.reason, code, pool.opened

    reason, code, opened = run(main)
    assert "connection lost" in reason
    assert (code, opened) == (0, 2)


def test_proxy_jump_through_another_host(sshd, tmp_path, monkeypatch):
    # The jump host is reached with the user's own ~/.ssh/config, as OpenSSH does.
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        f"Host 127.0.0.1\n  IdentityFile {sshd.key_path}\n  UserKnownHostsFile {sshd.known_hosts}\n  IdentitiesOnly yes\n"
    )
    monkeypatch.setenv("HOME", str(home))
    jump, target = sshd.servers["web-1"], sshd.servers["web-2"]
    before = jump.accepted_logins(), target.accepted_logins()
    host = sshd.schema_host("web-2", ProxyJump=f"{sshd.user}@127.0.0.1:{jump.port}")
    assert run_one(host, ["bash", "-c", "echo $SSH_CONNECTION"])[0] == 0
    time.sleep(0.2)
    assert (jump.accepted_logins() - before[0], target.accepted_logins() - before[1]) == (1, 1)


def test_proxy_jump_through_an_essh_host_uses_its_options(sshd):
    jump, target = sshd.servers["web-1"], sshd.servers["web-2"]
    bastion = sshd.schema_host("bastion", Port=str(jump.port))
    inner = sshd.schema_host("inner", Port=str(target.port), ProxyJump="bastion", HostKeyAlias=f"[127.0.0.1]:{target.port}")
    before = jump.accepted_logins(), target.accepted_logins()

    async def main():
        async with SshTransport([bastion, inner], max_connections=4, nonce=NONCE) as pool:
            out, stdout, _ = sink_output()
            codes = [await run_on(pool, 1, *bare_step(["echo", "through"], pty=False), out) for _ in range(2)]
            return codes, stdout.getvalue()

    assert run(main) == ([0, 0], b"through\nthrough\n")
    time.sleep(0.2)
    assert (jump.accepted_logins() - before[0], target.accepted_logins() - before[1]) == (1, 1)


def test_a_plan_with_a_proxy_jump_loop_is_refused_when_read(sshd):
    from essh.schema import PlanFileInvalid, decode_plan, encode_plan

    from plans import PlanBuilder

    b = PlanBuilder([sshd.schema_host("a", ProxyJump="b"), sshd.schema_host("b", ProxyJump="a")])
    b.task("t", "true", hosts=["a"])
    with pytest.raises(PlanFileInvalid, match=r"\$\.hosts\[0\]\.ssh_options: ProxyJump loops back: a -> b -> a"):
        decode_plan(encode_plan(b.build(check=False)))


def test_silent_server_times_out():
    import socket

    with socket.socket() as silent:  # accepts TCP connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        host = Host(name="mute-1", ssh_options=(("ConnectTimeout", "1"), ("HostName", "127.0.0.1"), ("Port", str(silent.getsockname()[1]))))
        started = time.monotonic()
        assert "timed out" in unreachable_reason(host)
        assert time.monotonic() - started < 3


def test_connection_closed_while_idle_is_reopened(sshd):
    async def main() -> tuple[int, int]:
        async with SshTransport([sshd.schema_host("db-1")], max_connections=1, nonce=NONCE) as pool:
            out, stdout, _ = sink_output()
            # $PPID: the sshd process serving this one connection.
            assert await run_on(pool, 0, Task(name="t"), "echo $PPID", out) == 0
            # The server side goes away between two steps (sshd restarted, idle timeout...).
            os.kill(int(stdout.getvalue()), signal.SIGKILL)
            await trio.sleep(0.3)
            code = await run_on(pool, 0, *bare_step(["true"], pty=False), out)
            return code, pool.opened

    assert run(main) == (0, 2)


def test_output_that_cannot_be_written_ends_the_step(sshd):
    class Full(Capture):
        def output(self, stream: str, data: bytes) -> None:
            raise OSError(28, "No space left on device")

    marker = f"{5000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6}"

    async def main() -> None:
        out = Full()
        async with SshTransport([sshd.schema_host("web-2")], max_connections=1, nonce=NONCE) as pool:
            await run_on(pool, 0, *bare_step(["bash", "-c", f"echo hello; sleep {marker}"], pty=False), out)

    with pytest.raises(LocalError, match="No space left"):
        run(main)
    assert wait_gone(f"sleep {marker}") == []


def test_cancel_while_connecting_returns_promptly():
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        host = Host(name="mute-2", ssh_options=(("HostName", "127.0.0.1"), ("Port", str(silent.getsockname()[1]))))

        async def main() -> bool:
            out, _, _ = sink_output()
            async with SshTransport([host], max_connections=1, nonce=NONCE) as pool:
                with trio.move_on_after(0.5) as scope:
                    await run_on(pool, 0, *bare_step(["true"], pty=False), out)
                assert pool.open_connections == 0
            return scope.cancelled_caught

        started = time.monotonic()
        assert run(main)
        assert time.monotonic() - started < 2


def test_a_passphrase_protected_identity_file_is_used_through_the_agent(sshd, tmp_path):
    encrypted = tmp_path / "encrypted_key"
    shutil.copy(sshd.key_path, encrypted)
    shutil.copy(str(sshd.key_path) + ".pub", str(encrypted) + ".pub")
    encrypted.chmod(0o600)
    subprocess.run(["ssh-keygen", "-q", "-p", "-N", "secret", "-P", "", "-f", str(encrypted)], check=True)
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        env = {**os.environ, "SSH_AUTH_SOCK": str(socket_path)}
        subprocess.run(["ssh-add", "-q", str(sshd.key_path)], env=env, check=True, capture_output=True)
        with_agent = sshd.schema_host("web-1", IdentityFile=str(encrypted), IdentityAgent=str(socket_path))
        assert run_one(with_agent, ["echo", "ok"])[:2] == (0, b"ok\n")
        without = sshd.schema_host("web-1", IdentityFile=str(encrypted), IdentityAgent="none")
        assert "authentication failed" in unreachable_reason(without)
    finally:
        agent.terminate()
        agent.wait()


def test_agent_authentication_and_forwarding(sshd, tmp_path):
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        env = {**os.environ, "SSH_AUTH_SOCK": str(socket_path)}
        subprocess.run(["ssh-add", "-q", str(sshd.key_path)], env=env, check=True, capture_output=True)
        fingerprint = subprocess.run(["ssh-add", "-l"], env=env, check=True, capture_output=True, text=True).stdout.split()[1]
        options = {k: v for k, v in sshd.schema_host("web-1").ssh_options if k not in ("IdentityFile", "IdentitiesOnly")}
        host = Host(
            name="web-1",
            ssh_options=tuple(sorted({**options, "IdentityAgent": str(socket_path), "ForwardAgent": "yes"}.items())),
        )
        code, out, _ = run_one(host, ["bash", "-c", "ssh-add -l"])
        assert code == 0 and fingerprint.encode() in out  # logged in with the agent's key, and it was forwarded
    finally:
        agent.terminate()
        agent.wait()


RELAY = """\
import os, selectors, socket, sys
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])))
with open(sys.argv[3], "a") as log:
    log.write(f"relay {sys.argv[1]} {sys.argv[2]}\\n")
sel = selectors.DefaultSelector()
sel.register(0, selectors.EVENT_READ)
sel.register(sock, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj == 0:
            data = os.read(0, 65536)
            if not data:
                sock.shutdown(socket.SHUT_WR)
                sel.unregister(0)
            else:
                sock.sendall(data)
        else:
            data = sock.recv(65536)
            if not data:
                sys.exit(0)
            os.write(1, data)
"""


def test_proxy_command_with_tokens(sshd, tmp_path):
    relay = tmp_path / "relay.py"
    relay.write_text(RELAY)
    log = tmp_path / "relay.log"
    host = sshd.schema_host("db-2", ProxyCommand=f"python3 {relay} %h %p {log}")
    assert run_one(host, ["echo", "through the relay"])[:2] == (0, b"through the relay\n")
    assert log.read_text() == f"relay 127.0.0.1 {sshd.port('db-2')}\n"


def test_user_ssh_config_matches_the_essh_name_and_plan_options_win(sshd, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    # The user's block for this essh name supplies the key; its Hostname loses to the plan's.
    (home / ".ssh" / "config").write_text(
        f"Host db-1\n  Hostname 192.0.2.1\n  IdentityFile {sshd.key_path}\n  IdentitiesOnly yes\n"
    )
    monkeypatch.setenv("HOME", str(home))
    options = {k: v for k, v in sshd.schema_host("db-1").ssh_options if k not in ("IdentityFile", "IdentitiesOnly")}
    host = Host(name="db-1", ssh_options=tuple(sorted(options.items())))
    assert run_one(host, ["echo", "matched"])[:2] == (0, b"matched\n")
    other = Host(name="db-9", ssh_options=host.ssh_options)  # no block for this name: no key
    assert "authentication failed" in unreachable_reason(other)


def test_a_host_with_an_impossible_option_is_unreachable_and_the_others_go_on(sshd):
    bad = sshd.schema_host("web-1", Port="not-a-port")
    good = sshd.schema_host("web-2")

    async def main():
        async with SshTransport([bad, good], max_connections=4, nonce=NONCE) as pool:
            out = Capture()
            with pytest.raises(HostUnreachable, match="Port 'not-a-port' must be a number"):
                await run_on(pool, 0, *bare_step(["true"], pty=False), out)
            return await run_on(pool, 1, *bare_step(["true"], pty=False), out)

    assert run(main) == 0
