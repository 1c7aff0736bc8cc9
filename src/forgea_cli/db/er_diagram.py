"""A Mermaid ER diagram of the schema at head, generated from db/tables.py (embedded in docs/schema.md)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from sqlalchemy import Table

from forgea_cli.db.tables import metadata

BEGIN, END = "<!-- er-diagram:begin -->", "<!-- er-diagram:end -->"


def _type_name(column) -> str:
    name = column.type.__class__.__name__.lower()
    renamed = {"timestamp": "timestamp3", "biginteger": "bigint", "array": "text_array"}
    return getattr(column.type, "name", None) or renamed.get(name, name)


def _markers(table: Table, column) -> str:
    marks = []
    if column.primary_key:
        marks.append("PK")
    if column.foreign_keys or any(column.name in fk.columns for fk in table.foreign_key_constraints):
        marks.append("FK")
    if column.unique or any(i.unique and [c.name for c in i.columns] == [column.name] for i in table.indexes):
        marks.append("UK")
    return ",".join(marks)


def _entity(table: Table) -> list[str]:
    lines = [f"    {table.name} {{"]
    for column in table.columns:
        parts = [_type_name(column), column.name, _markers(table, column)]
        if column.nullable and not column.primary_key:
            parts.append('"null"')
        lines.append("        " + " ".join(p for p in parts if p))
    lines.append("    }")
    return lines


def _relationships() -> list[str]:
    lines = []
    for table in metadata.sorted_tables:
        for constraint in table.foreign_key_constraints:
            target = constraint.referred_table.name
            columns = ", ".join(constraint.column_keys)
            many = "o{" if not any(c.unique for c in constraint.columns) else "o|"
            lines.append(f'    {target} ||--{many} {table.name} : "{columns}"')
    return sorted(lines)


def mermaid() -> str:
    lines = ["erDiagram"]
    for table in sorted(metadata.tables.values(), key=lambda t: t.name):
        lines.extend(_entity(table))
    lines.extend(_relationships())
    return "\n".join(lines) + "\n"


def markdown_block() -> str:
    return f"{BEGIN}\n```mermaid\n{mermaid()}```\n{END}"


def rewrite(path: Path) -> None:
    """Replace the block between the markers of a Markdown file with the current diagram."""
    pattern = re.escape(BEGIN) + ".*?" + re.escape(END)
    path.write_text(re.sub(pattern, lambda _: markdown_block(), path.read_text(), flags=re.S))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        rewrite(Path(sys.argv[2]))
    else:
        sys.stdout.write(markdown_block() + "\n")
