"""A normalised snapshot of a schema's catalog: what adopt and verify-constraints compare.

The snapshot is plain JSON-able data keyed by object name so that two builds of the same schema
(Prisma's DDL and our migrations, or PostgreSQL 15 and 18) produce equal snapshots.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from forgea_cli.sql_text import fingerprint

IGNORED_TABLES = ("alembic_version", "_prisma_migrations")

_COLUMNS = text(
    """
    SELECT c.relname AS table_name, a.attname AS column_name,
           format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,
           pg_get_expr(d.adbin, d.adrelid) AS default_expr
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
      AND c.relname <> ALL(:ignored)
    """
)

# contype 'n' (NOT NULL constraints, PostgreSQL 18+) is covered by column nullability.
_CONSTRAINTS = text(
    """
    SELECT c.conname AS name, t.relname AS table_name, c.contype AS type,
           pg_get_constraintdef(c.oid) AS definition, c.convalidated AS validated
    FROM pg_constraint c
    JOIN pg_class t ON t.oid = c.conrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = :schema AND c.contype IN ('p', 'u', 'f', 'c', 'x')
      AND t.relname <> ALL(:ignored)
    """
)

_INDEXES = text(
    """
    SELECT i.relname AS name, t.relname AS table_name, pg_get_indexdef(i.oid) AS definition,
           x.indisvalid AS valid
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = :schema AND t.relname <> ALL(:ignored)
    """
)

_ENUMS = text(
    """
    SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels
    FROM pg_type t
    JOIN pg_enum e ON e.enumtypid = t.oid
    JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = :schema
    GROUP BY t.typname
    """
)

_TRIGGERS = text(
    """
    SELECT tg.tgname AS name, c.relname AS table_name, pg_get_triggerdef(tg.oid) AS definition,
           tg.tgenabled AS enabled
    FROM pg_trigger tg
    JOIN pg_class c ON c.oid = tg.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema AND NOT tg.tgisinternal
    """
)

_FUNCTIONS = text(
    """
    SELECT p.proname AS name, pg_get_function_identity_arguments(p.oid) AS arguments,
           pg_get_function_result(p.oid) AS result, l.lanname AS language, p.prosrc AS body,
           pg_get_functiondef(p.oid) AS definition
    FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    JOIN pg_language l ON l.oid = p.prolang
    WHERE n.nspname = :schema AND p.prokind = 'f'
    """
)


def _strip_schema(definition: str, schema: str) -> str:
    return definition.replace(f"{schema}.", "")


def snapshot(connection: Connection, schema: str = "public") -> dict[str, Any]:
    params = {"schema": schema, "ignored": list(IGNORED_TABLES)}
    tables: dict[str, dict[str, Any]] = {}
    for row in connection.execute(_COLUMNS, params).mappings():
        columns = tables.setdefault(row["table_name"], {})
        columns[row["column_name"]] = {
            "type": row["type"],
            "nullable": row["nullable"],
            "default": row["default_expr"],
        }
    constraints = {
        row["name"]: {
            "table": row["table_name"],
            "type": row["type"],
            "definition": row["definition"],
            "validated": row["validated"],
        }
        for row in connection.execute(_CONSTRAINTS, params).mappings()
    }
    indexes = {
        row["name"]: {
            "table": row["table_name"],
            "definition": _strip_schema(row["definition"], schema),
            "valid": row["valid"],
        }
        for row in connection.execute(_INDEXES, params).mappings()
    }
    enums = {row["name"]: list(row["labels"]) for row in connection.execute(_ENUMS, params).mappings()}
    triggers = {
        row["name"]: {
            "table": row["table_name"],
            "definition": _strip_schema(row["definition"], schema),
            "enabled": row["enabled"],
        }
        for row in connection.execute(_TRIGGERS, params).mappings()
    }
    functions = {
        row["name"]: {
            "arguments": row["arguments"],
            "result": row["result"],
            "language": row["language"],
            "body": fingerprint(row["body"]),
            "definition": _strip_schema(row["definition"], schema),
        }
        for row in connection.execute(_FUNCTIONS, params).mappings()
    }
    return {
        "tables": tables,
        "constraints": constraints,
        "indexes": indexes,
        "enums": enums,
        "triggers": triggers,
        "functions": functions,
    }
