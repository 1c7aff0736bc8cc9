"""`forgea schema prisma`: the hand-off to the web app's Prisma schema, rendered from the live catalog.

Pure: works on the dataclasses of ``forgea_cli.db.prisma_catalog``; only ``prisma_handoff`` reaches
the database (read-only, through ``forgea_cli.db.prisma_introspection``). Three products:

1. a Prisma fragment — forgea's enums and models, valid on its own, so appending it to the web
   app's schema.prisma works — and the fields, relations and indexes to ADD to the web app's own
   models (LabSession, Lab, ...), never a second declaration of those models;
2. the Prisma 7 ``prisma.config.ts`` snippet declaring forgea's tables and enums external;
3. what Prisma cannot express (triggers, partial indexes, CHECKs, functions, the composite foreign
   key's guarantee), which the web app must leave alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from forgea_cli.db.prisma_catalog import Catalog, Column, Constraint, Index, Ownership, Trigger
from forgea_cli.db.uow import UnitOfWorkFactory
from forgea_cli.errors import InvalidInput
from forgea_cli.services.verify.catalog import Ownership as CatalogOwnership
from forgea_cli.services.verify.catalog import legacy_of
from forgea_cli.services.verify.manifest import BASELINE_OWNED_TABLES

MIGRATION_TABLE = "alembic_version"  # Alembic's bookkeeping table: external, never a model
# forgea's bookkeeping tables: external (so Prisma Migrate leaves them alone), never modelled.
BOOKKEEPING_TABLES = frozenset({MIGRATION_TABLE})
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_REFERENTIAL = {"a": "NoAction", "r": "Restrict", "c": "Cascade", "n": "SetNull", "d": "SetDefault"}
_INDEX_TYPES = {"hash": "Hash", "gist": "Gist", "gin": "Gin", "spgist": "SpGist", "brin": "Brin"}

# What forgea's functions do, for the "cannot express" list (the catalog says when they run).
FUNCTION_PURPOSE = {
    "fill_lab_session_version": (
        "fills labVersionId with the lab's current LabVersion (the one whose version is Lab.repoVersion, "
        "created from Lab.baseRepoUrl on first use) when an insert omits it; this is why the fragment gives "
        "labVersionId @default(dbgenerated()) although the column has no SQL default"
    ),
    "guard_lab_version_immutable": (
        "LabVersion rows are immutable: DELETE is refused, UPDATE may only fill templateRepoId and "
        "commitSha once (SQLSTATE 42501)"
    ),
    "prevent_destructive_action": "append-only: UPDATE and DELETE raise 'Action forbidden'",
    "mirror_verification_log": (
        "every VerificationLog insert is mirrored as a PASS VerificationAttempt with the next attempt "
        "number, so rows the web app writes keep counting as evidence"
    ),
    "next_verification_attempt_number": (
        "the next attemptNumber of a session (max + 1), serialised per session by an advisory lock"
    ),
    "enforce_lab_session_status_transition": (
        "the LabSession lifecycle guard: only the allowed status transitions; entering VERIFIED_PASS "
        "needs a PASS VerificationAttempt (or a VerificationLog row); DEFERRED -> IN_PROGRESS is refused "
        "while the student has another active session for the lab; stamps completedAt on VERIFIED_PASS "
        "and never lets it change (rewritten by forgea: never re-create it from the old Prisma migration)"
    ),
}


# -- the result ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Addition:
    """One line to add inside an existing web-app model."""

    kind: str  # field | attribute | comment
    key: str  # field name, or the attribute's identity (kind + columns)
    text: str


@dataclass(frozen=True)
class Handoff:
    fragment: str
    config: str
    not_expressible: list[dict[str, Any]]
    additions: dict[str, list[Addition]]
    blocks: dict[tuple[str, str], str]  # ("model"|"enum", name) -> the block text
    external_tables: list[str]
    external_enums: list[str]
    revision: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def additions_text(self) -> dict[str, list[str]]:
        return {
            model: [line for a in items for line in a.text.splitlines()]
            for model, items in self.additions.items()
        }

    def as_document(self, merged: str | None = None) -> dict[str, Any]:
        document: dict[str, Any] = {
            "fragment": self.fragment,
            "config": self.config,
            "notExpressible": self.not_expressible,
            "additions": self.additions_text(),
            "models": [name for kind, name in self.blocks if kind == "model"],
            "enums": [name for kind, name in self.blocks if kind == "enum"],
            "externalTables": self.external_tables,
            "externalEnums": self.external_enums,
            "revision": self.revision,
            "warnings": self.warnings,
        }
        if merged is not None:
            document["merged"] = merged
        return document


def prisma_handoff(uow: UnitOfWorkFactory, schema: str = "public") -> Handoff:
    """Read the live catalog (read-only) and render the hand-off."""
    from forgea_cli.db import migrations, prisma_introspection

    with uow(read_only=True) as work:
        catalog = prisma_introspection.read_catalog(work.connection, schema)
    return build_handoff(
        catalog,
        forgea_ownership(),
        migrations.head_revision(),
        bookkeeping=BOOKKEEPING_TABLES | BASELINE_OWNED_TABLES,
    )


def forgea_ownership() -> Ownership:
    """What this build's revisions own, from their expected snapshots."""
    from forgea_cli.db import migrations
    from forgea_cli.db.snapshots import load_snapshot

    snapshots: list[tuple[str, dict[str, Any]]] = []
    missing: list[str] = []
    for revision in migrations.history():
        try:
            snapshots.append((revision.revision, load_snapshot(revision.revision)))
        except FileNotFoundError:
            missing.append(revision.revision)
    return ownership_from_snapshots(snapshots, missing=missing)


