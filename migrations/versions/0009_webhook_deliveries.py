"""Webhook deliveries: the ledger of GitHub deliveries forgea applied, keyed by X-GitHub-Delivery.

A new table, created empty (its indexes need no scan, and no CONCURRENTLY); the only lock it takes
on a legacy table is the brief SHARE ROW EXCLUSIVE of its foreign key to "LabSession", under the
runner's lock_timeout. Rows are append-only (the legacy ``prevent_destructive_action()`` trigger, as
on "VerificationAttempt"): a delivery applied once stays applied. The downgrade drops the table;
no row that existed before the upgrade is lost.

Revision ID: 0009_webhook_deliveries
Revises: 0008_f6_contract_active_session
"""

from alembic import op

revision = "0009_webhook_deliveries"
down_revision = "0008_f6_contract_active_session"
branch_labels = None
depends_on = None

OUTCOME = """
CREATE TYPE "WebhookDeliveryOutcome" AS ENUM (
    'APPLIED', 'NO_SESSION', 'TEMPLATE_REPOSITORY', 'SESSION_INACTIVE',
    'MAPPING_UPDATED', 'MAPPING_NOT_FOUND', 'RECORDED'
);
"""

LEDGER = """
CREATE TABLE "WebhookDelivery" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "deliveryId" TEXT NOT NULL,
    "event" TEXT NOT NULL,
    "action" TEXT,
    "hookId" BIGINT,
    "providerRepoId" BIGINT,
    "repoFullName" TEXT,
    "labSessionId" UUID,
    "outcome" "WebhookDeliveryOutcome" NOT NULL,
    "detail" TEXT,
    "commitSha" TEXT,
    "payloadSha256" TEXT NOT NULL,
    "signatureVerified" BOOLEAN NOT NULL DEFAULT false,
    "deliveredAt" TIMESTAMP(3),
    "appliedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "appliedBy" TEXT NOT NULL,
    CONSTRAINT "WebhookDelivery_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "WebhookDelivery_labSessionId_fkey" FOREIGN KEY ("labSessionId")
        REFERENCES "LabSession"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "WebhookDelivery_deliveryId_key" ON "WebhookDelivery"("deliveryId");
CREATE INDEX "WebhookDelivery_labSessionId_idx" ON "WebhookDelivery"("labSessionId");
CREATE INDEX "WebhookDelivery_appliedAt_idx" ON "WebhookDelivery"("appliedAt");
"""

APPEND_ONLY = """
CREATE TRIGGER webhookdelivery_immutable BEFORE UPDATE OR DELETE ON "WebhookDelivery"
    FOR EACH ROW EXECUTE FUNCTION prevent_destructive_action();
"""


def upgrade() -> None:
    for sql in (OUTCOME, LEDGER, APPEND_ONLY):
        op.execute(sql)


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE "WebhookDelivery";
        DROP TYPE "WebhookDeliveryOutcome";
        """
    )


# Checked by tests/unit/test_migration_lint.py (squawk); each waiver says why.
SQUAWK_WAIVERS = {
    "prefer-timestamp-tz": "the ledger follows the Prisma convention (TIMESTAMP(3)) of the tables it joins",
}
