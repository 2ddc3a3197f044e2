"""`essh show` / `essh apply` on damaged plan files: one line on stderr, exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from essh import schema


def _plan() -> schema.Plan:
    return schema.Plan(
        meta=schema.PlanMeta(essh_version="0.1.0", created_at=0, lua_version="Lua 5.4", requested=("hello",)),
        tasks=(schema.Task(name="hello", backend="local", env=(("ESSH_TASK_NAME", "hello"),)),),
        scripts=("echo hello\n",),
        steps=(schema.Step(0, None, 0),),
    )


def essh(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "essh", *args], capture_output=True, text=True, cwd=cwd, stdin=subprocess.DEVNULL
    )


def _damage(data: bytes, how: str) -> bytes:
    if how == "truncated":
        return data[: len(data) - 3]
    if how == "bit flip":
        i = len(data) - 2
        return data[:i] + bytes([data[i] ^ 0x10]) + data[i + 1 :]
    if how == "wrong magic":
        return b"NOTAPLAN" + data[8:]
    if how == "future version":
        return data[:8] + (99).to_bytes(2, "big") + data[10:]
    if how == "random bytes":
        return bytes(range(256)) * 3
    raise AssertionError(how)


EXPECTED = {
    "truncated": "truncated",
    "bit flip": "corrupted or was edited",
    "wrong magic": "not an essh plan file",
    "future version": "format version 99 is not supported",
    "random bytes": "not an essh plan file",
}


@pytest.mark.parametrize("command", ["show", "apply"])
@pytest.mark.parametrize("how", sorted(EXPECTED))
def test_damaged_plan_file_is_refused_in_one_line(tmp_path, command, how):
    path = tmp_path / "plan.bin"
    path.write_bytes(_damage(schema.encode_plan(_plan()), how))
    result = essh(command, str(path))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert EXPECTED[how] in lines[0]
    assert str(path) in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_plan_file(tmp_path):
    result = essh("show", str(tmp_path / "nope.bin"))
    assert result.returncode == 2
    assert "cannot read plan file" in result.stderr and "Traceback" not in result.stderr


def test_show_reads_a_saved_plan(tmp_path):
    path = tmp_path / "plan.bin"
    data = schema.write_plan(str(path), _plan())
    result = essh("show", str(path))
    assert result.returncode == 0, result.stderr
    assert "# hello" in result.stdout
    assert "echo hello" in result.stdout
    assert schema.payload_digest(data) in result.stdout
    as_json = essh("show", "--json", str(path))
    assert as_json.returncode == 0
    import json

    doc = json.loads(as_json.stdout)
    assert doc["digest"] == schema.payload_digest(data)
    assert doc["steps"] == [{"id": 0, "task": 0, "host": None, "script": 0, "prefix": None}]