def ownership_from_snapshots(
    snapshots: list[tuple[str, dict[str, Any]]], *, missing: list[str] | tuple[str, ...] = ()
) -> Ownership:
    """The catalog engine's ownership rule (what any revision created or replaced), as names;
    ``replaced_functions`` are the baseline's functions a later revision rewrote."""
    if not snapshots:
        return Ownership(missing_snapshots=tuple(missing))
    history = [snapshot for _, snapshot in snapshots]
    legacy = legacy_of(history[0])
    owned = CatalogOwnership.of(history[-1], legacy, history)
    replaced = frozenset(owned.ever["functions"] & legacy["functions"].keys())
    return Ownership(
        tables=owned.ever["tables"] - BASELINE_OWNED_TABLES,
        columns=owned.ever_columns,
        enums=owned.ever["enums"],
        indexes=_outside_baseline(owned.ever["indexes"], history[0]["indexes"]),
        constraints=_outside_baseline(owned.ever["constraints"], history[0]["constraints"]),
        triggers=owned.ever["triggers"],
        functions=owned.ever["functions"] - replaced,
        replaced_functions=replaced,
        revisions=tuple(revision for revision, _ in snapshots),
        missing_snapshots=tuple(missing),
    )


def _outside_baseline(names: frozenset[str], baseline: dict[str, Any]) -> frozenset[str]:
    """The baseline's own bookkeeping table is never modelled: its keys are not the fragment's."""
    return frozenset(n for n in names if n not in baseline)


# -- building --------------------------------------------------------------------------------------------


@dataclass
class _Field:
    name: str
    type: str
    attributes: list[str]
    doc: str | None = None


@dataclass
class _Model:
    name: str
    table: str
    fields: list[_Field] = field(default_factory=list)
    relations: list[_Field] = field(default_factory=list)
    back_relations: list[_Field] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


def build_handoff(
    catalog: Catalog, owned: Ownership, head: str, *, bookkeeping: frozenset[str] = BOOKKEEPING_TABLES
) -> Handoff:
    """The hand-off for `catalog`; `bookkeeping` tables are forgea's but never modelled."""
    builder = _Builder(catalog, owned, bookkeeping)
    models = builder.models()
    enums = builder.enums()
    blocks = {("enum", name): text for name, text in enums}
    blocks |= {("model", model.name): _render_model(model) for model in models}
    revision = {
        "current": catalog.revision,
        "head": head,
        "atHead": catalog.revision == head,
        "known": catalog.revision in owned.revisions,
    }
    warnings = _warnings(catalog, owned, revision) + builder.warnings
    external_tables = [t for t in catalog.tables if t in owned.tables and t not in bookkeeping]
    external_tables += [t for t in catalog.tables if t in bookkeeping and t != MIGRATION_TABLE]
    external_tables.append(MIGRATION_TABLE)  # there after the first `forgea migrate`, even if not yet
    external_enums = [e for e in catalog.enums if e in owned.enums]
    fragment = _fragment(blocks, builder.additions, revision)
    config = _config(external_tables, external_enums, builder.shadow_stubs(), revision)
    return Handoff(
        fragment=fragment,
        config=config,
        not_expressible=builder.not_expressible(),
        additions=builder.additions,
        blocks=blocks,
        external_tables=external_tables,
        external_enums=external_enums,
        revision=revision,
        warnings=warnings,
    )


def _warnings(catalog: Catalog, owned: Ownership, revision: dict[str, Any]) -> list[str]:
    warnings = []
    if catalog.revision is None:
        warnings.append(
            "the database has no forgea revision (no alembic_version): run `forgea migrate adopt` and "
            "`forgea migrate upgrade` first; this shows only the forgea objects that exist"
        )
    elif not revision["atHead"]:
        warnings.append(
            f"the database is at revision {catalog.revision}, not at forgea's head {revision['head']}: "
            "this describes the database as it is; run `forgea migrate upgrade` before handing it over"
        )
    if catalog.revision is not None and not revision["known"]:
        warnings.append(f"revision {catalog.revision} is not known to this build of forgea")
    if owned.missing_snapshots:
        warnings.append(
            "no expected snapshot for revision(s) "
            + ", ".join(owned.missing_snapshots)
            + ": objects they create are not recognised as forgea's (run `make snapshots`)"
        )
    return warnings


