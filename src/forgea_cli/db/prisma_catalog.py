"""The catalog facts `forgea schema prisma` renders, as plain dataclasses (standard library only).

Filled by ``forgea_cli.db.prisma_introspection`` from the live database; rendered by
``forgea_cli.services.schema.prisma``. Names are the database's own (quoted Prisma names).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    type_name: str  # pg_type.typname of the column, or of the element for arrays ("uuid", "int8", ...)
    formatted: str  # format_type(): "timestamp(3) without time zone", "text[]", '"RepoResolution"'
    is_enum: bool
    is_array: bool
    nullable: bool
    default: str | None  # pg_get_expr of the default, None when there is none
    identity: str = ""  # attidentity: "" | "a" (ALWAYS) | "d" (BY DEFAULT)
    generated: str = ""  # attgenerated: "" | "s" (STORED)


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    columns: tuple[str | None, ...]  # None for an expression
    descending: tuple[bool, ...]
    unique: bool
    primary: bool
    method: str  # btree, hash, gin, ...
    predicate: str | None  # WHERE clause of a partial index
    valid: bool
    definition: str


@dataclass(frozen=True)
class Constraint:
    name: str
    table: str
    kind: str  # p (primary key), u (unique), f (foreign key), c (check), x (exclusion)
    columns: tuple[str, ...]
    definition: str
    validated: bool
    index: str | None = None  # the index behind a primary key / unique constraint
    ref_table: str | None = None
    ref_columns: tuple[str, ...] = ()
    on_delete: str | None = None  # pg confdeltype: a r c n d
    on_update: str | None = None


@dataclass(frozen=True)
class Trigger:
    name: str
    table: str
    function: str
    timing: str  # BEFORE | AFTER | INSTEAD OF
    events: tuple[str, ...]  # INSERT, UPDATE, DELETE, TRUNCATE
    for_each: str  # ROW | STATEMENT
    enabled: str  # pg tgenabled: O D R A
    definition: str


@dataclass(frozen=True)
class Function:
    name: str
    arguments: str
    result: str
    language: str
    body: str  # prosrc; read to see which columns a trigger function assigns, never printed


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class Catalog:
    """One schema of the live database (normally public), in creation order."""

    schema: str
    tables: dict[str, Table]
    enums: dict[str, tuple[str, ...]]
    indexes: tuple[Index, ...]
    constraints: tuple[Constraint, ...]
    triggers: tuple[Trigger, ...]
    functions: tuple[Function, ...]
    revision: str | None  # alembic_version, None when the database has none


@dataclass(frozen=True)
class Ownership:
    """What forgea's revisions create, by name: every revision's expected snapshot minus the baseline's.

    ``replaced_functions`` are baseline functions whose body a later revision rewrote.
    """

    tables: frozenset[str] = frozenset()
    columns: frozenset[tuple[str, str]] = frozenset()  # (table, column) added to baseline tables
    enums: frozenset[str] = frozenset()
    indexes: frozenset[str] = frozenset()
    constraints: frozenset[str] = frozenset()
    triggers: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()
    replaced_functions: frozenset[str] = frozenset()
    revisions: tuple[str, ...] = field(default_factory=tuple)
    missing_snapshots: tuple[str, ...] = field(default_factory=tuple)
