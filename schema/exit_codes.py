"""essh's exit codes: one list, shared by the CLI and the report (`Report.exit_code`).

Documented in docs/cli.md. Kept few on purpose: CI scripts branch on them.
"""

from __future__ import annotations

EXIT_OK = 0  # everything planned ran and succeeded
EXIT_FAILED = 1  # a step failed, timed out or was cancelled, a host was unreachable; or an apply prompt declined
EXIT_USAGE = 2  # usage, configuration or plan-file error: nothing ran
EXIT_BUG = 70  # an internal error (EX_SOFTWARE): please report it; --debug shows the traceback
EXIT_REPORT_LOST = 74  # EX_IOERR: the report, or standard output, could not be written
EXIT_INTERRUPTED = 130  # interrupted (Ctrl-C, SIGTERM or SIGHUP)
