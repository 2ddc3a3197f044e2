"""Review of issue 9 (signed plans, secrets resolved at apply, apply --once), as an adversary.

Each test states what an attacker or a careless script does and what essh should do. The six defects
this review found (a long secret's masking cost, `!` in allowed_signers, a future-dated plan under
--max-age, a quoted secret under `set -x`, a secret that extends another, the size of a file holding a
secret in a refreshed plan) were fixed; their tests now pass. SSH tests use the real sshd fleet (tests/sshd.py);
`essh` runs as a subprocess with a scratch HOME.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cli_workspace import Workspace  # on sys.path through tests/conftest.py, with the `ws` and `dest` fixtures


def _host(sshd) -> str:
    options = ", ".join(f'{k} = "{v}"' for k, v in sshd.schema_host("web-1").ssh_options)
    return f'host "web-1" {{ {options} }}\n'


def _everything(ws: Workspace, done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr + "".join(
        p.read_text(errors="replace") for p in ws.path.rglob("*") if p.is_file() and p.suffix in (".json", ".log", ".xml", ".txt"))


def _decoded_base64(text: str) -> bytes:
    """Every run of base64 in `text`, decoded (what a terminal echo of an encoded program would show)."""
    found = b""
    for run in re.findall(r"[A-Za-z0-9+/=\r\n]{16,}", text):
        joined = re.sub(r"\s", "", run)
        joined = joined[: len(joined) - len(joined) % 4]
        try:
            found += base64.b64decode(joined, validate=False)
        except (binascii.Error, ValueError):
            pass
    return found


SECRET_WITH_QUOTE = "open'Sesame9x7Lk"


@pytest.mark.sshd
def test_a_secret_with_a_quote_does_not_leak_through_xtrace(ws: Workspace, sshd):
    ws.write(".esshconfig.lua", _host(sshd) + """
task "t" { targets = "web-1", env = { PW = essh.secret("PW") },
  script = "set -x; printf '%s' \\"admin:$PW\\" > /dev/null" }
""")
    assert ws.essh("plan", "t", "-o", "plan.bin").returncode == 0
    done = ws.essh("apply", "plan.bin", "--report", "r.json", "--log-dir", "logs", env={"ESSH_SECRET_PW": SECRET_WITH_QUOTE})
    assert done.returncode == 0, done.stderr
    assert "+ printf" in done.stdout + done.stderr  # the trace was shown
    assert "Sesame9x7Lk" not in _everything(ws, done)


@pytest.mark.sshd
def test_a_secret_in_a_pty_step_is_neither_echoed_nor_shown(ws: Workspace, sshd):
    value = "pty-Secret-4b1e9c"
    ws.write(".esshconfig.lua", _host(sshd) + """
task "t" { targets = "web-1", pty = true, env = { PW = essh.secret("PW") }, script = "echo got=$PW; echo done" }
""")
    assert ws.essh("plan", "t", "-o", "plan.bin").returncode == 0
    done = ws.essh("apply", "plan.bin", "--report", "r.json", env={"ESSH_SECRET_PW": value})
    assert done.returncode == 0, done.stderr
    assert "got=***" in done.stdout
    shown = _everything(ws, done)
    assert value not in shown and value.encode() not in _decoded_base64(shown)


@pytest.mark.sshd
def test_refresh_keeps_no_size_of_a_file_that_holds_a_secret(ws: Workspace, sshd, dest):
    from essh.schema import decode_plan

    old = "old-pw-7c1d90e2a4"
    (dest / "pw").write_text(old)
    shutil.chown(dest / "pw", "essh-test")
    (dest / "pw").chmod(0o600)
    ws.write(".esshconfig.lua", _host(sshd) + f"""
