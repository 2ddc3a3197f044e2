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
