"""F6 contract: refuse unless the backfills are done, then add the contract CHECKs as NOT VALID.

Nothing changes when the data is not ready: the revision stops first and names the command to run.
0007 validates the CHECKs and sets labVersionId NOT NULL; 0008 builds the one-active-session index.

Revision ID: 0006_f6_contract_checks
Revises: 0005_f6_session_indexes
"""

from alembic import op
from sqlalchemy import text

from forgea_cli.errors import DataNotReady

revision = "0006_f6_contract_checks"
down_revision = "0005_f6_session_indexes"
branch_labels = None
depends_on = None

READINESS = (
    (
        'SELECT count(*) FROM "LabSession" WHERE "labVersionId" IS NULL',
        "{n} sessions have no labVersionId: run `forgea backfill lab-versions`",
    ),
    (
        """SELECT count(*) FROM "LabSession"
           WHERE ("completedAt" IS NOT NULL) <> ("status" = 'VERIFIED_PASS')""",
        "{n} sessions have completedAt out of step with VERIFIED_PASS: run `forgea backfill completed-at`",
    ),
    (
        """SELECT count(*) FROM (SELECT 1 FROM "LabSession" WHERE "status" IN ('IN_PROGRESS', 'STUCK')
           GROUP BY "userId", "labId" HAVING count(*) > 1) d""",
        "{n} students have more than one active session for a lab: run `forgea backfill resolve-duplicates`",
    ),
)


def refuse_unless_ready() -> None:
    bind = op.get_bind()
    problems = []
    for query, message in READINESS:
        count = bind.execute(text(query)).scalar()
        if count:
            problems.append(message.format(n=count))
    if problems:
        raise DataNotReady("; ".join(problems) + " (nothing was changed)")


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