class _Builder:
    def __init__(self, catalog: Catalog, owned: Ownership, bookkeeping: frozenset[str]) -> None:
        self.catalog = catalog
        self.owned = owned
        self.bookkeeping = bookkeeping
        self.owned_tables = [t for t in catalog.tables if t in owned.tables and t not in bookkeeping]
        self.additions: dict[str, list[Addition]] = {}
        self.warnings: list[str] = []
        self._models: dict[str, _Model] = {}
        self._extra: dict[str, _Model] = {}  # what to add to the web app's models, by table
        self._names: dict[str, set[str]] = {}  # model -> field names taken

    # names -----------------------------------------------------------------------------------------

    def model_name(self, table: str) -> str:
        return _identifier(table, upper=True)

    def _taken(self, table: str) -> set[str]:
        if table not in self._names:
            columns = self.catalog.tables[table].columns if table in self.catalog.tables else ()
            self._names[table] = {_identifier(c.name) for c in columns}
        return self._names[table]

    def _claim(self, table: str, wanted: str) -> str:
        taken = self._taken(table)
        name, n = wanted, 2
        while name in taken:
            name, n = f"{wanted}{n}", n + 1
        taken.add(name)
        return name

    # enums -----------------------------------------------------------------------------------------

    def enums(self) -> list[tuple[str, str]]:
        rendered = []
        for name, labels in self.catalog.enums.items():
            if name not in self.owned.enums:
                continue
            lines = [f"enum {_identifier(name, upper=True)} {{"]
            for label in labels:
                prisma = _identifier(label, upper=True)
                lines.append(f"  {prisma}" + (f' @map("{_escape(label)}")' if prisma != label else ""))
            if _identifier(name, upper=True) != name:
                lines += ["", f'  @@map("{_escape(name)}")']
            lines.append("}")
            rendered.append((_identifier(name, upper=True), "\n".join(lines)))
        return rendered

    # models ----------------------------------------------------------------------------------------

    def models(self) -> list[_Model]:
        for table in self.owned_tables:
            model = _Model(self.model_name(table), table)
            self._models[table] = model
            self._taken(table)
            for column in self.catalog.tables[table].columns:
                model.fields.append(self._scalar(table, column))
            model.attributes += self._block_attributes(table)
            if model.name != table:
                model.attributes.append(f'@@map("{_escape(table)}")')
        for table, table_info in self.catalog.tables.items():
            if table in self.owned.tables or table in self.bookkeeping:
                continue
            for column in table_info.columns:
                if (table, column.name) in self.owned.columns:
                    self._extra_model(table).fields.append(self._scalar(table, column))
            self._extra_model(table).attributes += self._block_attributes(table, only_owned=True)
        for constraint in self.catalog.constraints:
            if constraint.kind == "f" and self._is_owned(constraint) and not self._bookkept(constraint):
                self._relation(constraint)
        for index in self.catalog.indexes:
            if index.table not in self.owned.tables and index.name in self.owned.indexes and index.predicate:
                hint = _partial_hint(index, self._columns_of(index))
                if hint:
                    self._extra_model(index.table).comments.append(hint)
        self._finish_additions()
        return list(self._models.values())

    def _extra_model(self, table: str) -> _Model:
        if table not in self._extra:
            self._extra[table] = _Model(self.model_name(table), table)
        return self._extra[table]

    def _finish_additions(self) -> None:
        for extra in self._extra.values():
            fields = extra.fields + extra.relations + extra.back_relations
            items = []
            if fields:
                rendered = _render_fields(fields).splitlines()
                lines = iter(rendered)
                for f in fields:
                    text = next(lines)
                    if f.doc:
                        text += "\n" + next(lines)
                    items.append(Addition("field", f.name, text))
            items += [Addition("attribute", _attribute_key(a), f"  {a}") for a in extra.attributes]
            items += [Addition("comment", c.splitlines()[0].strip(), c) for c in extra.comments]
            if items:
                self.additions[extra.name] = items

    def _bookkept(self, constraint: Constraint) -> bool:
        return constraint.table in self.bookkeeping or constraint.ref_table in self.bookkeeping

    def _is_owned(self, constraint: Constraint) -> bool:
        return constraint.table in self.owned.tables or constraint.name in self.owned.constraints

    def _scalar(self, table: str, column: Column) -> _Field:
        name = _identifier(column.name)
        prisma_type, native = _prisma_type(column, self.catalog)
        optional = column.nullable and not column.is_array
        attributes: list[str] = []
        doc = None
        pk = self._primary_key(table)
        if pk is not None and pk.columns == (column.name,):
            attributes.append("@id" + _map_arg(pk.name, f"{table}_pkey"))
        unique = self._single_unique(table, column.name)
        if unique is not None:
            attributes.append("@unique" + _map_arg(unique.name, f"{table}_{column.name}_key"))
        default = _default(column, self.catalog)
        if default is None and not column.nullable and self._filled_by_trigger(table, column.name):
            default = "dbgenerated()"
            doc = "no SQL default: filled by a BEFORE INSERT trigger when omitted (see notExpressible)"
        if default is not None:
            attributes.append(f"@default({default})")
        if name != column.name:
            attributes.append(f'@map("{_escape(column.name)}")')
        if native:
            attributes.append(native)
        return _Field(
            name, prisma_type + ("[]" if column.is_array else "") + ("?" if optional else ""), attributes, doc
        )

    def _primary_key(self, table: str) -> Constraint | None:
        return next((c for c in self.catalog.constraints if c.table == table and c.kind == "p"), None)

    def _plain_unique_indexes(self, table: str) -> list[Index]:
        return [
            i
            for i in self.catalog.indexes
            if i.table == table and i.unique and not i.primary and _expressible(i)
        ]

    def _single_unique(self, table: str, column: str) -> Index | None:
        owned_only = table not in self.owned.tables
        for index in self._plain_unique_indexes(table):
            if index.columns == (column,) and (not owned_only or index.name in self.owned.indexes):
                return index
        return None

    def _filled_by_trigger(self, table: str, column: str) -> bool:
        bodies = {f.name: f.body for f in self.catalog.functions}
        pattern = re.compile(
            rf'(NEW\.("{re.escape(column)}"|{re.escape(column)}\b)\s*:=)|(INTO\s+NEW\.("{re.escape(column)}"|'
            rf"{re.escape(column)}\b))",
            re.IGNORECASE,
        )
        return any(
            t.table == table
            and t.timing == "BEFORE"
            and "INSERT" in t.events
            and t.for_each == "ROW"
            and pattern.search(bodies.get(t.function, ""))
            for t in self.catalog.triggers
        )

    def _columns_of(self, index: Index) -> list[str]:
        return [_identifier(c) for c in index.columns if c is not None]

    def _block_attributes(self, table: str, *, only_owned: bool = False) -> list[str]:
        attributes = []
        pk = self._primary_key(table)
        if not only_owned and pk is not None and len(pk.columns) > 1:
            cols = ", ".join(_identifier(c) for c in pk.columns)
            attributes.append(f"@@id([{cols}]{_map_arg(pk.name, f'{table}_pkey', comma=True)})")
        for index in self.catalog.indexes:
            if index.table != table or index.primary or not _expressible(index):
                continue
            if only_owned and index.name not in self.owned.indexes:
                continue
            if index.unique and len(index.columns) == 1:
                continue  # rendered on the field as @unique
            suffix = "key" if index.unique else "idx"
            cols = ", ".join(
                _identifier(c) + ("(sort: Desc)" if desc else "")
                for c, desc in zip(
                    index.columns, index.descending or (False,) * len(index.columns), strict=False
                )
                if c is not None
            )
            default_name = f"{table}_{'_'.join(c for c in index.columns if c)}_{suffix}"
            args = f"[{cols}]" + _map_arg(index.name, default_name, comma=True)
            if not index.unique and index.method in _INDEX_TYPES:
                args += f", type: {_INDEX_TYPES[index.method]}"
            attributes.append(("@@unique" if index.unique else "@@index") + f"({args})")
        return attributes

    def _relation(self, fk: Constraint) -> None:
        table, ref = fk.table, fk.ref_table
        if ref is None or ref not in self.catalog.tables:
            return
        ambiguous = (
            sum(
                1
                for c in self.catalog.constraints
                if c.kind == "f" and {c.table, c.ref_table} == {table, ref}
            )
            > 1
        )
        relation_name = f'"{fk.name.removesuffix("_fkey")}", ' if ambiguous else ""
        first = fk.columns[0]
        wanted = first[:-2] if first.endswith("Id") and len(first) > 2 else _lower_first(self.model_name(ref))
        forward = self._claim(table, _identifier(wanted))
        columns = self.catalog.tables[table]
        optional = any((c := columns.column(name)) is not None and c.nullable for name in fk.columns)
        fields = ", ".join(_identifier(c) for c in fk.columns)
        references = ", ".join(_identifier(c) for c in fk.ref_columns)
        default_name = f"{table}_{'_'.join(fk.columns)}_fkey"
        relation = (
            f"@relation({relation_name}fields: [{fields}], references: [{references}], "
            f"onDelete: {_REFERENTIAL.get(fk.on_delete or 'a', 'NoAction')}, "
            f"onUpdate: {_REFERENTIAL.get(fk.on_update or 'a', 'NoAction')}"
            f"{_map_arg(fk.name, default_name, comma=True)})"
        )
        self._place(
            table, _Field(forward, self.model_name(ref) + ("?" if optional else ""), [relation]), back=False
        )
        one_to_one = self._is_unique_set(table, fk.columns)
        back_wanted = _lower_first(self.model_name(table))
        if not one_to_one:
            back_wanted = _plural(back_wanted)
        back = self._claim(ref, back_wanted)
        back_type = self.model_name(table) + ("?" if one_to_one else "[]")
        back_attributes = [f"@relation({relation_name.rstrip(', ')})"] if ambiguous else []
        self._place(ref, _Field(back, back_type, back_attributes), back=True)

    def _is_unique_set(self, table: str, columns: tuple[str, ...]) -> bool:
        pk = self._primary_key(table)
        if pk is not None and set(pk.columns) == set(columns):
            return True
        return any(set(i.columns) == set(columns) for i in self._plain_unique_indexes(table))

    def _place(self, table: str, f: _Field, *, back: bool) -> None:
        model = self._models.get(table) or self._extra_model(table)
        (model.back_relations if back else model.relations).append(f)

    # config ------------------------------------------------------------------------------------------

    def shadow_stubs(self) -> list[str]:
        """SQL creating the external tables that the web app's own tables reference, for the shadow db."""
        needed: dict[str, list[tuple[str, ...]]] = {}
        for fk in self.catalog.constraints:
            if fk.kind == "f" and fk.table not in self.owned.tables and fk.ref_table in self.owned.tables:
                needed.setdefault(fk.ref_table, []).append(fk.ref_columns)
        statements = []
        for table, referenced in needed.items():
            info = self.catalog.tables[table]
            pk = self._primary_key(table)
            keep: list[str] = list(pk.columns) if pk else []
            for cols in referenced:
                keep += [c for c in cols if c not in keep]
            column_sql = []
            for name in keep:
                column = info.column(name)
                if column is None:
                    continue
                if column.is_enum:
                    labels = ", ".join(
                        _sql_literal(label) for label in self.catalog.enums.get(column.type_name, ())
                    )
                    statements.append(f'CREATE TYPE "{column.type_name}" AS ENUM ({labels});')
                column_sql.append(f'"{name}" {column.formatted} NOT NULL')
            if pk is not None:
                column_sql.append(f'CONSTRAINT "{pk.name}" PRIMARY KEY ({_quoted(pk.columns)})')
            statements.append(f'CREATE TABLE "{table}" ({", ".join(column_sql)});')
            for cols in referenced:
                if pk is not None and tuple(cols) == pk.columns:
                    continue
                index = next((i for i in self._plain_unique_indexes(table) if i.columns == tuple(cols)), None)
                name = index.name if index else f"{table}_{'_'.join(cols)}_key"
                statements.append(f'CREATE UNIQUE INDEX "{name}" ON "{table}"({_quoted(cols)});')
        return statements

    # what Prisma cannot express ----------------------------------------------------------------------

    def not_expressible(self) -> list[dict[str, Any]]:
        owned_tables = self.owned.tables
        functions = self.owned.functions | self.owned.replaced_functions
        entries: list[dict[str, Any]] = []
        for trigger in self.catalog.triggers:
            if (
                trigger.name in self.owned.triggers
                or trigger.table in owned_tables
                or trigger.function in functions
            ):
                entries.append(_trigger_entry(trigger))
        for index in self.catalog.indexes:
            if not (index.name in self.owned.indexes or index.table in owned_tables):
                continue
            if index.predicate or not _expressible(index):
                entries.append(_index_entry(index))
            if not index.valid:
                self.warnings.append(
                    f"index {index.name} is INVALID (a failed CONCURRENTLY build): rerun the migration"
                )
        for constraint in self.catalog.constraints:
            if not self._is_owned(constraint):
                continue
            if constraint.kind == "c":
                entries.append(
                    _entry(
                        "check",
                        constraint.name,
                        constraint.table,
                        constraint.definition,
                        "a CHECK constraint: Prisma has no attribute for it and ignores it"
                        + ("" if constraint.validated else " (NOT VALID: not yet validated)"),
                        validated=constraint.validated,
                    )
                )
            elif constraint.kind == "x":
                entries.append(
                    _entry(
                        "exclusion",
                        constraint.name,
                        constraint.table,
                        constraint.definition,
                        "an exclusion constraint: not expressible in Prisma",
                    )
                )
            elif constraint.kind == "f" and (len(constraint.columns) > 1 or not constraint.validated):
                entries.append(_fk_entry(constraint))
        for function in self.catalog.functions:
            if function.name in functions:
                entries.append(
                    _entry(
                        "function",
                        function.name,
                        None,
                        f"{function.name}({function.arguments}) RETURNS {function.result} "
                        f"LANGUAGE {function.language}",
                        FUNCTION_PURPOSE.get(function.name, "a function created by forgea's migrations")
                        + (
                            ""
                            if function.name not in self.owned.replaced_functions
                            else " — replaced by forgea's migrations"
                        ),
                    )
                )
        return entries


