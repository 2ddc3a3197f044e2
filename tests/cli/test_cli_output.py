"""What `essh run` shows of a step's output: escaped by default, raw on request; and a stdout
that cannot be written (not a reader that left) is one line and exit 74."""

from __future__ import annotations

import subprocess
import sys

from essh.schema import EXIT_REPORT_LOST

HOSTILE = r'''
task "title" { script = [[printf 'ok\033]0;pwned\007\033[2K\rfaked\n']] }
'''


def test_remote_output_is_escaped_unless_raw_output_is_asked(ws):
    ws.write(".esshconfig.lua", HOSTILE)
    shown = ws.essh("run", "title", "--report", "r.json")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == "ok\\x1b]0;pwned\\x07\\x1b[2K\\rfaked\n"
    raw = ws.essh("run", "title", "--report", "r.json", "--raw-output")
    # (text mode reads the carriage return as a newline)
    assert raw.returncode == 0 and raw.stdout == "ok\x1b]0;pwned\x07\x1b[2K\nfaked\n"


def test_a_stdout_that_cannot_be_written_is_one_line_and_exit_74(ws):
    ws.write(".esshconfig.lua", HOSTILE)
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "essh", "tasks"], cwd=ws.path, stdout=full,
                              stderr=subprocess.PIPE, text=True, env={"HOME": str(ws.path / "home"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == EXIT_REPORT_LOST
    assert done.stderr == "essh: cannot write to standard output: No space left on device\n"


def test_exec_backend_is_checked_by_the_planners_one_rule(ws):
    ws.write(".esshconfig.lua", 'host "h" { HostName = "127.0.0.1" }\n')
    done = ws.essh("exec", "--backend", "bogus", "-t", "h", "--", "echo", "hi")
    assert done.returncode == 2
    assert done.stderr == 'essh: configuration error: <command line>: task exec: backend must be "remote" or "local", got a string ("bogus")\n'


def test_a_script_file_changed_while_planning_is_planned_as_first_read(ws, monkeypatch):
    from essh.planner import loader

    script = ws.write("run.sh", "echo first\n")
    config = ws.write(".esshconfig.lua", 'task "a" { script_file = "run.sh" }\ntask "b" { script_file = "run.sh" }\n')
    real_open = open
    reads = []

    class ChangesAfterReading:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()
            script.write_text("echo second\n")  # the file changes right after each read

        def read(self):
            return self.handle.read()

    def changing_open(path, *args, **kwargs):
        handle = real_open(path, *args, **kwargs)
        if str(path) != str(script):
            return handle
        reads.append(path)
        return ChangesAfterReading(handle)

    monkeypatch.setattr(loader, "open", changing_open, raising=False)
    loaded = loader.load_config([str(config)])
    assert len(reads) == 1
    assert {t.name: [p.code for p in t.script] for t in loaded.tasks.values()} == {"a": ["echo first\n"], "b": ["echo first\n"]}


def test_a_report_that_cannot_be_written_still_shows_the_summary_and_exits_74(ws):
    import os
    import stat

    full = ws.path / "full"  # a private copy of /dev/full: writes fail with ENOSPC
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    ws.write(".esshconfig.lua", 'task "t" { script = "echo ran" }\n')
    done = ws.essh("run", "t", "--report", str(full))
    assert done.returncode == EXIT_REPORT_LOST, done.stderr
    assert done.stdout == "ran\n"
    assert "1 succeeded" in done.stderr
    assert done.stderr.rstrip().endswith(f"essh: cannot write the report to {full}: No space left on device")
