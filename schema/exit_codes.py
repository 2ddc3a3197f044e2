"""essh's exit codes: one list, shared by the CLI and the report (`Report.exit_code`).

Documented in docs/cli.md. Kept few on purpose: CI scripts branch on them.
"""

from __future__ import annotations

EXIT_OK = 0  # everything planned ran and succeeded
EXIT_FAILED = 1  # a step failed, timed out or was cancelled, or a host was unreachable
EXIT_USAGE = 2  # usage, configuration or plan-file error: nothing ran
EXIT_BUG = 70  # an internal error (EX_SOFTWARE): please report it; --debug shows the traceback
EXIT_REPORT_LOST = 74  # the run ended but its report could not be written (EX_IOERR)
EXIT_INTERRUPTED = 130  # interrupted (Ctrl-C, SIGTERM, SIGHUP)
