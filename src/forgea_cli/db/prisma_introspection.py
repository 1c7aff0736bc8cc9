"""Read-only catalog queries behind `forgea schema prisma`, and what forgea's revisions own.

Everything here runs in one READ ONLY transaction that is rolled back: the command never writes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from forgea_cli.db.prisma_catalog import (
    Catalog,
    Column,
    Constraint,
    Function,
    Index,
    Table,
    Trigger,
)

_COLUMNS = text(
    """
    SELECT c.relname AS table_name, a.attname AS name,
           COALESCE(et.typname, t.typname) AS type_name,
           format_type(a.atttypid, a.atttypmod) AS formatted,
           COALESCE(et.typtype, t.typtype) = 'e' AS is_enum,
           t.typcategory = 'A' AS is_array,
           NOT a.attnotnull AS nullable,
           pg_get_expr(d.adbin, d.adrelid) AS default_expr,
           a.attidentity::text AS identity, a.attgenerated::text AS generated
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY c.oid, a.attnum
    """
)

_INDEXES = text(
    """
    SELECT i.relname AS name, t.relname AS table_name,
           ARRAY(SELECT a.attname FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                 LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                 WHERE k.ord <= x.indnkeyatts ORDER BY k.ord) AS columns,
           ARRAY(SELECT (o.opt & 1) = 1 FROM unnest(x.indoption::int2[]) WITH ORDINALITY AS o(opt, ord)
                 WHERE o.ord <= x.indnkeyatts ORDER BY o.ord) AS descending,
           x.indisunique AS is_unique, x.indisprimary AS is_primary, am.amname AS method,
           pg_get_expr(x.indpred, x.indrelid) AS predicate, x.indisvalid AS valid,
           pg_get_indexdef(i.oid) AS definition
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_am am ON am.oid = i.relam
    JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = :schema AND t.relkind IN ('r', 'p')
    ORDER BY t.oid, i.oid
    """
)

_CONSTRAINTS = text(
    """
    SELECT c.conname AS name, t.relname AS table_name, c.contype::text AS kind,
           ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                 ORDER BY k.ord) AS columns,
           pg_get_constraintdef(c.oid) AS definition, c.convalidated AS validated,
           ci.relname AS index_name, rt.relname AS ref_table,
           ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
                 ORDER BY k.ord) AS ref_columns,
           NULLIF(c.confdeltype::text, ' ') AS on_delete, NULLIF(c.confupdtype::text, ' ') AS on_update
    FROM pg_constraint c
    JOIN pg_class t ON t.oid = c.conrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    LEFT JOIN pg_class ci ON ci.oid = c.conindid AND c.contype IN ('p', 'u', 'x')
    LEFT JOIN pg_class rt ON rt.oid = c.confrelid
    WHERE n.nspname = :schema AND c.contype IN ('p', 'u', 'f', 'c', 'x')
    ORDER BY t.oid, c.oid
    """
)

_ENUMS = text(
    """
    SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels
    FROM pg_type t
    JOIN pg_enum e ON e.enumtypid = t.oid
    JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = :schema
    GROUP BY t.oid, t.typname
    ORDER BY t.oid
    """
)

# tgtype bits: 1 ROW, 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE, 32 TRUNCATE, 64 INSTEAD OF
_TRIGGERS = text(
    """
    SELECT tg.tgname AS name, c.relname AS table_name, p.proname AS function, tg.tgtype AS type,
           tg.tgenabled::text AS enabled, pg_get_triggerdef(tg.oid) AS definition
    FROM pg_trigger tg
    JOIN pg_class c ON c.oid = tg.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_proc p ON p.oid = tg.tgfoid
    WHERE n.nspname = :schema AND NOT tg.tgisinternal
    ORDER BY c.oid, tg.oid
    """
)

_FUNCTIONS = text(
    """
    SELECT p.proname AS name, pg_get_function_identity_arguments(p.oid) AS arguments,
           pg_get_function_result(p.oid) AS result, l.lanname AS language, p.prosrc AS body
    FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    JOIN pg_language l ON l.oid = p.prolang
    WHERE n.nspname = :schema AND p.prokind = 'f'
    ORDER BY p.oid
    """
)


def read_catalog(connection: Connection, schema: str = "public") -> Catalog:
    """The live catalog of `schema` (run it in a read-only unit of work, which is never committed)."""
    params = {"schema": schema}
    columns: dict[str, list[Column]] = {}
    for row in connection.execute(_COLUMNS, params).mappings():
        columns.setdefault(row["table_name"], []).append(
            Column(
                name=row["name"],
                type_name=row["type_name"],
                formatted=row["formatted"],
                is_enum=bool(row["is_enum"]),
                is_array=bool(row["is_array"]),
                nullable=bool(row["nullable"]),
                default=row["default_expr"],
                identity=(row["identity"] or "").strip(),
                generated=(row["generated"] or "").strip(),
            )
        )
    tables = {name: Table(name, tuple(cols)) for name, cols in columns.items()}
    indexes = tuple(
        Index(
            name=row["name"],
            table=row["table_name"],
            columns=tuple(row["columns"]),  # an expression's slot is NULL
            descending=tuple(row["descending"]),
            unique=row["is_unique"],
            primary=row["is_primary"],
            method=row["method"],
            predicate=row["predicate"],
            valid=row["valid"],
            definition=row["definition"].replace(f"{schema}.", ""),
        )
        for row in connection.execute(_INDEXES, params).mappings()
    )
    constraints = tuple(
        Constraint(
            name=row["name"],
            table=row["table_name"],
            kind=row["kind"],
            columns=tuple(row["columns"]),
            definition=row["definition"],
            validated=row["validated"],
            index=row["index_name"],
            ref_table=row["ref_table"],
            ref_columns=tuple(row["ref_columns"]),
            on_delete=row["on_delete"],
            on_update=row["on_update"],
        )
        for row in connection.execute(_CONSTRAINTS, params).mappings()
    )
    enums = {row["name"]: tuple(row["labels"]) for row in connection.execute(_ENUMS, params).mappings()}
    triggers = tuple(_trigger(row) for row in connection.execute(_TRIGGERS, params).mappings())
    functions = tuple(
        Function(row["name"], row["arguments"], row["result"], row["language"], row["body"] or "")
        for row in connection.execute(_FUNCTIONS, params).mappings()
    )
    return Catalog(
        schema=schema,
        tables=tables,
        enums=enums,
        indexes=indexes,
        constraints=constraints,
        triggers=triggers,
        functions=functions,
        revision=_revision(connection, schema) if "alembic_version" in tables else None,
    )


def _trigger(row: Any) -> Trigger:
    kind = int(row["type"])
    timing = "INSTEAD OF" if kind & 64 else "BEFORE" if kind & 2 else "AFTER"
    events = tuple(
        name for bit, name in ((4, "INSERT"), (16, "UPDATE"), (8, "DELETE"), (32, "TRUNCATE")) if kind & bit
    )
    return Trigger(
        name=row["name"],
        table=row["table_name"],
        function=row["function"],
        timing=timing,
        events=events,
        for_each="ROW" if kind & 1 else "STATEMENT",
        enabled=row["enabled"],
        definition=row["definition"].replace("public.", ""),
    )


def _revision(connection: Connection, schema: str) -> str | None:
    table = f'"{schema}".alembic_version'
    return connection.execute(text(f"SELECT version_num FROM {table} LIMIT 1")).scalar()


# -- ownership: what forgea's revisions create ----------------------------------------------------------
