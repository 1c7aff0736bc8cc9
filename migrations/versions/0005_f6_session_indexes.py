"""F6 expand: the indexes behind `session list` filters, built CONCURRENTLY.

CREATE INDEX CONCURRENTLY cannot run in a transaction; a failed build leaves an INVALID index,
which a rerun drops and builds again.

Revision ID: 0005_f6_session_indexes
Revises: 0004_f6_lifecycle
"""

from alembic import op

revision = "0005_f6_session_indexes"
down_revision = "0004_f6_lifecycle"
branch_labels = None
depends_on = None

INDEXES = {
    "LabSession_status_lastActivityAt_idx": '"LabSession"("status", "lastActivityAt")',
    "LabSession_labId_status_idx": '"LabSession"("labId", "status")',
    "LabSession_userId_status_idx": '"LabSession"("userId", "status")',
    "LabSession_lastActivityAt_idx": '"LabSession"("lastActivityAt")',
}


def drop_invalid(name: str) -> None:
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
                       WHERE c.relname = '{name}' AND NOT x.indisvalid) THEN
                EXECUTE 'DROP INDEX "{name}"';
            END IF;
        END $$;
        """
    )


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for name, target in INDEXES.items():
            drop_invalid(name)
            op.execute(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON {target}')


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name in INDEXES:
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
