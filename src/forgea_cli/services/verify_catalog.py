"""Catalog checks: the live schema against the expected snapshot of the database's revision.

Pure: works on the JSON-able snapshots of ``forgea_cli.db.catalog``. Every object the snapshot holds
gets a result. Objects the snapshot does not hold fail when they sit on (or belong to) forgea's
tables, and are a warning otherwise: the web team may add tables, functions and enums of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from forgea_cli.services.verify_results import CheckResult, failed, passed, warned

TRIGGER_ENABLED = {"O": "enabled", "D": "disabled", "R": "replica only", "A": "always"}
_FK_ACTION = re.compile(r"ON (DELETE|UPDATE) (SET NULL|SET DEFAULT|NO ACTION|RESTRICT|CASCADE)")
_TRIGGER_SHAPE = re.compile(
    r"CREATE (?:CONSTRAINT )?TRIGGER \S+ (BEFORE|AFTER|INSTEAD OF) (.+?) ON .*?"
    r"FOR EACH (ROW|STATEMENT) .*?EXECUTE (?:FUNCTION|PROCEDURE) (\S+)"
)
_RESTORE_HINT = "restore it from the migration that defines it (`forgea migrate downgrade` then `upgrade`)"


@dataclass(frozen=True)
class Ours:
    """Names forgea's revisions create (any revision), to tell our objects from the web team's."""

    tables: frozenset[str]
    enums: frozenset[str]
    functions: frozenset[str]

    @classmethod
    def of(cls, snapshots: Iterable[dict[str, Any]]) -> Ours:
        tables: set[str] = set()
        enums: set[str] = set()
        functions: set[str] = set()
        for snapshot in snapshots:
            tables |= snapshot["tables"].keys()
            enums |= snapshot["enums"].keys()
            functions |= snapshot["functions"].keys()
        return cls(frozenset(tables), frozenset(enums), frozenset(functions))


def check_catalog(expected: dict[str, Any], found: dict[str, Any], ours: Ours) -> list[CheckResult]:
    results: list[CheckResult] = []
    results += _check_tables(expected["tables"], found["tables"], ours)
    for kind, section in (("constraint", "constraints"), ("index", "indexes"), ("trigger", "triggers")):
        results += _check_table_objects(kind, expected[section], found[section], ours)
    results += _check_named("enum", expected["enums"], found["enums"], ours.enums)
    results += _check_named("function", expected["functions"], found["functions"], ours.functions)
    return results


# --- tables and columns ---------------------------------------------------------------------------


def _check_tables(expected: dict, found: dict, ours: Ours) -> list[CheckResult]:
    results = []
    for table in sorted(expected):
        check_id = f"catalog.table.{table}"
        if table not in found:
            results.append(_missing("table", check_id, table, "present"))
            continue
        results.append(passed(check_id, table, f"table {table} exists"))
        results += _check_columns(table, expected[table], found[table])
    for table in sorted(found.keys() - expected.keys()):
        results.append(_extra(f"catalog.table.{table}", table, "table", table in ours.tables))
    return results


def _check_columns(table: str, expected: dict, found: dict) -> list[CheckResult]:
    results = []
    for column in sorted(expected.keys() | found.keys()):
        name = f"{table}.{column}"
        check_id = f"catalog.column.{name}"
        if column not in expected:
            results.append(_extra(check_id, name, "column", True, found=found[column]))
        elif column not in found:
            results.append(_missing("column", check_id, name, expected[column]))
        else:
            results.append(_compare("column", check_id, name, expected[column], found[column]))
    return results


# --- constraints, indexes, triggers (each belongs to a table) --------------------------------------


def _check_table_objects(kind: str, expected: dict, found: dict, ours: Ours) -> list[CheckResult]:
    results = []
    for name in sorted(expected):
        check_id = f"catalog.{kind}.{name}"
        want = _described(kind, expected[name])
        if name not in found:
            results.append(_missing(kind, check_id, name, want))
        else:
            results.append(_compare(kind, check_id, name, want, _described(kind, found[name])))
    for name in sorted(found.keys() - expected.keys()):
        # On the web team's own tables their objects are theirs; the table itself is reported.
        if found[name]["table"] in ours.tables:
            results.append(
                _extra(f"catalog.{kind}.{name}", name, kind, True, found=_described(kind, found[name]))
            )
    return results


def _described(kind: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The snapshot entry plus the parts a reader looks for, parsed out of the definition."""
    definition = entry["definition"]
    extra: dict[str, Any] = {}
    if kind == "constraint" and entry.get("type") == "f":
        actions = dict(_FK_ACTION.findall(definition))
        extra = {
            "on_delete": actions.get("DELETE", "NO ACTION"),
            "on_update": actions.get("UPDATE", "NO ACTION"),
        }
    elif kind == "index":
        _, _, predicate = definition.partition(" WHERE ")
        extra = {"predicate": predicate or None}
    elif kind == "trigger":
        shape = _TRIGGER_SHAPE.match(definition)
        timing, events, level, function = shape.groups() if shape else (None, None, None, None)
        extra = {
            "enabled": TRIGGER_ENABLED.get(entry["enabled"], entry["enabled"]),
            "timing": timing,
            "events": events,
            "for_each": level,
            "function": function,
        }
    return {**entry, **extra}


