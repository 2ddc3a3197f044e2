"""`essh report junit`: valid against the JUnit schema GitLab and Jenkins read, and saying what happened."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema
from hypothesis import given, settings
from hypothesis import strategies as st

from essh.junit import junit_xml

from reports import mixed, report, result

XSD = xmlschema.XMLSchema(str(Path(__file__).parent.parent / "data" / "junit.xsd"))


def test_every_status_maps_to_its_junit_element_and_validates():
    data = junit_xml(mixed())
    XSD.validate(data.decode())
    root = ET.fromstring(data)
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("6", "1", "3", "1")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["deploy", "migrate <db>", "notify"]
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    failure = cases[("deploy", "web-2")].find("failure")
    assert failure.get("type") == "exit_status" and failure.get("message") == "exit status 3"
    assert "boom\\x1b[2K\\x00" in failure.text  # control characters escaped, never raw in XML
    assert cases[("deploy", "web-3")].find("error").get("type") == "refused"
    assert cases[("migrate <db>", "db|1")].find("error").get("message") == "timed out after 5s"
    assert cases[("migrate <db>", "local")].find("error") is not None
    assert cases[("notify", "web-1")].find("skipped") is not None
    assert cases[("deploy", "web-1")].find("system-out").text == "ok\n"
    assert cases[("deploy", "web-1")].get("time") == "1.500"


def test_an_incomplete_report_counts_steps_not_ended_as_skipped():
    data = junit_xml(report([result(0, "t", "h", "running"), result(1, "t", "h2", "pending")], complete=False))
    XSD.validate(data.decode())
    assert ET.fromstring(data).get("skipped") == "2"


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40), st.text(max_size=200), st.sampled_from(["failed", "unreachable", "succeeded", "skipped"]))
def test_any_text_from_hosts_or_configuration_gives_valid_xml(name, output, status):
    data = junit_xml(report([result(0, name, name, status, stdout_tail=output, stderr_tail=output, error=output or None)]))
    XSD.validate(data.decode())
