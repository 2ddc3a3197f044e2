"""`essh apply PLAN_FILE` without typer (essh.fast_apply) says and does exactly what the typer command does.

Each command line runs twice as a real process: through the console script's
entry (the fast path when it applies) and straight through essh.cli.main (always
typer); stdout, stderr (times and report names aside), the exit code and the
files written must match. The parser is also held against typer's own reading
of random command lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st

from essh import cli, fast_apply

CONFIG = """
task "hello" { backend = "local", script = "echo hello; echo to-stderr >&2" }
task "fails" { backend = "local", script = "echo oops >&2; exit 3" }
"""

FAST = "import sys\ntry:\n    from essh.entry import main; main()\nfinally:\n    sys.stderr.write('typer:%s' % ('typer' in sys.modules))"
TYPER = "import sys; from essh.cli import main; main(sys.argv[1:])"
SETTLE = (
    (re.compile(r"\d+(\.\d+)?s\b"), "<t>"),  # durations
    (re.compile(r"\d{8}T\d{6}Z?[-\w.]*\.json"), "<report>"),  # the default report's name
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \([^)]*\)"), "<made>"),
)


def _env(path: Path, env: dict[str, str]) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ESSH_", "SOURCE_DATE_EPOCH", "NO_COLOR", "FORCE_COLOR", "GITHUB_"))}
    full.update({"HOME": str(path / "home"), "SOURCE_DATE_EPOCH": "0", **env})
    return full


def _run(code: str, path: Path, words: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *words], cwd=path, env=_env(path, env), capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=120,
    )


def _settle(text: str, place: Path) -> str:
    text = text.replace(str(place), "<ws>")
    for pattern, replacement in SETTLE:
        text = pattern.sub(replacement, text)
    return text


FORMS = [
    (["apply", "ok.bin"], {}),
    (["apply", "ok.bin", "--report", "r.json"], {}),
    (["apply", "--report", "out/r.json", "--no-color", "bad.bin"], {"FORCE_COLOR": "1"}),
    (["apply", "bad.bin", "--fail-fast", "--max-connections", "3", "--progress", "plain"], {}),
    (["apply", "ok.bin", "--progress", "none", "--prefix-task", "--raw-output", "--junit", "j.xml"], {}),
    (["apply", "ok.bin", "--stage", "1", "--once", "--force", "--refuse-stale"], {}),
    (["apply", "./ok.bin", "--debug", "--log-dir", "logs"], {}),
    (["apply", "ok.bin"], {"ESSH_DEBUG": "1", "ESSH_CONFIG": "nowhere.lua"}),
    (["apply", "ok.bin", "-c", "nowhere.lua", "--auto-approve"], {}),
    # refusals and errors: one line, the same code
    (["apply", "ok.bin", "--progress", "sideways"], {}),
    (["apply", "ok.bin", "--max-age", "1s"], {}),
    (["apply", "ok.bin", "--max-age", "soon"], {}),
    (["apply", "ok.bin", "--expect-digest", "0" * 64], {}),
    (["apply", "ok.bin", "--require-signature"], {}),
    (["apply", "ok.bin", "--require-signatures", "2", "--allowed-signers", "missing"], {}),
    (["apply", "ok.bin", "--require-principal", "ci"], {"ESSH_ALLOWED_SIGNERS": "signers"}),
    (["apply", "ok.bin", "--limit", "web-*"], {}),
    (["apply", "ok.bin", "-l", "nothing", "--shard", "1/2"], {}),
    (["apply", "ok.bin", "--shard", "3/2"], {}),
    (["apply", "ok.bin", "--resume", "missing.json"], {}),
    (["apply", "ok.bin", "--report", "file/r.json"], {}),
    (["apply", "ok.bin", "--secrets-file", "missing"], {}),
    (["apply", "missing.bin"], {}),
    (["apply", "garbage.bin"], {}),
    # left to typer: help, task names, `--`, usage errors, repeated options
    (["apply", "--help"], {}),
    (["apply", "ok.bin", "--", "x"], {}),
    (["apply", "hello"], {}),
    (["apply", "ok.bin", "bad.bin"], {}),
    (["apply", "ok.bin", "--max-connections", "0"], {}),
    (["apply", "ok.bin", "--stage", "x"], {}),
    (["apply", "ok.bin", "--report=r.json"], {}),
    (["apply", "ok.bin", "-l", "a", "-l", "b"], {}),
    (["apply", "ok.bin", "--bogus"], {}),
]


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, bytes]:
    place = tmp_path_factory.mktemp("plans")
    (place / "home").mkdir()
    (place / ".esshconfig.lua").write_text(CONFIG)
    made = {}
    for name, tasks in (("ok.bin", ["hello"]), ("bad.bin", ["hello", "fails"])):
        subprocess.run([sys.executable, "-m", "essh", "plan", *tasks, "-o", name], cwd=place, env=_env(place, {}), check=True,
                       capture_output=True, stdin=subprocess.DEVNULL)
        made[name] = (place / name).read_bytes()
    return made


@pytest.mark.parametrize(("words", "env"), FORMS, ids=[" ".join(w) + (f" {e}" if e else "") for w, e in FORMS])
def test_fast_path_and_typer_agree(tmp_path: Path, plans: dict[str, bytes], words: list[str], env: dict[str, str]):
    results = []
    for code in (FAST, TYPER):
        place = tmp_path / ("fast" if code is FAST else "typer")
        (place / "home").mkdir(parents=True)
        (place / ".esshconfig.lua").write_text(CONFIG)
        for name, data in plans.items():
            (place / name).write_bytes(data)
        (place / "garbage.bin").write_bytes(b"ESSHPLAN not really")
        (place / "file").write_text("not a folder")
        (place / "signers").write_text("")
        result = _run(code, place, words, env)
        written = sorted(str(p.relative_to(place)) for p in place.rglob("*") if p.is_file() and "home" not in p.parts)
        results.append((result.returncode, _settle(result.stdout, place), _settle(result.stderr, place), written))
    (code_fast, out_fast, err_fast, files_fast), slow = results
    err_fast, _, loaded = err_fast.rpartition("typer:")
    assert (code_fast, out_fast, err_fast, files_fast) == slow
    assert "Traceback" not in err_fast
    if fast_apply.parse(words, env) is not None:
        assert loaded == "False", "the fast path imported typer"
    else:
        assert loaded == "True"


def test_common_forms_take_the_fast_path(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fast_apply.parse(["apply", "p.bin"], {}) == fast_apply.ApplyCall(plan_file="p.bin")
    assert fast_apply.parse(["apply", "--limit", "web", "p.bin", "--stage", "2"], {"ESSH_SECRETS_FILE": "s"}) == fast_apply.ApplyCall(
        plan_file="p.bin", limit=("web",), stage=2, secrets_file="s")
    for words in (["apply", "task"], ["apply", "p.bin", "-h"], ["apply", "p.bin", "--stage", "0"], ["apply"], ["plan", "p.bin"],
                  ["apply", "p.bin", "--max-connections", "+1"], ["apply", "p.bin", "--report", "-"]):
        assert fast_apply.parse(words, {}) is None, words
    assert fast_apply.parse(["apply", "p.bin"], {"_ESSH_COMPLETE": "bash_source"}) is None


WORDS = st.sampled_from(
    ["p.bin", "task", "--report", "r.json", "--max-connections", "7", "0", "--stage", "--progress", "live", "--limit", "-l",
     "web", "--require-principal", "--require-signatures", "--require-signature", "--allowed-signers", "--secrets-file",
     "--secret-command", "--fail-fast", "--once", "--no-color", "--debug", "--junit", "--shard", "1/2", "--max-age", "--",
     "-", "", "--help", "--report=x", "--config", "-c", "--auto-approve", "--resume", "--log-dir"]
)
ENVIRONMENTS = st.sampled_from([{}, {"ESSH_ALLOWED_SIGNERS": "a"}, {"ESSH_SECRETS_FILE": "f", "ESSH_SECRET_COMMAND": "c {name}"},
                                {"ESSH_ALLOWED_SIGNERS": ""}])


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, max_size=7), ENVIRONMENTS)
def test_parser_reads_what_typer_reads(rest: list[str], env: dict[str, str]):
    """Whenever the fast parser takes a command line, typer's `apply` command reads the same values from it."""
    words = ["apply", *rest]
    call = fast_apply.parse(words, env)
    if call is None:
        return
    command = typer.main.get_command(cli.app).commands["apply"]  # type: ignore[attr-defined]
    names = ("ESSH_ALLOWED_SIGNERS", "ESSH_SECRETS_FILE", "ESSH_SECRET_COMMAND", "ESSH_CONFIG")
    old = {k: os.environ.pop(k) for k in names if k in os.environ}
    os.environ.update(env)
    try:
        ctx = command.make_context("apply", words[1:])
    finally:
        for key in env:
            del os.environ[key]
        os.environ.update(old)
    p = ctx.params
    as_path = lambda value: Path(value) if value is not None else None  # noqa: E731 - typer makes Paths in the wrapper
    assert list(p["targets"]) == [call.plan_file]
    assert (as_path(p["report"]), as_path(p["log_dir"]), as_path(p["junit"]), as_path(p["resume"])) == (
        call.report, call.log_dir, call.junit, call.resume)
    assert (p["max_connections"], p["stage"], p["require_signatures"], p["progress"], p["shard"], p["max_age"]) == (
        call.max_connections, call.stage, call.require_signatures, call.progress, call.shard, call.max_age)
    assert (tuple(p["limit"] or ()), tuple(p["require_principal"] or ())) == (call.limit, call.require_principal)
    assert (p["allowed_signers"], p["secrets_file"], p["secret_command"], p["expect_digest"]) == (
        call.allowed_signers, call.secrets_file, call.secret_command, call.expect_digest)
    flags = ("fail_fast", "raw_output", "timestamps", "prefix_task", "no_color", "require_signature", "refuse_stale",
             "force", "once", "debug")
    assert [p[f] for f in flags] == [getattr(call, f) for f in flags]
