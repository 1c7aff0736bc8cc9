"""The Prisma rendering of `forgea schema prisma`, on small hand-made catalogs (no database)."""

from __future__ import annotations

import pytest

from forgea_cli.db.prisma_catalog import (
    Catalog,
    Column,
    Constraint,
    Function,
    Index,
    Ownership,
    Table,
    Trigger,
)
from forgea_cli.errors import InvalidInput
from forgea_cli.services.schema.prisma import build_handoff, merge_into_schema, ownership_from_snapshots

UUID = "uuid"


def col(name, type_name="text", formatted=None, *, nullable=False, default=None, enum=False, array=False):
    return Column(name, type_name, formatted or type_name, enum, array, nullable, default)


def pk(table, *columns):
    return Constraint(f"{table}_pkey", table, "p", columns, f"PRIMARY KEY ({', '.join(columns)})", True)


def unique(name, table, *columns, predicate=None):
    return Index(name, table, columns, (False,) * len(columns), True, False, "btree", predicate, True, "")


def fk(name, table, columns, ref, refs, validated=True):
    return Constraint(name, table, "f", columns, "FOREIGN KEY", validated, None, ref, refs, "r", "c")


def catalog(tables, *, indexes=(), constraints=(), enums=None, triggers=(), functions=(), revision="r2"):
    return Catalog(
        "public",
        {t.name: t for t in tables},
        enums or {},
        tuple(indexes),
        tuple(constraints),
        tuple(triggers),
        tuple(functions),
        revision,
    )


PARENT = Table("Parent", (col("id", UUID, nullable=False),))


def test_odd_names_get_map_attributes_and_defaults_render_exactly():
    child = Table(
        "child-table",
        (
            col("id", UUID, default="gen_random_uuid()"),
            col(
                "2nd name",
                "varchar",
                "character varying(40)",
                nullable=True,
                default="'it''s'::character varying",
            ),
            col("count", "int4", "integer", default="0"),
            col("big", "int8", "bigint", nullable=True),
            col("flag", "bool", "boolean", default="true"),
            col("at", "timestamptz", "timestamp(6) with time zone", default="CURRENT_TIMESTAMP"),
            col("tags", "text", "text[]", array=True, default="'{}'::text[]"),
            col("state", "Mood", '"Mood"', enum=True, default="'ok'::\"Mood\""),
            col("odd", "float8", "double precision", default="random()"),
        ),
    )
    owned = Ownership(tables=frozenset({"child-table"}), enums=frozenset({"Mood"}), revisions=("r1", "r2"))
    handoff = build_handoff(
        catalog([PARENT, child], constraints=[pk("child-table", "id")], enums={"Mood": ("ok", "bad-day")}),
        owned,
        "r2",
    )
    model = handoff.blocks[("model", "child_table")]
    assert '@@map("child-table")' in model
    assert '@id(map: "child-table_pkey")' not in model  # Prisma's default name: no map
    assert '@default(dbgenerated("gen_random_uuid()")) @db.Uuid' in model
    assert 'String?  @default("it\'s") @map("2nd name") @db.VarChar(40)' in model.replace("f2nd_name", "X")
    assert "@default(0)" in model and "@db.BigInt" in model and "@default(true)" in model
    assert "@default(now()) @db.Timestamptz(6)" in model
    assert "String[]" in model and "@default([])" in model
    assert "@default(ok)" in model
    assert '@default(dbgenerated("random()"))' in model
    enum = handoff.blocks[("enum", "Mood")]
    assert 'bad_day @map("bad-day")' in enum


def test_relations_both_sides_and_ambiguous_pairs_are_named():
    child = Table(
        "Item",
        (col("id", UUID), col("parentId", UUID), col("otherParentId", UUID, nullable=True)),
    )
    handoff = build_handoff(
        catalog(
            [PARENT, child],
            constraints=[
                pk("Parent", "id"),
                pk("Item", "id"),
                fk("Item_parentId_fkey", "Item", ("parentId",), "Parent", ("id",)),
                fk("Item_otherParentId_fkey", "Item", ("otherParentId",), "Parent", ("id",)),
            ],
        ),
        Ownership(tables=frozenset({"Item"}), constraints=frozenset(), revisions=("r2",)),
        "r2",
    )
    model = handoff.blocks[("model", "Item")]
    assert '@relation("Item_parentId", fields: [parentId], references: [id]' in model
    assert 'otherParent Parent? @relation("Item_otherParentId"' in " ".join(model.split())
    parent_lines = handoff.additions_text()["Parent"]
    assert any('items Item[] @relation("Item_parentId")' in " ".join(line.split()) for line in parent_lines)
    assert any(
        'items2 Item[] @relation("Item_otherParentId")' in " ".join(line.split()) for line in parent_lines
    )


