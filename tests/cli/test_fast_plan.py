"""`essh plan` without typer (essh.fast_plan) says and writes exactly what the typer command does.

Each command line runs twice as a real process: through the console script's
entry (the fast path when it applies) and straight through essh.cli.main (always
typer); stdout, stderr, exit code and the plan file must match byte for byte.
The parser is also held against typer's own reading of random command lines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st

from essh import cli, fast_plan

CONFIG = """
host "web-1" { HostName = "127.0.0.1", tags = {"web"} }
host "web-2" { HostName = "127.0.0.2", tags = {"web"} }
task "hello" { targets = {"web"}, script = "echo hello $ESSH_TASK_ARGS_1" }
task "other" { targets = {"web-1"}, script = {"echo one", "echo two"}, prefix = true }
"""

FAST = "import sys\ntry:\n    from essh.entry import main; main()\nfinally:\n    sys.stderr.write('typer:%s' % ('typer' in sys.modules))"
TYPER = "import sys; from essh.cli import main; main(sys.argv[1:])"


def _run(code: str, path: Path, words: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ESSH_", "SOURCE_DATE_EPOCH", "NO_COLOR", "FORCE_COLOR"))}
    full_env.update({"HOME": str(path / "home"), "SOURCE_DATE_EPOCH": "0", **env})
    return subprocess.run(
        [sys.executable, "-c", code, *words], cwd=path, env=full_env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
    )


FORMS = [
    (["plan"], {}),
    (["plan", "hello"], {}),
    (["plan", "hello", "other", "-o", "p.bin"], {}),
    (["plan", "-o", "sub/p.bin", "--json", "hello"], {}),
    (["plan", "--verbose", "other", "--no-color"], {"FORCE_COLOR": "1"}),
    (["plan", "hello", "-v"], {"FORCE_COLOR": "1"}),
    (["plan", "hello", "--", "first", "--second"], {}),
    (["plan", "--debug", "hello", "--out", "p.bin"], {}),
    (["plan", "hello"], {"ESSH_DEBUG": "1"}),
    (["plan", "-c", "alt.lua", "hello"], {}),
    (["plan", "hello"], {"ESSH_CONFIG": "alt.lua"}),
    (["plan", "hello", "global-task"], {"ESSH_WITH_GLOBAL": "1", "ESSH_SYSTEM_DIR": "etc"}),  # both registries
    (["plan", "--with-global", "global-task"], {"ESSH_SYSTEM_DIR": "etc"}),
    # errors: one line, the same code
    (["plan", "nope"], {}),
    (["plan", "hello", "-c", "missing.lua"], {}),
    (["plan", "hello", "-o", "file/p.bin"], {}),
    (["plan", "hello"], {"SOURCE_DATE_EPOCH": "soon"}),
    (["plan", "broken"], {"ESSH_CONFIG": "broken.lua"}),
    # left to typer: help, usage errors, other options
    (["plan", "--help"], {}),
    (["plan", "--bogus"], {}),
    (["plan", "-o"], {}),
    (["plan", "--out=p.bin", "hello"], {}),
    (["plan", "-o", "a.bin", "-o", "b.bin", "hello"], {}),
    (["plan", "--inline-limit", "x", "hello"], {}),
]


@pytest.mark.parametrize(("words", "env"), FORMS, ids=[" ".join(w) + (f" {e}" if e else "") for w, e in FORMS])
def test_fast_path_and_typer_agree(tmp_path: Path, words: list[str], env: dict[str, str]):
    results = []
    for code in (FAST, TYPER):
        place = tmp_path / ("fast" if code is FAST else "typer")
        (place / "home").mkdir(parents=True)
        (place / ".esshconfig.lua").write_text(CONFIG)
        (place / "alt.lua").write_text(CONFIG.replace('"hello"', '"hello"', 1) + 'task "alt" { targets = {"web-2"}, script = "true" }\n')
        (place / "broken.lua").write_text('task "broken" {\n  targets = 5,\n}\n')
        (place / "file").write_text("not a folder")
        (place / "home" / ".essh").mkdir()
        (place / "home" / ".essh" / "config.lua").write_text(
            'host "g-1" { HostName = "127.0.0.3" }\ntask "global-task" { targets = {"g-1"}, script = "true" }\n')
        result = _run(code, place, words, env)
        result.stdout, result.stderr = (text.replace(str(place), "<ws>") for text in (result.stdout, result.stderr))
        files = {p.name: p.read_bytes() for p in [place / "p.bin", place / "sub" / "p.bin"] if p.exists()}
        results.append((result, files))
    (fast, fast_files), (slow, slow_files) = results
    stderr, _, loaded = fast.stderr.rpartition("typer:")
    assert (fast.returncode, fast.stdout, stderr, fast_files) == (slow.returncode, slow.stdout, slow.stderr, slow_files)
    assert "Traceback" not in stderr
    if fast_plan.parse(words, env) is not None:
        assert loaded == "False", "the fast path imported typer"


def test_common_forms_take_the_fast_path():
    assert fast_plan.parse(["plan", "-o", "x.bin", "t"], {}) == fast_plan.PlanCall(tasks=("t",), out=Path("x.bin"))
    assert fast_plan.parse(["plan", "t", "--", "-o", "a"], {}) == fast_plan.PlanCall(tasks=("t",), task_args=("-o", "a"))
    for words in (["plan", "-h"], ["plan", "--refresh"], ["plan", "-vo", "x"], ["plan", "-"], ["show", "x"], ["plan", "-c", ""]):
        assert fast_plan.parse(words, {}) is None, words
    assert fast_plan.parse(["plan"], {"_ESSH_COMPLETE": "bash_source"}) is None


WORDS = st.sampled_from(
    ["hello", "other", "-o", "--out", "p.bin", "-c", "alt.lua", "--config", "--json", "-v", "--verbose", "--no-color",
     "--debug", "--", "-", "", "--help", "--refresh", "--out=x", "-vo", "x-y", "--inline-limit", "3"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, max_size=7), st.booleans())
def test_parser_reads_what_typer_reads(rest: list[str], with_env_config: bool):
    """Whenever the fast parser takes a command line, typer's `plan` command reads the same values from it."""
    env = {"ESSH_CONFIG": "env.lua"} if with_env_config else {}
    words = ["plan", *rest]
    call = fast_plan.parse(words, env)
    if call is None:
        return
    cut = words.index("--") if "--" in words else len(words)
    command = typer.main.get_command(cli.app).commands["plan"]  # type: ignore[attr-defined]
    old = {k: os.environ.pop(k) for k in ("ESSH_CONFIG",) if k in os.environ}
    os.environ.update(env)
    try:
        ctx = command.make_context("plan", words[1:cut])
    finally:
        for key in env:
            del os.environ[key]
        os.environ.update(old)
    p = ctx.params
    out = Path(p["out"]) if p["out"] is not None else None  # typer makes the Path in the command's wrapper
    assert (tuple(p["tasks"] or ()), out, p["config"], p["json"], p["verbose"], p["no_color"], p["debug"]) == (
        call.tasks, call.out, call.config, call.json, call.verbose, call.no_color, call.debug
    )
    assert call.task_args == tuple(words[cut + 1 :])
    assert (p["sign_key"], p["diff_against"], p["refresh"], p["strict"]) == (None, None, False, False)
