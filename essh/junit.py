"""A report as JUnit XML, the format GitLab's and Jenkins' test views read.

One `<testsuite>` per task (in report order), one `<testcase>` per step:
`classname` is the task, `name` the host (`local` for a step without one).
`failed` becomes `<failure>` with the exit code and the output tail;
`unreachable`, `timed_out` and `cancelled` become `<error>` (the step did not
get to say whether it worked), with the failure `kind` as the `type`;
`skipped` (and `pending`/`running` in an incomplete report) becomes `<skipped>`.
Times are seconds; a suite's time is its first start to its last end.

The elements and attributes used are the subset that Jenkins' junit-10.xsd and
GitLab's parser share; tests/data/junit.xsd is that subset, and a test
validates against it. Text from hosts passes through `escape_text`: XML 1.0
cannot carry most control characters, and a person reads this output.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from essh.schema import Report, StepResult, escape_text

OUTPUT_TAIL = 4096  # characters of each stream kept in a test case (the report keeps more)
_ERRORS = frozenset({"unreachable", "timed_out", "cancelled"})
_SKIPPED = frozenset({"skipped", "pending", "running"})
# What XML 1.0 cannot hold at all, even escaped (escape_text already took the control characters).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str, *, newlines: bool = False) -> str:
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", escape_text(text, newlines=newlines))


def _text(text: str) -> str:
    return _clean(text[-OUTPUT_TAIL:], newlines=True)


def _seconds(value: float | None) -> str:
    return f"{max(value or 0.0, 0.0):.3f}"


def _case(result: StepResult) -> ET.Element:
    case = ET.Element(
        "testcase",
        classname=_clean(result.task),
        name=_clean(result.host or "local"),
        time=_seconds(result.duration),
    )
    why = _clean(result.error or "")
    if result.status == "failed":
        message = why or f"exit status {result.exit_code}"
        node = ET.SubElement(case, "failure", message=message, type=result.kind or "exit_status")
        node.text = _text(f"{message}\n{result.stderr_tail or result.stdout_tail}")
    elif result.status in _ERRORS:
        node = ET.SubElement(case, "error", message=why or result.status, type=result.kind or result.status)
        node.text = why or result.status
    elif result.status in _SKIPPED:
        ET.SubElement(case, "skipped", message=why or result.status)
    if result.stdout_tail:
        ET.SubElement(case, "system-out").text = _text(result.stdout_tail)
    if result.stderr_tail:
        ET.SubElement(case, "system-err").text = _text(result.stderr_tail)
    return case


def _counts(results: Iterable[StepResult]) -> dict[str, str]:
    tests = failures = errors = skipped = 0
    for r in results:
        tests += 1
        failures += r.status == "failed"
        errors += r.status in _ERRORS
        skipped += r.status in _SKIPPED
    return {"tests": str(tests), "failures": str(failures), "errors": str(errors), "skipped": str(skipped)}


def junit_xml(report: Report) -> bytes:
    """The report as a JUnit XML document (UTF-8, with its declaration)."""
    by_task: dict[str, list[StepResult]] = {}
    for result in report.steps:
        by_task.setdefault(result.task, []).append(result)
    root = ET.Element("testsuites", name="essh apply", time=_seconds(report.wall_seconds), **_counts(report.steps))
    for number, (task, results) in enumerate(by_task.items()):
        starts = [r.started_at for r in results if r.started_at is not None]
        ends = [r.ended_at for r in results if r.ended_at is not None]
        began = min(starts) if starts else report.started_at
        suite = ET.SubElement(
            root,
            "testsuite",
            name=_clean(task),
            id=str(number),
            hostname=_clean(report.shard or "all"),
            timestamp=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(began)),
            time=_seconds((max(ends) - min(starts)) if starts and ends else 0.0),
            **_counts(results),
        )
        suite.extend(_case(r) for r in results)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
