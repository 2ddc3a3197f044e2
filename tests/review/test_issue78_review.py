"""Review of issues 7 and 8 as landed (uploads on an exec channel, directory uploads; registries and the
re/yaml/template Lua libraries), as an adversary.

Each test states what an attacker, a careless configuration or a racing host does and what essh should do.
The twelve defects this review found (Python memory outside the Lua cap in re, yaml and template; an upload
moved inside a directory at its dest; a folder name ending in a newline; private files made world-readable
by folder uploads; a world-writable global config; a FIFO source; download paths escaping their folder or
spelled twice; a download onto a directory; library errors without the configuration's line) were fixed;
their tests now pass.
The upload program is a POSIX sh program: its tests run it with the real `sh` on a scratch folder, as the
host would (the transport only feeds it its standard input). `essh` runs as a subprocess with a scratch HOME.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from essh.executor.remote_files import upload_program

ROOT = Path(__file__).resolve().parents[2]
HOST = 'host "web-1" { HostName = "127.0.0.1" }\n'
RSS_CAP_KIB = 640 * 1024  # Lua is capped at 512 MiB (lua_limits.Limits); a tiny configuration plans in ~60 MiB


@pytest.fixture
def scratch():
    path = Path(tempfile.mkdtemp(prefix="essh-review78-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _plan(folder: Path, config: str, *args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """`essh plan` in `folder` (address space capped at 1.5 GiB to spare the machine); (result, peak RSS KiB)."""
    (folder / "home").mkdir(exist_ok=True)
    (folder / ".esshconfig.lua").write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESSH_")}
    env["HOME"] = str(folder / "home")

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "essh", "plan", *args], cwd=folder, env=env, preexec_fn=cap,
            stdout=out, stderr=err, stdin=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read()), usage.ru_maxrss


def _upload(dest: str, data: bytes, *, parents: bool = False) -> subprocess.CompletedProcess[bytes]:
    program = upload_program(dest, len(data), 0o644, None, None, parents=parents)
    return subprocess.run(["sh", "-c", program], input=data, capture_output=True, timeout=30)


# --- issue 7: the upload program ------------------------------------------------------------------


def test_an_upload_never_writes_inside_a_directory_at_its_dest(scratch: Path):
    # Between `observe` and the upload program (two separate runs), someone who can write the destination's
    # folder (a shared /tmp-like folder, a privileged upload's dest beside a user's files) puts a symlink
    # to a directory at dest. The upload must fail and write nothing into that directory.
    target = scratch / "elsewhere"
    target.mkdir()
    (scratch / "app.conf").symlink_to(target)
    done = _upload(str(scratch / "app.conf"), b"hello")
    assert list(target.iterdir()) == [], "the upload wrote a file inside the directory the dest points to"
    assert done.returncode != 0


def test_a_directory_upload_with_a_newline_ending_folder_name_goes_where_planned(scratch: Path):
    # A directory upload keeps the local names below it; a folder "d\n" is a legal name. The program must
    # create "d\n" (not "d") and put the file there.
    dest = str(scratch / "d\n" / "f")
    done = _upload(dest, b"hello", parents=True)
    assert not (scratch / "d").exists(), "the upload created a folder the plan never named"
    assert done.returncode == 0, done.stderr
    assert Path(dest).read_bytes() == b"hello"


# --- issue 7: directory uploads in the plan ---------------------------------------------------------


def test_a_directory_upload_does_not_make_a_private_file_world_readable(scratch: Path):
    (scratch / "files").mkdir()
    key = scratch / "files" / "tls.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    key.chmod(0o600)
    config = HOST + 'task "t" { targets = "web-1", files = { { upload = "files", dest = "/srv/app" } } }\n'
    done, _ = _plan(scratch, config, "t", "-o", "plan.bin")
    assert done.returncode == 0, done.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESSH_")}
    env["HOME"] = str(scratch / "home")
    shown = subprocess.run([sys.executable, "-m", "essh", "show", "plan.bin", "--json"], cwd=scratch, env=env,
                           capture_output=True, text=True, timeout=60)
    (op,) = json.loads(shown.stdout)["operations"]
    assert op["mode"] & 0o077 == 0, f"{op['dest']} planned with mode {op['mode']:04o}, its source is 0600"


# --- issue 8: the re and yaml libraries stay inside the planner's memory limit ----------------------


def test_yaml_aliases_cannot_exhaust_memory_outside_the_lua_cap(scratch: Path):
    doc = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    for prev, name in zip("abcdefg", "bcdefgh"):
        doc += f"{name}: &{name} [" + ",".join(["*" + prev] * 10) + "]\n"
    config = HOST + f"local yaml = require 'yaml'\nlocal t = assert(yaml.parse([[\n{doc}]]))\n" + \
        'task "t" { targets = "web-1", script = "true" }\n'
    done, rss = _plan(scratch, config, "t")
    assert rss < RSS_CAP_KIB, f"peak RSS {rss // 1024} MiB for a {len(doc)}-byte YAML document (exit {done.returncode})"
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_re_matches_cannot_exhaust_memory_outside_the_lua_cap(scratch: Path):
    config = HOST + "local re = require 're'\nlocal s = string.rep('a', 5000000)\nlocal n = select(2, re.gsub(s, '" + "()" * 30 + "', ''))\n" + \
        'task "t" { targets = "web-1", script = "echo " .. n }\n'
    done, rss = _plan(scratch, config, "t")
    assert rss < RSS_CAP_KIB, f"peak RSS {rss // 1024} MiB for re.gsub on a 5 MB string (exit {done.returncode})"
    assert "Traceback" not in done.stderr


# --- issue 7: downloads ------------------------------------------------------------------------------


@pytest.mark.sshd
def test_a_download_onto_a_local_directory_fails_naming_the_path(sshd):
    # The local path of a download is already a directory (a previous run, a typo). The step must fail with
    # its reason (or the run end with one line); no traceback, no temporary file left beside it.
    sys.path.insert(0, str(ROOT / "tests" / "executor"))
    from test_apply_files import apply, plan_of  # the fleet's helpers

    shared = Path(tempfile.mkdtemp(prefix="essh-review78-"))
    shared.chmod(0o777)
    try:
        (shared / "remote.log").write_text("line\n")
        (shared / "got" / "web-1").mkdir(parents=True)
        plan = plan_of(sshd, shared, f"""
        task "conf" {{ targets = "web-1", files = {{ {{ download = "{shared}/remote.log", dest = "{shared}/got/{{{{.Host.Name}}}}" }} }} }}
        """)
        report, err = apply(plan)
        (step,) = report.steps
        assert step.status == "failed" and "Traceback" not in err
        assert sorted(p.name for p in (shared / "got").iterdir()) == ["web-1"]  # no temporary file left
        assert "got/web-1" in (step.error or ""), step.error
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_template_output_cannot_exhaust_memory_outside_the_lua_cap(scratch: Path):
    body = "{{range .}}{{range $}}{{range $}}" + "x" * 90 + "{{end}}{{end}}{{end}}"
    config = HOST + "local template = require 'template'\nlocal l = {}\nfor i = 1, 1000 do l[i] = i end\n" + \
        f"local v = assert(template.dostring([==[{body}]==], l))\n" + 'task "t" { targets = "web-1", script = "true" }\n'
    done, rss = _plan(scratch, config, "t")
    assert rss < RSS_CAP_KIB, f"peak RSS {rss // 1024} MiB for a {len(body)}-byte template (exit {done.returncode})"
    assert done.returncode == 2 and "Traceback" not in done.stderr


# --- issue 8: errors keep the configuration's file:line ---------------------------------------------


def _tasks(folder: Path, config: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    (folder / "home").mkdir(exist_ok=True)
    (folder / ".esshconfig.lua").write_text(config)
    full = {k: v for k, v in os.environ.items() if not k.startswith("ESSH_")}
    full.update(HOME=str(folder / "home"), **(env or {}))
    return subprocess.run([sys.executable, "-m", "essh", "tasks"], cwd=folder, env=full, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("line", [
    pytest.param("local re = require 're'\n\nlocal x = re.gsub('abc', '(b)', '%5')\n", id="re.gsub-capture-index"),
    pytest.param("local yaml = require 'yaml'\n\nlocal x = yaml.dump({ f = function() end })\n", id="yaml.dump-function"),
])
def test_a_library_error_names_the_configuration_line(scratch: Path, line: str):
    done = _tasks(scratch, line)
    assert done.returncode == 2
    assert ".esshconfig.lua:3:" in done.stderr, done.stderr


# --- issue 8: the global registry ---------------------------------------------------------------------


def test_a_world_writable_global_config_is_not_loaded_silently(scratch: Path):
    system = scratch / "etc-essh"
    system.mkdir()
    (system / "config.lua").write_text('host "other" { HostName = "127.0.0.1" }\ntask "g" { targets = "other", script = "id" }\n')
    (system / "config.lua").chmod(0o666)
    done = _tasks(scratch, HOST + 'task "t" { targets = "web-1", script = "true" }\n',
                  env={"ESSH_WITH_GLOBAL": "1", "ESSH_SYSTEM_DIR": str(system)})
    assert done.returncode != 0 or str(system / "config.lua") in done.stderr, (done.returncode, done.stdout, done.stderr)


# --- issue 7: download paths ----------------------------------------------------------------------------


def test_two_downloads_to_one_local_file_spelled_differently_are_refused(scratch: Path):
    config = HOST + """