task "t" {{ targets = "web-1", files = {{ {{ content = essh.secret("PW"), dest = "{dest}/pw" }} }} }}
""")
    planned = ws.essh("plan", "t", "--refresh", "-o", "plan.bin")
    assert planned.returncode == 0, planned.stderr
    plan = decode_plan((ws.path / "plan.bin").read_bytes())
    (seen,) = plan.steps[0].observed
    assert seen is not None and seen.exists
    assert seen.size != len(old)


def _signed_plan(ws: Workspace) -> tuple[bytes, Path]:
    ws.write(".esshconfig.lua", 'task "t" { backend = "local", env = { PW = essh.secret("PW") }, script = "echo $PW" }\n')
    key = ws.path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    planned = ws.essh("plan", "t", "-o", "plan.bin", "--sign-key", str(key))
    assert planned.returncode == 0, planned.stderr
    return (ws.path / "plan.bin").read_bytes(), key


def test_show_json_lists_damaged_and_foreign_signatures_without_refusing(ws: Workspace):
    import json
    import struct

    from essh.schema import with_signatures

    from essh import schema, sshsig

    data, _ = _signed_plan(ws)
    message, (good,) = schema.split_signed(data)
    sig = sshsig.parse(good)
    bad_key = sshsig.build(struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 3) + b"\0\0\0", "essh-plan", sig.signature)
    not_text = sshsig.build(sig.public_key, "essh-plan", sig.signature).replace(b"essh-plan", b"essh-pl\xffn")
    (ws.path / "damaged.bin").write_bytes(with_signatures(message, [good, b"", b"junk", bad_key, not_text]))
    shown = ws.essh("show", "--json", "damaged.bin")
    assert shown.returncode == 0, shown.stderr
    records = json.loads(shown.stdout)["signatures"]
    assert [r["verifies"] for r in records] == [True, False, False, False, False]
    assert all(r["problem"] for r in records[1:])
    applied = ws.essh("apply", "damaged.bin", env={"ESSH_SECRET_PW": "x"})
    assert applied.returncode == 2 and "signature does not verify: signature 2 is damaged" in applied.stderr


def test_an_unsigned_plan_with_secrets_is_refused_before_any_secret_is_fetched(ws: Workspace):
    data, _ = _signed_plan(ws)
    from essh import schema

    message, _ = schema.split_signed(data)
    (ws.path / "unsigned.bin").write_bytes(message)
    allowed = ws.write("allowed", "ci@example " + (ws.path / "key.pub").read_text())
    fetched = ws.path / "fetched"
    command = f"sh -c 'touch {fetched}; echo v' --"
    for extra in (["--require-signature"], ["--expect-digest", "0" * 64]):
        done = ws.essh("apply", "unsigned.bin", "--allowed-signers", str(allowed), *extra, "--secret-command", command)
        assert done.returncode == 2, done.stderr
        assert not fetched.exists()
    ok = ws.essh("apply", "plan.bin", "--allowed-signers", str(allowed), "--require-signature", "--secret-command", command)
    assert ok.returncode == 0, ok.stderr
    assert fetched.exists() and "***" in ok.stdout


@pytest.mark.sshd
def test_once_marks_stay_in_their_folder_whatever_the_host_names(sshd, tmp_path):
    import pwd
    import time
    import uuid

    import msgspec

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "executor"))
    from essh.schema import encode_plan, payload_digest
    from plans import PlanBuilder

    shared = Path(tempfile.mkdtemp(prefix="essh-review9-once-"))
    shared.chmod(0o777)
    touched = shared / "TOUCHED"
    evil = f'../../../../{shared}/x$(touch {touched})`touch {touched}`'
    failing = "y/../..;touch " + str(touched)
    b = PlanBuilder([msgspec.structs.replace(sshd.schema_host("web-1"), name=evil, env=(("ESSH_HOSTNAME", "a"),)),
                     msgspec.structs.replace(sshd.schema_host("web-2"), name=failing, env=(("ESSH_HOSTNAME", "b"),))])
    b.task("t", 'test "$ESSH_HOSTNAME" = a', hosts=[evil, failing], on_error="continue")
    plan = b.build()
    plan = msgspec.structs.replace(plan, meta=msgspec.structs.replace(plan.meta, created_at=int(time.time())))
    path = shared / f"once-{uuid.uuid4().hex[:8]}.bin"
    path.write_bytes(encode_plan(plan))
    digest = payload_digest(path.read_bytes())
    marks = Path(pwd.getpwnam(sshd.user).pw_dir) / ".local/state/essh/applied" / digest
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESSH_", "SSH_AUTH_SOCK"))}
    try:
        for _ in range(2):
            done = subprocess.run([sys.executable, "-m", "essh", "apply", str(path), "--once", "--report", str(tmp_path / "r.json")],
                                  capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=120, check=False)
            assert done.returncode == 1, done.stderr
        assert [p.name for p in marks.iterdir()] == [__import__("hashlib").sha256(evil.encode()).hexdigest()[:32]]
        assert not touched.exists() and sorted(p.name for p in shared.iterdir()) == [path.name]
        assert "already applied here: skipped (--once)" in done.stderr
    finally:
        shutil.rmtree(marks, ignore_errors=True)
        shutil.rmtree(shared, ignore_errors=True)


class _Collect:
    def __init__(self) -> None:
        self.out = b""

    def emit(self, event) -> None:
        from essh.executor.events import OutputChunk

        if isinstance(event, OutputChunk):
            self.out += event.data


def _masked(values: list[str], chunks: list[bytes]) -> bytes:
    from essh.executor.events import OutputChunk, StepEnded
    from essh.executor.masking import MaskingBus

    sink = _Collect()
    bus = MaskingBus(sink, values)  # type: ignore[arg-type]
    for chunk in chunks:
        bus.emit(OutputChunk(0, "stdout", chunk))
    bus.emit(StepEnded(0, "succeeded", 0.0))
    return sink.out


def test_a_secret_that_extends_another_is_masked_when_split_after_the_shorter():
    shown = _masked(["sk-live-abc", "sk-live-abc:Zq9PRIVATE"], [b"key=sk-live-abc", b":Zq9PRIVATE\n"])
    assert b"Zq9PRIVATE" not in shown


from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=300, deadline=None)
@given(value=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=4, max_size=20),
       before=st.binary(max_size=20), after=st.binary(max_size=20), cuts=st.lists(st.integers(0, 80), max_size=6))
def test_one_secret_split_anywhere_even_inside_a_utf8_character_is_masked(value, before, after, cuts):
    data = before + value.encode() + after
    chunks, at = [], 0
    for cut in sorted(c for c in cuts if c <= len(data)):
        chunks.append(data[at:cut])
        at = cut
    chunks.append(data[at:])
    shown = _masked([value], [c for c in chunks if c])
    assert value.encode() not in shown and b"***" in shown


@pytest.mark.sshd
def test_a_secret_full_of_shell_metacharacters_arrives_intact_and_is_masked(ws: Workspace, sshd, dest):
    touched = dest / "TOUCHED"
    value = f"a'b\"c$(touch {touched})`touch {touched}`$HOME\\n\nzwei-Zeile-ü€\tend-7f3a"
    options = ", ".join(f'{k} = "{v}"' for k, v in sshd.schema_host("web-1").ssh_options)
    ws.write(".esshconfig.lua", f"""