# -- rendering helpers -------------------------------------------------------------------------------------


def _identifier(name: str, *, upper: bool = False) -> str:
    """A valid Prisma identifier for a database name (the name itself whenever it already is one)."""
    if _IDENTIFIER.match(name):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "x"
    if not cleaned[0].isalpha():
        cleaned = ("T" if upper else "f") + cleaned
    return cleaned


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _plural(name: str) -> str:
    if name.endswith("y") and len(name) > 1 and name[-2] not in "aeiou":
        return name[:-1] + "ies"
    if name.endswith(("s", "x", "ch", "sh")):
        return name + "es"
    return name + "s"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _quoted(columns: Iterable[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _map_arg(name: str, default: str, *, comma: bool = False) -> str:
    """`map:` only where the database name differs from the one Prisma would choose."""
    if name == default:
        return ""
    return f', map: "{_escape(name)}"' if comma else f'(map: "{_escape(name)}")'


def _attribute_key(attribute: str) -> str:
    kind, _, rest = attribute.partition("(")
    columns = rest.split("]")[0] + "]" if "]" in rest else rest
    return kind + "(" + re.sub(r"\s+", "", columns)


def _expressible(index: Index) -> bool:
    """An index Prisma can declare: plain columns, no predicate, a method Prisma knows."""
    return (
        index.predicate is None
        and all(c is not None for c in index.columns)
        and (index.method == "btree" or (index.method in _INDEX_TYPES and not index.unique))
        and not (index.unique and any(index.descending))
    )


_TIMESTAMP = re.compile(r"^(timestamp|time)(?:\((\d+)\))? (with|without) time zone")


def _prisma_type(column: Column, catalog: Catalog) -> tuple[str, str | None]:
    """(Prisma scalar or enum, native type attribute or None) for a column."""
    base = column.formatted.removesuffix("[]")
    t = column.type_name
    if column.is_enum:
        return _identifier(t, upper=True), None
    simple = {
        "text": ("String", None),
        "uuid": ("String", "@db.Uuid"),
        "int4": ("Int", None),
        "int2": ("Int", "@db.SmallInt"),
        "int8": ("BigInt", "@db.BigInt"),
        "bool": ("Boolean", None),
        "float8": ("Float", None),
        "float4": ("Float", "@db.Real"),
        "jsonb": ("Json", None),
        "json": ("Json", "@db.Json"),
        "bytea": ("Bytes", None),
        "date": ("DateTime", "@db.Date"),
        "money": ("Decimal", "@db.Money"),
        "inet": ("String", "@db.Inet"),
        "xml": ("String", "@db.Xml"),
        "citext": ("String", "@db.Citext"),
        "oid": ("Int", "@db.Oid"),
    }
    if t in simple:
        return simple[t]
    if t in ("timestamp", "timestamptz", "time", "timetz"):
        match = _TIMESTAMP.match(base)
        precision = match.group(2) if match and match.group(2) else "6"
        native = {"timestamp": "Timestamp", "timestamptz": "Timestamptz", "time": "Time", "timetz": "Timetz"}[
            t
        ]
        return "DateTime", f"@db.{native}({precision})"
    sized = re.match(
        r"^(character varying|character|bit varying|bit|numeric)(?:\((\d+)(?:,(\d+))?\))?$", base
    )
    if sized:
        kind, size, scale = sized.groups()
        native = {
            "character varying": "VarChar",
            "character": "Char",
            "bit varying": "VarBit",
            "bit": "Bit",
            "numeric": "Decimal",
        }[kind]
        scalar = "Decimal" if kind == "numeric" else "String"
        if size is None:
            return scalar, f"@db.{native}" if kind != "numeric" else "@db.Decimal"
        return scalar, f"@db.{native}({size}" + (f", {scale}" if scale else "") + ")"
    return f'Unsupported("{_escape(base)}")', None


_STRING_DEFAULT = re.compile(r"^'((?:[^']|'')*)'(?:::[\w\" .\[\]]+)?$")
_NUMBER_DEFAULT = re.compile(r"^\(?(-?\d+(?:\.\d+)?)\)?(?:::[\w ]+)?$")


def _default(column: Column, catalog: Catalog) -> str | None:
    """The @default(...) argument for the column's SQL default, exactly."""
    expr = column.default
    if column.identity:
        return "autoincrement()"
    if expr is None or column.generated:
        return None
    stripped = expr.strip()
    lowered = stripped.lower()
    if lowered in ("current_timestamp", "now()", "current_timestamp(3)") and column.type_name.startswith(
        "timestamp"
    ):
        return "now()"
    if lowered.startswith("nextval("):
        return "autoincrement()"
    if lowered in ("true", "false") and column.type_name == "bool":
        return lowered
    string = _STRING_DEFAULT.match(stripped)
    if string:
        value = string.group(1).replace("''", "'")
        if column.is_array:
            return "[]" if value == "{}" else f'dbgenerated("{_escape(stripped)}")'
        if column.is_enum:
            labels = catalog.enums.get(column.type_name, ())
            return (
                _identifier(value, upper=True) if value in labels else f'dbgenerated("{_escape(stripped)}")'
            )
        if column.type_name in ("text", "varchar", "bpchar", "json", "jsonb", "uuid", "citext"):
            return f'"{_escape(value)}"'
    number = _NUMBER_DEFAULT.match(stripped)
    if number and column.type_name in ("int2", "int4", "int8", "float4", "float8", "numeric"):
        return number.group(1)
    return f'dbgenerated("{_escape(stripped)}")'


def _render_fields(fields: list[_Field], indent: str = "  ") -> str:
    name_width = max(len(f.name) for f in fields)
    type_width = max(len(f.type) for f in fields)
    lines = []
    for f in fields:
        if f.doc:
            lines.append(f"{indent}/// {f.doc}")
        line = f"{indent}{f.name.ljust(name_width)} {f.type.ljust(type_width)} {' '.join(f.attributes)}"
        lines.append(line.rstrip())
    return "\n".join(lines)


def _render_model(model: _Model) -> str:
    lines = [f"model {model.name} {{", _render_fields(model.fields + model.relations + model.back_relations)]
    if model.attributes:
        lines.append("")
        lines += [f"  {attribute}" for attribute in model.attributes]
    lines.append("}")
    return "\n".join(lines)


def _partial_hint(index: Index, columns: list[str]) -> str | None:
    if not columns or not index.unique:
        return None
    return (
        f"  // {index.name} (partial unique index) stays SQL-only; with Prisma >= 7.9 and "
        f'previewFeatures = ["partialIndexes"] it may be declared as:\n'
        f'  // @@unique([{", ".join(columns)}], map: "{_escape(index.name)}", '
        f'where: raw("{_escape(index.predicate or "")}"))'
    )


def _entry(
    kind: str, name: str, table: str | None, definition: str, does: str, **extra: Any
) -> dict[str, Any]:
    return {"kind": kind, "name": name, "table": table, "definition": definition, "does": does, **extra}


def _trigger_entry(trigger: Trigger) -> dict[str, Any]:
    when = f"{trigger.timing} {' OR '.join(trigger.events)} ON {trigger.table} FOR EACH {trigger.for_each}"
    does = FUNCTION_PURPOSE.get(trigger.function, f"runs {trigger.function}()")
    enabled = {"O": "enabled", "D": "DISABLED", "R": "replica only", "A": "always"}.get(
        trigger.enabled, trigger.enabled
    )
    return _entry(
        "trigger",
        trigger.name,
        trigger.table,
        trigger.definition,
        f"{when}: {does}",
        function=trigger.function,
        enabled=enabled,
    )


def _index_entry(index: Index) -> dict[str, Any]:
    if index.predicate and index.unique:
        does = (
            f"partial unique index (WHERE {index.predicate}): "
            + ("one active session per student per lab; " if index.table == "LabSession" else "")
            + "Prisma without the partialIndexes preview cannot declare it, and a migration it generates "
            "would DROP it: delete that statement from any migration the web app generates"
        )
        kind = "partial unique index"
    elif index.predicate:
        does = (
            f"partial index (WHERE {index.predicate}): a migration Prisma generates would DROP it; "
            "delete that statement"
        )
        kind = "partial index"
    else:
        does = "an index Prisma cannot declare (expressions or method); a generated migration would DROP it"
        kind = "index"
    return _entry(kind, index.name, index.table, index.definition, does, valid=index.valid)


def _fk_entry(fk: Constraint) -> dict[str, Any]:
    if len(fk.columns) > 1:
        does = (
            f"composite foreign key ({', '.join(fk.columns)}) -> "
            f"{fk.ref_table}({', '.join(fk.ref_columns)}): "
            "the database itself guarantees the row's version belongs to the same lab. The fragment models "
            "the relation for the client, but the guarantee (and its lock-safe NOT VALID + VALIDATE build) "
            "is forgea's: never drop or re-create it from a Prisma migration"
        )
    else:
        does = "foreign key"
    if not fk.validated:
        does += "; NOT VALID (existing rows not yet checked): Prisma cannot express that state"
    return _entry("foreign key", fk.name, fk.table, fk.definition, does, validated=fk.validated)


# -- the documents ----------------------------------------------------------------------------------------


def _fragment(
    blocks: dict[tuple[str, str], str], additions: dict[str, list[Addition]], revision: dict
) -> str:
    at = revision["current"] or "none"
    state = "at head" if revision["atHead"] else f"NOT at head {revision['head']}"
    lines = [
        "// Prisma schema fragment for forgea's revision of the Forgea database, generated by",
        f"// `forgea schema prisma` from the live catalog (revision {at}, {state}).",
        "// Append it to the web app's schema.prisma; these models are managed by forgea's migrations,",
        "// declare their tables external in prisma.config.ts and never migrate them with Prisma.",
    ]
    body = "\n\n".join(blocks.values())
    text = "\n".join(lines) + ("\n\n" + body if body else "")
    if additions:
        text += "\n\n" + _additions_comment(additions)
    return text + "\n"


def _additions_comment(additions: dict[str, list[Addition]]) -> str:
    lines = [
        "// ---------------------------------------------------------------------------------------------",
        "// ADD to the web app's existing models (do not declare these models a second time);",
        "// `forgea schema prisma --merge prisma/schema.prisma` does it for you.",
    ]
    for model, items in additions.items():
        lines.append("//")
        lines.append(f"// model {model} {{  ...its existing fields, then:")
        for item in items:
            lines += ["//" + line for line in item.text.splitlines()]
        lines.append("// }")
    return "\n".join(lines)


def additions_block(additions: dict[str, list[Addition]]) -> str:
    """The additions as plain (uncommented) text, labelled per model, for people."""
    parts = []
    for model, items in additions.items():
        lines = [f"model {model} {{  // existing model: ADD these lines, keep the rest"]
        for previous, item in zip([None, *items], items, strict=False):
            if previous is not None and previous.kind == "field" and item.kind != "field":
                lines.append("")
            lines.append(item.text)
        parts.append("\n".join([*lines, "}"]))
    return "\n\n".join(parts)


def _config(external_tables: list[str], external_enums: list[str], stubs: list[str], revision: dict) -> str:
    def names(items: list[str]) -> str:
        return "[\n" + "".join(f'      "{item}",\n' for item in items) + "    ]"

    shadow = ""
    if stubs:
        sql = "\n".join(f"      {s}" for s in stubs)
        shadow = (
            "    // The shadow database replays only the web app's migrations: stub the external\n"
            "    // tables that the web app's own tables reference (primary key and referenced columns).\n"
            f"    initShadowDb: `\n{sql}\n    `,\n"
        )
    enums = f"  enums: {{\n    external: {names(external_enums)},\n  }},\n" if external_enums else ""
    return (
        "// prisma.config.ts — generated by `forgea schema prisma` "
        f"(revision {revision['current'] or 'none'}).\n"
        "// Declares forgea's tables and enums externally managed: Prisma Client queries them,\n"
        "// Prisma Migrate ignores them. Names are unqualified: the datasource has no `schemas` list.\n"
        '// import "dotenv/config"; // if DATABASE_URL comes from a .env file (needs the dotenv package)\n'
        'import { defineConfig, env } from "prisma/config";\n'
        "\n"
        "export default defineConfig({\n"
        '  schema: "prisma/schema.prisma",\n'
        "  migrations: {\n"
        '    path: "prisma/migrations",\n'
        f"{shadow}"
        "  },\n"
        "  datasource: {\n"
        '    url: env("DATABASE_URL"),\n'
        "  },\n"
        "  experimental: {\n"
        "    externalTables: true,\n"
        "  },\n"
        f"  tables: {{\n    external: {names(external_tables)},\n  }},\n"
        f"{enums}"
        "});\n"
    )


# -- merging into the web app's schema.prisma ----------------------------------------------------------------

_BLOCK_START = re.compile(r"^\s*(model|enum|view|type)\s+(\w+)\s*\{")


def _blocks(lines: list[str]) -> dict[tuple[str, str], tuple[int, int]]:
    """(kind, name) -> (first line, closing line) of every top-level block."""
    found: dict[tuple[str, str], tuple[int, int]] = {}
    start: tuple[str, str, int] | None = None
    for number, line in enumerate(lines):
        code = line.split("//", 1)[0].strip()
        if start is None:
            match = _BLOCK_START.match(line)
            if match:
                start = (match.group(1), match.group(2), number)
                if code.endswith("}") and code.count("{") == code.count("}"):
                    found[(start[0], start[1])] = (number, number)
                    start = None
        elif code == "}":
            found[(start[0], start[1])] = (start[2], number)
            start = None
    return found


def merge_into_schema(schema_text: str, handoff: Handoff, source: str = "schema.prisma") -> str:
    """The web app's schema with forgea's models and enums in place and the additions inside its models.

    Idempotent: merging into an already merged schema changes nothing (forgea's blocks are replaced,
    existing fields are replaced, attributes already present are kept once).
    """
    lines = schema_text.splitlines()
    for model, items in handoff.additions.items():
        blocks = _blocks(lines)
        if ("model", model) not in blocks:
            raise InvalidInput(f"{source} has no model {model}: cannot add forgea's fields to it")
        start, end = blocks[("model", model)]
        body = lines[start + 1 : end]
        fields = {_field_name(line): i for i, line in enumerate(body) if _field_name(line)}
        attributes = {_attribute_key(line.strip()) for line in body if line.strip().startswith("@@")}
        comments = {line.strip() for line in body if line.strip().startswith("//")}
        new: list[str] = []
        for item in items:
            if item.kind == "field" and item.key in fields:
                body[fields[item.key]] = item.text.splitlines()[-1]
            elif (item.kind == "attribute" and item.key in attributes) or (
                item.kind == "comment" and item.key in comments
            ):
                continue
            else:
                if new and item.kind != "field" and new[-1].strip() and _is_field_text(new[-1]):
                    new.append("")
                new += [line for line in item.text.splitlines() if line.strip() not in comments]
        if new:
            marker = "  // added for forgea's schema revision (`forgea schema prisma --merge`)"
            if marker.strip() not in comments:
                new.insert(0, marker)
            body = [*body, "", *new] if body and body[-1].strip() else [*body, *new]
        lines[start + 1 : end] = body
    for (kind, name), text in handoff.blocks.items():
        blocks = _blocks(lines)
        if (kind, name) in blocks:
            start, end = blocks[(kind, name)]
            lines[start : end + 1] = text.splitlines()
        else:
            while lines and not lines[-1].strip():
                lines.pop()
            lines += ["", *text.splitlines()]
    return "\n".join(lines).rstrip("\n") + "\n"


def _is_field_text(line: str) -> bool:
    return _field_name(line) is not None


def _field_name(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or stripped.startswith(("//", "@@")):
        return None
    name = stripped.split()[0]
    return name if _IDENTIFIER.match(name) else None


def count_owned(handoff: Handoff) -> dict[str, int]:
    return {
        "models": sum(1 for kind, _ in handoff.blocks if kind == "model"),
        "enums": sum(1 for kind, _ in handoff.blocks if kind == "enum"),
        "additions": sum(len(v) for v in handoff.additions.values()),
        "notExpressible": len(handoff.not_expressible),
    }


__all__ = [
    "Addition",
    "Handoff",
    "additions_block",
    "build_handoff",
    "count_owned",
    "merge_into_schema",
    "prisma_handoff",
]
