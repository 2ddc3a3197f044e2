"""ESSH's modules with local git repositories (no network): import, nested imports, update to a
new commit, the lock file, a missing module, a lock mismatch, a syntax error, an import cycle."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from cli_workspace import one_error_line


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                               "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(repo), "PATH": "/usr/bin:/bin"})
    return done.stdout.strip()


def make_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "-b", "main")
    return commit(path, files)


def commit(path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "-m", "c")
    return path


def test_import_update_lock_and_plan_without_network(ws, tmp_path):
    helper = make_repo(tmp_path / "helper", {"index.lua": 'return { greeting = "hello" }\n'})
    lib = make_repo(tmp_path / "lib", {
        "index.lua": f'local h = import "file://{helper}"\nreturn {{ version = "1", greeting = h.greeting }}\n',
        "sub/index.lua": 'return { sub = true }\n',
    })
    git(lib, "tag", "v1")
    ws.write(".esshconfig.lua", f"""
local lib = import "file://{lib}?ref=v1"
local sub = import "git::file://{lib}//sub"
local here = import "./local-mod"
task "t" {{ script = "echo " .. lib.greeting .. " " .. lib.version .. " " .. tostring(sub.sub) .. " " .. here.name }}
""")
    ws.write("local-mod/index.lua", 'return { name = "local" }\n')
    missing = ws.essh("plan", "t")
    assert missing.returncode == 2
    assert f"module file://{lib}?ref=v1 is not in the lock file .essh.lock.json: run `essh modules update`" in one_error_line(missing)

    updated = ws.essh("modules", "update")
    assert updated.returncode == 0, updated.stderr
    lock = json.loads((ws.path / ".essh.lock.json").read_text())["modules"]
    assert set(lock) == {f"file://{lib}?ref=v1", f"git::file://{lib}//sub", f"file://{helper}"}
    assert lock[f"file://{lib}?ref=v1"]["commit"] == git(lib, "rev-parse", "v1")
    assert all(entry["digest"].startswith("sha256:") for entry in lock.values())

    planned = ws.essh("plan", "t", "--verbose")
    assert planned.returncode == 0, planned.stderr
    assert "echo hello 1 true local" in planned.stdout

    # A new commit upstream changes nothing until `essh modules update`.
    commit(lib, {"index.lua": 'return { version = "2", greeting = "hi" }\n'})
    git(lib, "tag", "-f", "v1")
    assert "echo hello 1 true local" in ws.essh("plan", "t", "--verbose").stdout
    assert ws.essh("--update").returncode == 0
    assert "echo hi 2 true local" in ws.essh("plan", "t", "--verbose").stdout

    # An installed copy edited by hand no longer matches the lock.
    installed = next((ws.path / ".essh" / "modules").glob("lib-*"))
    (installed / "index.lua").write_text("return { version = 'evil', greeting = 'x' }\n")
    mismatch = ws.essh("plan", "t")
    assert mismatch.returncode == 2 and "does not match the lock file" in one_error_line(mismatch)
    assert ws.essh("modules", "clean").returncode == 0
    gone = ws.essh("plan", "t")
    assert gone.returncode == 2 and f"module file://{lib}?ref=v1 is not installed: run `essh modules update`" in one_error_line(gone)


def test_a_syntax_error_in_a_module_names_its_file_and_line(ws, tmp_path):
    ws.write("mod/index.lua", "local x = 1\nreturn {\n")
    ws.write(".esshconfig.lua", 'local m = import "mod"\n')
    result = ws.essh("tasks")
    assert result.returncode == 2
    assert f"{ws.path / 'mod' / 'index.lua'}:3:" in one_error_line(result)


def test_an_import_cycle_is_refused_with_its_path(ws):
    ws.write("a/index.lua", 'return import "../b"\n')
    ws.write("b/index.lua", 'return import "../a"\n')
    ws.write(".esshconfig.lua", 'local m = import "a"\n')
    result = ws.essh("tasks")
    assert result.returncode == 2
    assert "import cycle: a -> ../b -> ../a" in one_error_line(result)


def test_a_module_source_that_git_would_take_as_an_option_is_refused(ws, tmp_path):
    marker = tmp_path / "ran"
    for source in (f"--upload-pack=touch {marker}; false .git", f"file:///nowhere.git?ref=--output={marker}"):
        ws.write(".esshconfig.lua", f'local m = import "{source}"\n')
        for command in (["modules", "update"], ["tasks"]):
            result = ws.essh(*command)
            assert result.returncode == 2 and "cannot start with '-'" in one_error_line(result), result.stderr
    assert not marker.exists()