task "a" { targets = "web-1", files = { { download = "/var/log/x", dest = "logs/{{.Host.Name}}/x" } } }
task "b" { targets = "web-1", files = { { download = "/var/log/y", dest = "logs/./{{.Host.Name}}/x" } } }
"""
    done, _ = _plan(scratch, config, "a", "b")
    assert done.returncode == 2, done.stdout


def test_a_per_host_download_path_stays_in_its_folder(scratch: Path):
    config = """host "../../escaped" { HostName = "127.0.0.1" }
task "a" { targets = "../../escaped", files = { { download = "/var/log/x", dest = "logs/{{.Host.Name}}/x" } } }
"""
    done, _ = _plan(scratch, config, "a")
    assert done.returncode == 2, done.stdout


def test_an_upload_whose_source_is_a_fifo_is_a_config_error(scratch: Path):
    os.mkfifo(scratch / "pipe")
    (scratch / "home").mkdir()
    (scratch / ".esshconfig.lua").write_text(HOST + 'task "t" { targets = "web-1", files = { { upload = "pipe", dest = "/srv/x" } } }\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESSH_")}
    env["HOME"] = str(scratch / "home")
    try:
        done = subprocess.run([sys.executable, "-m", "essh", "plan", "t"], cwd=scratch, env=env, capture_output=True,
                              text=True, timeout=20, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("essh plan still reading a FIFO after 20 s")
    assert done.returncode == 2 and "pipe" in done.stderr