host "web-1" {{ {options}, props = {{ pw = essh.secret("PW") }} }}
task "t" {{ targets = "web-1", env = {{ PW = essh.secret("PW") }},
  files = {{ {{ content = {{ "[", essh.secret("PW"), "]" }}, dest = "{dest}/f" }} }},
  script = "printf '%s' \\"$PW\\" > {dest}/env; printf '%s' \\"$ESSH_HOST_PROPS_PW\\" > {dest}/prop; echo \\"$PW\\"; cat {dest}/f" }}
""")
    assert ws.essh("plan", "t", "-o", "plan.bin").returncode == 0
    done = ws.essh("apply", "plan.bin", "--report", "r.json", "--log-dir", "logs", "--junit", "j.xml",
                   env={"ESSH_SECRET_PW": value})
    assert done.returncode == 0, done.stderr
    assert (dest / "env").read_text() == value and (dest / "prop").read_text() == value
    assert (dest / "f").read_text() == f"[{value}]"
    assert not touched.exists()
    shown = _everything(ws, done)
    assert "end-7f3a" not in shown and "zwei-Zeile" not in shown and "***" in done.stdout


@pytest.mark.parametrize("places", [((99, "PW"),), ((3, "PW"), (1, "PW")), ((1, "NOPE"),), ((-1, "PW"),)])
def test_crafted_secret_offsets_are_refused_in_one_line_before_anything_runs(ws: Workspace, places):
    import msgspec
    from essh.schema import decode_plan, encode_plan

    ws.write(".esshconfig.lua", 'host "h" { HostName = "127.0.0.1", Port = "1" }\n'
             'task "t" { targets = "h", files = { { content = { "ab", essh.secret("PW"), "cd" }, dest = "/tmp/x" } } }\n')
    assert ws.essh("plan", "t", "-o", "plan.bin").returncode == 0
    plan = decode_plan((ws.path / "plan.bin").read_bytes())
    crafted = msgspec.structs.replace(plan, operations=(msgspec.structs.replace(plan.operations[0], secrets=places),))
    (ws.path / "crafted.bin").write_bytes(encode_plan(crafted))
    for args in (["apply", "crafted.bin"], ["show", "--verbose", "crafted.bin"], ["show", "--json", "crafted.bin"]):
        done = ws.essh(*args, env={"ESSH_SECRET_PW": "v"})
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert "plan file error" in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.sshd
def test_exec_on_a_host_with_a_secret_prop_resolves_and_masks_it(ws: Workspace, sshd):
    options = ", ".join(f'{k} = "{v}"' for k, v in sshd.schema_host("web-1").ssh_options)
    ws.write(".esshconfig.lua", f'host "web-1" {{ {options}, props = {{ pw = essh.secret("PW") }} }}\n')
    missing = ws.essh("exec", "-t", "web-1", "--", "echo", "got=$ESSH_HOST_PROPS_PW")
    assert missing.returncode == 2 and "missing secret: PW" in missing.stderr, missing.stdout + missing.stderr
    done = ws.essh("exec", "-t", "web-1", "--", "echo", "got=$ESSH_HOST_PROPS_PW", env={"ESSH_SECRET_PW": "exec-pw-91ce"})
    assert done.returncode == 0, done.stderr
    assert "got=***" in done.stdout and "exec-pw-91ce" not in done.stdout + done.stderr


def test_a_local_pty_step_neither_echoes_nor_shows_its_secret(ws: Workspace):
    value = "local-pty-Secret-2d8e"
    ws.write(".esshconfig.lua", 'task "t" { backend = "local", pty = true, env = { PW = essh.secret("PW") },'
             ' script = "echo got=$PW; stty -a | grep -o -- -echo | head -1" }\n')
    assert ws.essh("plan", "t", "-o", "plan.bin").returncode == 0
    done = ws.essh("apply", "plan.bin", "--report", "r.json", env={"ESSH_SECRET_PW": value})
    assert done.returncode == 0, done.stderr
    assert "got=***" in done.stdout
    shown = _everything(ws, done)
    assert value not in shown and value.encode() not in _decoded_base64(shown)


@pytest.mark.sshd
@pytest.mark.parametrize("signals", [("SIGTERM",), ("SIGINT", "SIGINT")])
def test_once_does_not_mark_a_host_whose_step_was_interrupted(sshd, tmp_path, signals):
    import pwd
    import signal
    import time
    import uuid

    import msgspec

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "executor"))
    from essh.schema import encode_plan, payload_digest
    from plans import PlanBuilder

    shared = Path(tempfile.mkdtemp(prefix="essh-review9-int-"))
    shared.chmod(0o777)
    started = shared / "started"
    b = PlanBuilder([sshd.schema_host("web-1"), sshd.schema_host("web-2")])
    b.task("t", f'if [ "$ESSH_HOSTNAME" = web-2 ]; then touch {started}; sleep 30; fi', hosts=["web-1", "web-2"], parallel=0)
    plan = b.build()
    plan = msgspec.structs.replace(plan, meta=msgspec.structs.replace(plan.meta, created_at=int(time.time()), essh_version=uuid.uuid4().hex))
    path = shared / "plan.bin"
    path.write_bytes(encode_plan(plan))
    marks = Path(pwd.getpwnam(sshd.user).pw_dir) / ".local/state/essh/applied" / payload_digest(path.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ESSH_", "SSH_AUTH_SOCK"))}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "essh", "apply", str(path), "--once", "--report", str(tmp_path / "r.json")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        for name in signals:
            proc.send_signal(getattr(signal, name))
            time.sleep(0.5)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode != 0, err
        names = sorted(p.name for p in marks.iterdir()) if marks.exists() else []
        assert __import__("hashlib").sha256(b"web-2").hexdigest()[:32] not in names
    finally:
        shutil.rmtree(marks, ignore_errors=True)
        shutil.rmtree(shared, ignore_errors=True)


def test_max_age_refuses_a_plan_dated_in_the_future(ws: Workspace):
    ws.write(".esshconfig.lua", 'task "t" { backend = "local", script = "echo ran" }\n')
    planned = ws.essh("plan", "t", "-o", "plan.bin", env={"SOURCE_DATE_EPOCH": "4102444800"})  # 2100-01-01
    assert planned.returncode == 0, planned.stderr
    done = ws.essh("apply", "plan.bin", "--max-age", "1h")
    assert done.returncode == 2 and "ran" not in done.stdout, done.stdout + done.stderr


def test_a_negated_namespace_in_allowed_signers_refuses_the_key_as_ssh_keygen_does(ws: Workspace):
    from essh import schema, sshsig

    data, _ = _signed_plan(ws)
    allowed = ws.write("allowed", 'ci@example namespaces="!essh-plan,*" ' + (ws.path / "key.pub").read_text())
    message, (blob,) = schema.split_signed(data)
    (ws.path / "message").write_bytes(message)
    (ws.path / "message.sig").write_text(sshsig.armor(blob))
    plain = ws.write("plain", 'ci@example namespaces="essh-plan" ' + (ws.path / "key.pub").read_text())

    def openssh(signers: Path) -> int:
        with open(ws.path / "message", "rb") as stdin:
            return subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", "ci@example", "-n", "essh-plan",
                                   "-s", str(ws.path / "message.sig")], stdin=stdin, capture_output=True, check=False).returncode

    assert openssh(plain) == 0 and openssh(allowed) != 0  # OpenSSH: with "!essh-plan" this key may not sign plans
    done = ws.essh("apply", "plan.bin", "--allowed-signers", str(allowed), "--require-signature", env={"ESSH_SECRET_PW": "v"})
    assert done.returncode == 2 and "principal not allowed for the namespace" in done.stderr, done.stdout + done.stderr


@pytest.mark.sshd
def test_a_privileged_step_and_upload_put_no_secret_in_any_argv_on_the_host(ws: Workspace, sshd, dest):
    value = "sudo-Secret-5e0b77"
    pattern = value.replace("Secret", "Secre[t]")  # finds the value, is not it (grep's own argv)
    probe = (f"for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done | grep -c -- '{pattern}' || true")
    ws.write(".esshconfig.lua", _host(sshd) + f"""
