"""What `forgea migrate adopt` recorded of the web app's functions and triggers ("ForgeaAdoptedObject")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

ADOPTION_TABLE = "ForgeaAdoptedObject"

_EXISTS = text("SELECT to_regclass('\"ForgeaAdoptedObject\"') IS NOT NULL")
_RECORDS = text(
    'SELECT kind, name, definition, fingerprint, "adoptedAt", "adoptedBy" FROM "ForgeaAdoptedObject" '
    "ORDER BY kind, name"
)


def adopted_records(connection: Connection) -> list[dict[str, Any]]:
    """Every record, oldest first; empty when the database was built by forgea (nothing adopted)."""
    if not connection.execute(_EXISTS).scalar():
        return []
    return [
        {**row, "adoptedAt": row["adoptedAt"].isoformat(timespec="seconds") if row["adoptedAt"] else ""}
        for row in (dict(r) for r in connection.execute(_RECORDS).mappings())
    ]


_UPSERT = text(
    'INSERT INTO "ForgeaAdoptedObject" (kind, name, "tableName", definition, fingerprint, "adoptedBy") '
    "VALUES (:kind, :name, :tableName, :definition, :fingerprint, :adoptedBy) "
    "ON CONFLICT (kind, name) DO UPDATE SET definition = EXCLUDED.definition, "
    'fingerprint = EXCLUDED.fingerprint, "tableName" = EXCLUDED."tableName", '
    '"adoptedAt" = CURRENT_TIMESTAMP, "adoptedBy" = EXCLUDED."adoptedBy"'
)


def record_adopted(connection: Connection, records: list[dict[str, Any]]) -> None:
    """Accept the live definitions (``forgea migrate adopt --refresh``); the caller commits."""
    for record in records:
        connection.execute(_UPSERT, record)