def test_a_trigger_filled_not_null_column_is_optional_for_the_client():
    session = Table("S", (col("id", UUID), col("versionId", UUID)))
    handoff = build_handoff(
        catalog(
            [session],
            constraints=[pk("S", "id")],
            triggers=[
                Trigger("fill", "S", "fill_fn", "BEFORE", ("INSERT",), "ROW", "O", "CREATE TRIGGER ...")
            ],
            functions=[Function("fill_fn", "", "trigger", "plpgsql", 'SELECT 1 INTO NEW."versionId";')],
        ),
        Ownership(columns=frozenset({("S", "versionId")}), triggers=frozenset({"fill"}), revisions=("r2",)),
        "r2",
    )
    lines = handoff.additions_text()["S"]
    assert any(
        "versionId String @default(dbgenerated()) @db.Uuid" in " ".join(line.split()) for line in lines
    )
    assert [e["kind"] for e in handoff.not_expressible] == ["trigger"]


def test_partial_unique_index_is_not_expressible_and_not_declared():
    session = Table("S", (col("id", UUID), col("userId", UUID), col("labId", UUID)))
    index = unique("S_active_key", "S", "userId", "labId", predicate="status = 'x'")
    handoff = build_handoff(
        catalog([session], constraints=[pk("S", "id")], indexes=[index]),
        Ownership(indexes=frozenset({"S_active_key"}), revisions=("r2",)),
        "r2",
    )
    assert handoff.not_expressible[0]["kind"] == "partial unique index"
    lines = handoff.additions_text()["S"]
    assert all(not line.strip().startswith("@@unique") for line in lines)
    assert any(line.strip().startswith("// @@unique([userId, labId]") for line in lines)


def test_not_at_head_and_unadopted_databases_warn():
    behind = build_handoff(catalog([PARENT], revision="r1"), Ownership(revisions=("r1", "r2")), "r2")
    assert behind.revision["atHead"] is False
    assert any("forgea migrate upgrade" in w for w in behind.warnings)
    bare = build_handoff(catalog([PARENT], revision=None), Ownership(revisions=("r1", "r2")), "r2")
    assert any("forgea migrate adopt" in w for w in bare.warnings)


SCHEMA = """datasource db {
  provider = "postgresql"
}

model Parent { // the web app's
  id String @id @db.Uuid
}
"""


def test_merge_adds_fields_inside_the_model_and_is_idempotent():
    child = Table("Item", (col("id", UUID), col("parentId", UUID)))
    handoff = build_handoff(
        catalog(
            [PARENT, child],
            constraints=[
                pk("Parent", "id"),
                pk("Item", "id"),
                fk("Item_parentId_fkey", "Item", ("parentId",), "Parent", ("id",)),
            ],
        ),
        Ownership(tables=frozenset({"Item"}), revisions=("r2",)),
        "r2",
    )
    merged = merge_into_schema(SCHEMA, handoff)
    assert merged.count("model Parent {") == 1 and merged.count("model Item {") == 1
    parent = merged.split("model Parent {", 1)[1].split("\n}", 1)[0]
    assert "items Item[]" in parent
    assert merge_into_schema(merged, handoff) == merged
    with pytest.raises(InvalidInput, match="has no model Parent"):
        merge_into_schema('datasource db {\n  provider = "postgresql"\n}\n', handoff)


def test_ownership_is_every_revision_minus_the_baseline():
    baseline = {
        "tables": {"A": {"id": {}}},
        "enums": {"E": ["x"]},
        "indexes": {"A_pkey": {}},
        "constraints": {"A_pkey": {}},
        "triggers": {},
        "functions": {"f": {"body": "1"}},
    }
    later = {
        "tables": {"A": {"id": {}, "new": {}}, "B": {"id": {}}},
        "enums": {"E": ["x"], "F": ["y"]},
        "indexes": {"A_pkey": {}, "B_pkey": {}},
        "constraints": {"A_pkey": {}, "B_pkey": {}, "A_check": {}},
        "triggers": {"t": {}},
        "functions": {"f": {"body": "2"}, "g": {"body": "3"}},
    }
    owned = ownership_from_snapshots([("r1", baseline), ("r2", later)], missing=["r3"])
    assert owned.tables == {"B"} and owned.columns == {("A", "new")} and owned.enums == {"F"}
    assert owned.constraints == {"B_pkey", "A_check"} and owned.triggers == {"t"}
    assert owned.functions == {"g"} and owned.replaced_functions == {"f"}
    assert owned.missing_snapshots == ("r3",)
