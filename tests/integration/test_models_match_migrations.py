"""The Core tables in db/tables.py describe the database the migrations build (Alembic autogenerate)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from forgea_cli.db.engine import connect
from forgea_cli.db.tables import metadata


def _significant(diff) -> bool:
    # Alembic reports unique indexes and unique=True columns in different shapes; both are
    # checked exactly by the catalog snapshot tests, so only columns and tables matter here.
    kind = diff[0] if isinstance(diff, tuple) else diff[0][0]
    return kind not in {"add_index", "remove_index", "add_constraint", "remove_constraint"}


def test_tables_module_matches_the_head_schema(migrated_db, engine_for):
    with connect(engine_for(migrated_db)) as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = [d for d in compare_metadata(context, metadata) if _significant(d)]
    tables = {d[1].name for d in differences if isinstance(d, tuple) and d[0] == "remove_table"}
    assert tables <= {"Account", "Session", "VerificationToken", "alembic_version", "_prisma_migrations"}
    rest = [d for d in differences if not (isinstance(d, tuple) and d[0] == "remove_table")]
    assert rest == []