task "t" {{ targets = "web-1", privileged = true, env = {{ PW = essh.secret("PW") }},
  files = {{ {{ content = {{ "pw=", essh.secret("PW"), "\\n" }}, dest = "{dest}/priv.conf" }} }},
  script = [[ echo "argv-hits=$({probe})"; test "$(id -u)" = 0 && echo root
    sh -c 'sleep 20; true' "$PW" >/dev/null 2>&1 & control=$!
    for i in $(seq 100); do n=$({probe}); [ "$n" -ge 1 ] && break; sleep 0.1; done
    echo "control-hits=$n"; kill $control; wait ]] }}
""")
    assert ws.essh("plan", "t", "-o", "plan.bin").returncode == 0
    done = ws.essh("apply", "plan.bin", env={"ESSH_SECRET_PW": value})
    assert done.returncode == 0, done.stderr
    assert "argv-hits=0" in done.stdout and "root" in done.stdout, done.stdout
    assert "control-hits=1" in done.stdout, done.stdout  # the probe finds a value that is in an argv
    assert (dest / "priv.conf").read_text() == f"pw={value}\n" and (dest / "priv.conf").stat().st_mode & 0o777 == 0o600
    assert value not in done.stdout + done.stderr


def _pem_like() -> str:
    import base64 as b64

    body = b64.encodebytes(os.urandom(2400)).decode().replace("\n", "")
    lines = [body[i : i + 70] for i in range(0, len(body), 70)]
    return "\n".join(["-----BEGIN OPENSSH PRIVATE KEY-----", *lines, "-----END OPENSSH PRIVATE KEY-----"])


def test_masking_a_private_key_secret_costs_about_what_a_short_secret_costs():
    import time

    from essh.executor.events import OutputChunk, StepEnded
    from essh.executor.masking import MaskingBus

    chunk = (b"x" * 79 + b"\n") * 400  # 32 KB of ordinary log lines

    def cost(values: list[str]) -> float:
        bus = MaskingBus(_Collect(), values)  # type: ignore[arg-type]
        start = time.perf_counter()
        for _ in range(20):
            bus.emit(OutputChunk(0, "stdout", chunk))
        bus.emit(StepEnded(0, "succeeded", 0.0))
        return time.perf_counter() - start

    short = min(cost(["short-secret-1"]) for _ in range(3))
    key = min(cost([_pem_like()]) for _ in range(3))
    assert key < 50 * short + 0.05, f"{key / short:.0f}x"


@pytest.mark.sshd
def test_a_multi_line_secret_through_a_terminal_is_masked(ws: Workspace, sshd):
    value = _pem_like()
    ws.write(".esshconfig.lua", _host(sshd) + """
task "t" { targets = "web-1", pty = true, env = { PW = essh.secret("PW") }, script = "echo \\"$PW\\"; printf '%s' \\"$PW\\" | head -c 40" }
""")
    assert ws.essh("plan", "t", "-o", "plan.bin").returncode == 0
    done = ws.essh("apply", "plan.bin", "--report", "r.json", "--log-dir", "logs", env={"ESSH_SECRET_PW": value})
    assert done.returncode == 0, done.stderr
    shown = _everything(ws, done)
    assert all(line not in shown for line in value.split("\n")[1:-1])
