"""F6 contract: validate the CHECKs, then labVersionId NOT NULL behind the validated CHECK.

Each VALIDATE runs in its own transaction (SHARE UPDATE EXCLUSIVE: writes continue during the
scan). SET NOT NULL then needs ACCESS EXCLUSIVE only for a moment: PostgreSQL proves it from the
validated CHECK instead of scanning. Every step is safe to rerun after an interruption.

Revision ID: 0007_f6_contract_validate
Revises: 0006_f6_contract_checks
"""

from alembic import op

revision = "0007_f6_contract_validate"
down_revision = "0006_f6_contract_checks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute('ALTER TABLE "LabSession" VALIDATE CONSTRAINT "LabSession_labVersionId_not_null"')
        op.execute('ALTER TABLE "LabSession" VALIDATE CONSTRAINT "LabSession_completedAt_check"')
        op.execute(
            """ALTER TABLE "LabSession" ALTER COLUMN "labVersionId" SET NOT NULL,
                   DROP CONSTRAINT IF EXISTS "LabSession_labVersionId_not_null" """
        )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE "LabSession" ALTER COLUMN "labVersionId" DROP NOT NULL;
        ALTER TABLE "LabSession" ADD CONSTRAINT "LabSession_labVersionId_not_null"
            CHECK ("labVersionId" IS NOT NULL) NOT VALID;
        ALTER TABLE "LabSession" DROP CONSTRAINT "LabSession_completedAt_check";
        ALTER TABLE "LabSession" ADD CONSTRAINT "LabSession_completedAt_check"
            CHECK (("completedAt" IS NOT NULL) = ("status" = 'VERIFIED_PASS')) NOT VALID;
        """
    )


# Checked by tests/unit/test_migration_lint.py (squawk); each waiver says why.
SQUAWK_WAIVERS = {
    "ban-drop-constraint": "drops only the helper CHECK that SET NOT NULL has just made redundant",
    "prefer-robust-stmts": "runs outside a transaction, and each statement is idempotent: VALIDATE of a "
    "validated constraint and SET NOT NULL on a NOT NULL column are no-ops, the DROP has IF EXISTS",
}
