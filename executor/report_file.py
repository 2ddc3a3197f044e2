"""The report-file sink: the report written while the run goes on, and once more at its end.

A regular file (or a new one) is rewritten in place of the last version,
atomically (`essh.schema.write_private_file`), when the run starts and then
whenever something changed (steps started or ended), not more often than
every second (or 20 times the last write's cost, whichever is longer), with
`"complete": false`; so even SIGKILL leaves a usable record of what had ended. The final write has `"complete": true`. A
device or a FIFO (`--report /dev/stdout`) gets only the final report.

A report that cannot be written never stops the run: `error` says why, and
the caller exits with `EXIT_REPORT_LOST` after the summary.
"""

from __future__ import annotations

import os
import stat
import time

from essh.schema import encode_report_json, write_private_file

from .events import Event, RunEnded, RunStarted, StepEnded, Tick
from .report_builder import ReportBuilder

MIN_INTERVAL = 1.0


class ReportFileSink:
    def __init__(self, path: str, builder: ReportBuilder, clock=time.time) -> None:
        self.path = path
        self._builder = builder
        self._clock = clock
        self._incremental = _is_regular_or_new(path)
        self._next = 0.0
        self._seen = -1  # the builder's change count at the last write
        self.error: str | None = None
        self.final_written = False

    def handle(self, event: Event) -> None:
        if isinstance(event, RunEnded):
            self.write_final()
        elif self._incremental and self.error is None and isinstance(event, (RunStarted, StepEnded, Tick)):
            started = time.monotonic()
            if isinstance(event, RunStarted) or (started >= self._next and self._builder.changed != self._seen):
                self._seen = self._builder.changed
                self._write(complete=False)
                cost = time.monotonic() - started
                self._next = time.monotonic() + max(MIN_INTERVAL, 20 * cost)

    def write_final(self) -> None:
        if not self.final_written:
            self.final_written = True
            self._write(complete=True)

    def _write(self, *, complete: bool) -> None:
        report = self._builder.report(now=None if complete else self._clock())
        try:
            write_private_file(self.path, encode_report_json(report))
            self.error = None
        except (OSError, ValueError) as exc:
            self.error = f"cannot write the report to {self.path}: {getattr(exc, 'strerror', None) or exc}"


def _is_regular_or_new(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return True
    except OSError:
        return False
