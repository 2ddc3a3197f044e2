"""The status report survives its JSON form, deterministically."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings
from plan_strategies import reports

from essh.schema import STEP_STATUSES, Report, StepResult, Totals, decode_report_json, encode_report_json


@settings(max_examples=100)
@given(reports)
def test_report_json_round_trip(report):
    data = encode_report_json(report)
    assert decode_report_json(data) == report
    assert encode_report_json(decode_report_json(data)) == data
    assert data.endswith(b"}\n")
    json.loads(data)  # plain JSON, readable by anything


def test_report_json_is_indented_in_field_order():
    report = Report(
        essh_version="0.1.0",
        plan_digest="ab" * 32,
        started_at=1.0,
        ended_at=2.5,
        wall_seconds=1.5,
        exit_code=1,
        totals=Totals(succeeded=1, failed=1),
        steps=(
            StepResult(step=0, task="deploy", host="web-1", status="succeeded", exit_code=0),
            StepResult(step=1, task="deploy", host=None, status="failed", exit_code=3, error="exit status 3"),
        ),
    )
    text = encode_report_json(report).decode()
    assert text.startswith('{\n  "format_version": 2,\n  "essh_version": "0.1.0",\n  "plan_digest": ')
    assert '"host": null' in text  # no field is left out of the report
    # running, pending: incomplete reports only; changed, unchanged: steps with file operations
    assert list(json.loads(text)["totals"]) == [*STEP_STATUSES, "running", "pending", "changed", "unchanged"]


def test_unknown_report_fields_are_refused():
    with pytest.raises(msgspec.ValidationError, match="unknown field `extra`"):
        decode_report_json(b'{"extra": 1}')
