"""Differences between two catalog snapshots (pure: works on the JSON-able dicts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SECTIONS = ("enums", "tables", "constraints", "indexes", "triggers", "functions")


@dataclass(frozen=True)
class Difference:
    kind: str
    name: str
    problem: str  # missing | extra | different
    expected: Any = None
    found: Any = None

    def describe(self) -> str:
        if self.problem == "different":
            return f"{self.kind} {self.name}: expected {self.expected!r}, found {self.found!r}"
        return f"{self.kind} {self.name}: {self.problem}"


def _singular(section: str) -> str:
    return section[:-2] if section.endswith("xes") else section[:-1]


def _compare_maps(kind: str, expected: dict, found: dict) -> list[Difference]:
    differences = []
    for name in sorted(expected.keys() | found.keys()):
        if name not in found:
            differences.append(Difference(kind, name, "missing", expected=expected[name]))
        elif name not in expected:
            differences.append(Difference(kind, name, "extra", found=found[name]))
        elif expected[name] != found[name]:
            differences.append(Difference(kind, name, "different", expected[name], found[name]))
    return differences


def _compare_tables(expected: dict, found: dict) -> list[Difference]:
    differences = []
    for table in sorted(expected.keys() | found.keys()):
        if table not in found:
            differences.append(Difference("table", table, "missing"))
        elif table not in expected:
            differences.append(Difference("table", table, "extra"))
        else:
            for d in _compare_maps("column", expected[table], found[table]):
                differences.append(Difference(d.kind, f"{table}.{d.name}", d.problem, d.expected, d.found))
    return differences


def diff_snapshots(expected: dict[str, Any], found: dict[str, Any]) -> list[Difference]:
    differences: list[Difference] = []
    for section in SECTIONS:
        want, have = expected.get(section, {}), found.get(section, {})
        if section == "tables":
            differences.extend(_compare_tables(want, have))
        else:
            differences.extend(_compare_maps(_singular(section), want, have))
    return differences
