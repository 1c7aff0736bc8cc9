"""F6 contract: one active session per student per lab, as a unique partial index built CONCURRENTLY.

Refuses (naming the command) while duplicates exist. If a duplicate appears during the build, the
build fails and leaves an INVALID index, which the next run drops before building again.

Revision ID: 0008_f6_contract_active_session
Revises: 0007_f6_contract_validate
"""

from alembic import op

from forgea_cli.db import readiness

revision = "0008_f6_contract_active_session"
down_revision = "0007_f6_contract_validate"
branch_labels = None
depends_on = None

INDEX = "LabSession_userId_labId_active_key"


def upgrade() -> None:
    context = op.get_context()
    if not context.as_sql:
        readiness.refuse_while_duplicates(op.get_bind())  # the same check `--dry-run` runs
    with context.autocommit_block():
        op.execute(
            f"""
            DO $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
                           WHERE c.relname = '{INDEX}' AND NOT x.indisvalid) THEN
                    EXECUTE 'DROP INDEX "{INDEX}"';
                END IF;
            END $$;
            """
        )
        op.execute(
            f"""CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "{INDEX}" ON "LabSession"("userId", "labId")
                WHERE "status" IN ('IN_PROGRESS', 'STUCK')"""
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"')
