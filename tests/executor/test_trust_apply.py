"""Signed plans and apply-time secrets, end to end: the real `essh`, `ssh-keygen`, `ssh-agent` and sshd.

- essh's signatures pass `ssh-keygen -Y verify`; `ssh-keygen -Y sign`'s pass essh (ed25519, rsa; file
  keys and a key in an ssh-agent started here);
- every refusal (tampered payload, tampered signature, foreign key, wrong namespace, expired signer,
  unsigned version-1 plan, another digest) is one line, exit 2, and no login on the sshd;
- a secret reaches the step, and never the terminal, the report, the log, --debug or any argv.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import msgspec
import pytest

from essh import sshsig
from essh.schema import MAGIC, SecretRef, encode_plan, split_signed

from plans import PlanBuilder
from test_apply import shared  # noqa: F401 - a fixture
from test_hardening import cmdlines

pytestmark = pytest.mark.sshd


def essh(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ESSH_", "SSH_AUTH_SOCK"))}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "essh", *args], capture_output=True, text=True, env=full,
                          stdin=subprocess.DEVNULL, timeout=120, cwd=cwd)


def keygen(path: Path, kind: str, comment: str) -> Path:
    extra = ["-b", "2048"] if kind == "rsa" else []
    subprocess.run(["ssh-keygen", "-q", "-t", kind, *extra, "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path


def allowed_line(principal: str, key: Path, options: str = "") -> str:
    public = (Path(str(key) + ".pub")).read_text().split()
    return " ".join(filter(None, [principal, options, public[0], public[1]])) + "\n"


def hello_plan(sshd, shared: Path, marker: str) -> Path:
    b = PlanBuilder([sshd.schema_host("web-1")])
    b.task("hello", f"echo {marker}", hosts=["web-1"])
    plan = b.build()
    plan = msgspec.structs.replace(plan, meta=msgspec.structs.replace(plan.meta, created_at=int(time.time())))
    path = shared / f"plan-{uuid.uuid4().hex[:8]}.bin"
    path.write_bytes(encode_plan(plan))
    return path


@pytest.fixture
def keys(tmp_path) -> dict[str, Path]:
    return {
        "ed25519": keygen(tmp_path / "alice_ed", "ed25519", "alice"),
        "rsa": keygen(tmp_path / "bob_rsa", "rsa", "bob"),
        "mallory": keygen(tmp_path / "mallory", "ed25519", "mallory"),
    }


@pytest.fixture
def allowed(tmp_path, keys) -> Path:
    path = tmp_path / "allowed_signers"
    path.write_text(allowed_line("alice@example.com", keys["ed25519"]) + allowed_line("bob@example.com", keys["rsa"]))
    return path


@pytest.fixture
def agent(tmp_path):
    """A real ssh-agent, started for the test on its own socket, stopped after it."""
    sock = tmp_path / "agent.sock"
    process = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not sock.exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    yield str(sock)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return lines[-1]


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_ssh_keygen_verifies_essh_signature(sshd, shared, keys, allowed, tmp_path, kind):
    plan = hello_plan(sshd, shared, "hi")
    assert essh("sign", str(plan), "--sign-key", str(keys[kind])).returncode == 0
    data = tmp_path / "signed-data"
    assert essh("sign", str(plan), "--signed-data", str(data)).returncode == 0
    message, blobs = split_signed(plan.read_bytes())
    assert data.read_bytes() == message  # the unsigned plan file: header (flags 0) and payload
    sig = tmp_path / "plan.sig"
    sig.write_text(sshsig.armor(blobs[0]))
    principal = "alice@example.com" if kind == "ed25519" else "bob@example.com"
    done = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", principal, "-n", "essh-plan", "-s", str(sig)],
        stdin=data.open("rb"), capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f'Good "essh-plan" signature for {principal}' in done.stdout


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_essh_applies_a_plan_signed_by_ssh_keygen(sshd, shared, keys, allowed, tmp_path, kind):
    plan = hello_plan(sshd, shared, f"signed-by-keygen-{kind}")
    data = essh("sign", str(plan), "--signed-data", str(tmp_path / "data")).returncode
    assert data == 0
    sig = subprocess.run(["ssh-keygen", "-Y", "sign", "-f", str(keys[kind]), "-n", "essh-plan"],
                         stdin=(tmp_path / "data").open("rb"), capture_output=True, check=True).stdout
    (tmp_path / "plan.sig").write_bytes(sig)
    before = json.loads(essh("show", str(plan), "--json").stdout)
    assert essh("sign", str(plan), "--signature", str(tmp_path / "plan.sig")).returncode == 0
    after = json.loads(essh("show", str(plan), "--json", "--allowed-signers", str(allowed)).stdout)
    assert before.pop("signatures") == []
    principal = "alice@example.com" if kind == "ed25519" else "bob@example.com"
    fingerprint = subprocess.run(["ssh-keygen", "-lf", f"{keys[kind]}.pub"], capture_output=True, text=True).stdout.split()[1]
    assert after.pop("signatures") == [{"key_type": f"ssh-{kind}", "fingerprint": fingerprint, "namespace": "essh-plan",
                                        "verifies": True, "principals": [principal], "problem": None}]
    assert after == before  # the plan's identity did not change
    done = essh("apply", str(plan), "--require-signature", "--allowed-signers", str(allowed),
                "--report", str(tmp_path / "r.json"))
    assert done.returncode == 0, done.stderr
    assert f"signed-by-keygen-{kind}" in done.stdout
    principal = "alice@example.com" if kind == "ed25519" else "bob@example.com"
    assert f"Signed by {principal} " in done.stderr


def test_a_signature_of_another_plan_is_not_attached(sshd, shared, keys, tmp_path):
    plan, other = hello_plan(sshd, shared, "a"), hello_plan(sshd, shared, "b")
    sig = subprocess.run(["ssh-keygen", "-Y", "sign", "-f", str(keys["ed25519"]), "-n", "essh-plan"],
                         stdin=other.open("rb"), capture_output=True, check=True).stdout
    (tmp_path / "other.sig").write_bytes(sig)
    done = essh("sign", str(plan), "--signature", str(tmp_path / "other.sig"))
    assert done.returncode == 2 and "signature does not verify" in one_line(done)


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_a_key_in_ssh_agent_signs_by_its_public_key_or_fingerprint(sshd, shared, keys, allowed, agent, tmp_path, kind):
    subprocess.run(["ssh-add", "-q", str(keys[kind])], env={**os.environ, "SSH_AUTH_SOCK": agent}, check=True,
                   capture_output=True)
    plan = hello_plan(sshd, shared, "agent")
    pub = str(keys[kind]) + ".pub"
    env = {"SSH_AUTH_SOCK": agent}
    assert essh("sign", str(plan), "--sign-key", pub, env=env).returncode == 0
    fingerprint = subprocess.run(["ssh-keygen", "-lf", pub], capture_output=True, text=True, check=True).stdout.split()[1]
    signed = essh("sign", str(plan), "--sign-key", fingerprint, env=env)
    assert signed.returncode == 0, signed.stderr
    _, blobs = split_signed(plan.read_bytes())
    assert len(blobs) == 2
    for n, blob in enumerate(blobs):
        (tmp_path / f"{n}.sig").write_text(sshsig.armor(blob))
        done = subprocess.run(
            ["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "alice@example.com" if kind == "ed25519" else "bob@example.com",
             "-n", "essh-plan", "-s", str(tmp_path / f"{n}.sig")],
            input=split_signed(plan.read_bytes())[0], capture_output=True,
        )
        assert done.returncode == 0, done.stderr
    shown = essh("show", str(plan), "--allowed-signers", str(allowed))
    assert shown.stdout.count(f"Signed by {'alice' if kind == 'ed25519' else 'bob'}@example.com ssh-") == 2
    no_agent = essh("sign", str(plan), "--sign-key", pub)
    assert no_agent.returncode == 2 and "SSH_AUTH_SOCK is not set" in one_line(no_agent)


def test_two_signers_required(sshd, shared, keys, allowed, tmp_path):
    plan = hello_plan(sshd, shared, "two")
    essh("sign", str(plan), "--sign-key", str(keys["ed25519"]))
    once = essh("apply", str(plan), "--require-signatures", "2", "--allowed-signers", str(allowed))
    assert once.returncode == 2 and "2 allowed signers required, the plan has 1" in one_line(once)
    essh("sign", str(plan), "--sign-key", str(keys["rsa"]))
    twice = essh("apply", str(plan), "--require-signatures", "2", "--require-principal", "bob@example.com",
                 "--allowed-signers", str(allowed), "--report", str(tmp_path / "r.json"))
    assert twice.returncode == 0, twice.stderr


def _tampered_payload(data: bytes) -> bytes:
    """The attacker's edit: a changed script, with the header's sha256 recomputed to match."""
    message, blobs = split_signed(data)
    payload = message[52:].replace(b"echo refused", b"echo INJECTD")
    header = message[:20] + hashlib.sha256(payload).digest()
    from essh.schema import with_signatures

    return with_signatures(header + payload, blobs)


def _tampered_signature(data: bytes) -> bytes:
    return data[:-5] + bytes([data[-5] ^ 1]) + data[-4:]


def _v1_unsigned(data: bytes) -> bytes:
    from essh.schema import decode_plan

    plan = msgspec.structs.replace(decode_plan(data), format_version=1)
    payload = msgspec.msgpack.encode(plan)
    return MAGIC + (1).to_bytes(2, "big") + b"\0\0" + len(payload).to_bytes(8, "big") + hashlib.sha256(payload).digest() + payload


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("tampered payload", "signature does not verify"),
        ("tampered signature", "signature does not verify"),
        ("foreign key", "signer not allowed"),
        ("wrong namespace", "principal not allowed for the namespace"),
        ("expired", "signature expired"),
        ("version 1 unsigned", "not signed"),
        ("other digest", "not the expected"),
        ("too old", "plan is too old"),
    ],
)
def test_refused_before_any_connection(sshd, shared, keys, allowed, tmp_path, case, expected):
    plan = hello_plan(sshd, shared, "refused")
    key = keys["mallory"] if case == "foreign key" else keys["ed25519"]
    assert essh("sign", str(plan), "--sign-key", str(key)).returncode == 0
    data = plan.read_bytes()
    args = ["--require-signature", "--allowed-signers", str(allowed)]
    if case == "tampered payload":
        plan.write_bytes(_tampered_payload(data))
    elif case == "tampered signature":
        plan.write_bytes(_tampered_signature(data))
    elif case == "wrong namespace":
        allowed.write_text(allowed_line("alice@example.com", keys["ed25519"], 'namespaces="git"'))
    elif case == "expired":
        allowed.write_text(allowed_line("alice@example.com", keys["ed25519"], 'valid-before="20200101"'))
    elif case == "version 1 unsigned":
        plan.write_bytes(_v1_unsigned(split_signed(data)[0]))
    elif case == "other digest":
        args = ["--expect-digest", "ab" * 32]
    elif case == "too old":
        args = ["--max-age", "1s"]
        time.sleep(2.1)
    logins = sshd.servers["web-1"].accepted_logins()
    done = essh("apply", str(plan), *args, "--report", str(tmp_path / "r.json"))
    assert done.returncode == 2, done.stderr
    line = one_line(done)
    assert line.startswith("essh: ") and expected in line, line
    assert "INJECTD" not in done.stdout and "refused" not in done.stdout
    time.sleep(0.2)
    assert sshd.servers["web-1"].accepted_logins() == logins  # no connection was made


# -- secrets ----------------------------------------------------------------------------------


def secret_plan(sshd, shared: Path, script: str, secrets: tuple[str, ...] = ("DB_PASS",), **fields) -> Path:
    b = PlanBuilder([sshd.schema_host("web-1")])
    b.task("db", script, hosts=["web-1"], secret_env=tuple((f"V_{s}", s) for s in secrets), **fields)
    plan = b.build(check=False)
    plan = msgspec.structs.replace(plan, secrets=tuple(SecretRef(name=s) for s in sorted(secrets)))
    path = shared / "secret-plan.bin"
    path.write_bytes(encode_plan(plan))
    return path


@pytest.mark.parametrize("kind", ["plain", "pty", "sudo"])
def test_a_secret_reaches_the_step_and_nothing_else(sshd, shared, tmp_path, kind):
    value = f"pw-{uuid.uuid4().hex}"
    script = (
        f'touch {shared}/started; sleep 2; echo "whole=$V_DB_PASS"; printf %s "split=${{V_DB_PASS:0:7}}"; sleep 0.3; '
        'printf "%s\\n" "${V_DB_PASS:7}"; echo "err=$V_DB_PASS" >&2; '
        'test "$(printf %s "$V_DB_PASS" | sha256sum | cut -c1-64)" = ' + hashlib.sha256(value.encode()).hexdigest() + " && echo same"
    )
    plan = secret_plan(sshd, shared, script, **({"pty": True} if kind == "pty" else {"run_as": "root"} if kind == "sudo" else {}))
    assert value.encode() not in plan.read_bytes()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESSH_", "SSH_AUTH_SOCK"))}
    env["ESSH_SECRET_DB_PASS"] = value
    logs, report = tmp_path / "logs", tmp_path / "report.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "essh", "apply", str(plan), "--report", str(report), "--log-dir", str(logs), "--debug"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    deadline = time.monotonic() + 30
    while not (shared / "started").exists():
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.02)
    seen = [line for line in cmdlines() if value.encode() in line]  # this machine and the host (both here)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert seen == []
    assert b"same" in out  # the step had the value
    assert b"whole=***" in out and b"split=***" in out and b"err=***" in (out + err)
    shown = out + err + report.read_bytes() + b"".join(p.read_bytes() for p in logs.rglob("*") if p.is_file())
    assert value.encode() not in shown and value[3:].encode() not in shown


def test_missing_secrets_are_all_named_before_anything_runs(sshd, shared, tmp_path):
    plan = secret_plan(sshd, shared, f"touch {shared}/ran", secrets=("DB_PASS", "API_TOKEN"))
    logins = sshd.servers["web-1"].accepted_logins()
    done = essh("apply", str(plan), "--report", str(tmp_path / "r.json"), env={"ESSH_SECRET_OTHER": "x"})
    assert done.returncode == 2
    assert "missing secrets: API_TOKEN, DB_PASS" in one_line(done)
    assert not (shared / "ran").exists()
    assert sshd.servers["web-1"].accepted_logins() == logins


def test_secrets_file_and_secret_command(sshd, shared, tmp_path):
    plan = secret_plan(sshd, shared, 'echo "a=$V_DB_PASS b=$V_API_TOKEN" > ' + f"{shared}/got", secrets=("DB_PASS", "API_TOKEN"))
    secrets = tmp_path / "secrets.env"
    secrets.write_text("# for the test\nexport DB_PASS='from file'\n")
    secrets.chmod(0o644)
    loose = essh("apply", str(plan), "--secrets-file", str(secrets), "--secret-command", "echo cmd-{name}")
    assert loose.returncode == 2 and "chmod 600" in one_line(loose)
    secrets.chmod(0o600)
    done = essh("apply", str(plan), "--secrets-file", str(secrets), "--secret-command", "echo cmd-{name}",
                "--report", str(tmp_path / "r.json"))
    assert done.returncode == 0, done.stderr
    assert (shared / "got").read_text() == "a=from file b=cmd-API_TOKEN\n"
    failing = essh("apply", str(plan), "--secret-command", "false")
    assert failing.returncode == 2 and "the secret command exited with status 1" in one_line(failing)
