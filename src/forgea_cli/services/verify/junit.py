"""The verify-constraints report as JUnit XML: a testsuite per group, a testcase per check.

Failures carry expected and found; skipped checks are <skipped/>; warnings pass with the warning in
<system-out> (``--fail-on warn`` has already turned them into failures when asked).
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from forgea_cli.services.verify.results import CheckResult, CheckStatus


def junit_xml(by_group: dict[str, list[CheckResult]], seconds: dict[str, float]) -> str:
    suites = ET.Element("testsuites", name="forgea verify-constraints")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for group, results in by_group.items():
        suite = ET.SubElement(suites, "testsuite", name=group, time=f"{seconds.get(group, 0.0):.3f}")
        counts = {
            "tests": len(results),
            "failures": sum(r.status is CheckStatus.FAIL for r in results),
            "skipped": sum(r.status is CheckStatus.SKIP for r in results),
        }
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("errors", "0")
        for result in results:
            _testcase(suite, result)
    for key, value in totals.items():
        suites.set(key, str(value))
    suites.set("errors", "0")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _testcase(suite: ET.Element, result: CheckResult) -> None:
    case = ET.SubElement(suite, "testcase", classname=f"forgea.verify.{result.group}", name=result.id)
    case.set("time", "0")
    if result.status is CheckStatus.FAIL:
        failure = ET.SubElement(case, "failure", message=f"{result.object}: {result.message}", type="fail")
        failure.text = _details(result)
    elif result.status is CheckStatus.SKIP:
        ET.SubElement(case, "skipped", message=result.message)
    elif result.status is CheckStatus.WARN:
        ET.SubElement(case, "system-out").text = f"warning: {result.message}\n{_details(result)}"
    elif result.status is CheckStatus.INFO:
        ET.SubElement(case, "system-out").text = f"not checked: {result.message}"


def _details(result: CheckResult) -> str:
    lines = [
        f"object:   {result.object}",
        f"expected: {_text(result.expected)}",
        f"found:    {_text(result.found)}",
    ]
    if result.hint:
        lines.append(f"hint:     {result.hint}")
    if result.diff:
        lines.append(result.diff)
    return "\n".join(lines)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
