"""F6 contract: refuse unless the backfills are done, then add the contract CHECKs as NOT VALID.

Nothing changes when the data is not ready: the revision stops first and names the command to run.
0007 validates the CHECKs and sets labVersionId NOT NULL; 0008 builds the one-active-session index.

Revision ID: 0006_f6_contract_checks
Revises: 0005_f6_session_indexes
"""

from alembic import op

from forgea_cli.db import readiness

revision = "0006_f6_contract_checks"
down_revision = "0005_f6_session_indexes"
branch_labels = None
depends_on = None


def refuse_unless_ready() -> None:
    """The checks live in `forgea_cli.db.readiness` (CONTRACT), where `migrate upgrade --dry-run`
    runs them too: every session versioned, completedAt in step, no active duplicates."""
    readiness.refuse_unless_contract_ready(op.get_bind())


def upgrade() -> None:
    if not op.get_context().as_sql:
        refuse_unless_ready()
    op.execute(
        """
        ALTER TABLE "LabSession" ADD CONSTRAINT "LabSession_labVersionId_not_null"
            CHECK ("labVersionId" IS NOT NULL) NOT VALID;
        ALTER TABLE "LabSession" ADD CONSTRAINT "LabSession_completedAt_check"
            CHECK (("completedAt" IS NOT NULL) = ("status" = 'VERIFIED_PASS')) NOT VALID;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE "LabSession" DROP CONSTRAINT "LabSession_completedAt_check";
        ALTER TABLE "LabSession" DROP CONSTRAINT "LabSession_labVersionId_not_null";
        """
    )