# --- enums and functions (schema-level) -----------------------------------------------------------


def _check_named(kind: str, expected: dict, found: dict, ours: frozenset[str]) -> list[CheckResult]:
    results = []
    for name in sorted(expected):
        check_id = f"catalog.{kind}.{name}"
        if name not in found:
            results.append(_missing(kind, check_id, name, expected[name]))
        else:
            results.append(_compare(kind, check_id, name, expected[name], found[name]))
    for name in sorted(found.keys() - expected.keys()):
        results.append(_extra(f"catalog.{kind}.{name}", name, kind, name in ours, found=found[name]))
    return results


# --- comparison -----------------------------------------------------------------------------------


def _compare(kind: str, check_id: str, name: str, expected: Any, found: Any) -> CheckResult:
    if expected == found:
        return passed(check_id, name, f"{kind} {name} matches")
    return failed(
        check_id,
        name,
        f"{kind} {name} differs: {_differences(expected, found)}",
        expected=expected,
        found=found,
        hint=_hint_for(kind, name, found),
    )


def _differences(expected: Any, found: Any) -> str:
    if not (isinstance(expected, dict) and isinstance(found, dict)):
        return (
            _labels_difference(expected, found)
            if isinstance(expected, list)
            else f"{expected!r} -> {found!r}"
        )
    keys = [k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k)]
    # Parsed parts say it better than the whole definition; show the definition only when alone.
    shown = [k for k in keys if k != "definition"] or keys
    return "; ".join(f"{k} {_short(expected.get(k))} -> {_short(found.get(k))}" for k in sorted(shown))


def _labels_difference(expected: list, found: list) -> str:
    added = [label for label in found if label not in expected]
    removed = [label for label in expected if label not in found]
    parts = [f"label(s) added: {', '.join(added)}"] if added else []
    parts += [f"label(s) removed: {', '.join(removed)}"] if removed else []
    return "; ".join(parts) or f"labels reordered: {', '.join(found)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _hint_for(kind: str, name: str, found: Any) -> str:
    if kind == "trigger" and isinstance(found, dict) and found.get("enabled") != "enabled":
        return f'ALTER TABLE "{found.get("table")}" ENABLE TRIGGER {name}; then find out who disabled it'
    if kind == "function":
        return "the function body was replaced; re-create it from its migration (downgrade, then upgrade)"
    if kind == "enum":
        return "enum labels cannot be removed in place: restore the type from its migration"
    return _RESTORE_HINT


def _missing(kind: str, check_id: str, name: str, expected: Any) -> CheckResult:
    return failed(
        check_id, name, f"{kind} {name} is missing", expected=expected, found="missing", hint=_RESTORE_HINT
    )


def _extra(check_id: str, name: str, kind: str, ours: bool, *, found: Any = "present") -> CheckResult:
    if ours:
        return failed(
            check_id,
            name,
            f"{kind} {name} is not in the expected catalog of this revision",
            expected="absent",
            found=found,
            hint="drop it, or add it through a forgea migration",
        )
    return warned(
        check_id,
        name,
        f"{kind} {name} is not forgea's (left alone: the web app may own it)",
        expected="absent",
        found=found,
    )
