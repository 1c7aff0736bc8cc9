"""F6 expand: validate the composite version/lab foreign key added NOT VALID by 0002.

VALIDATE CONSTRAINT takes SHARE UPDATE EXCLUSIVE on "LabSession": the web app keeps writing while
the rows are checked.

Revision ID: 0003_f6_validate_version_fk
Revises: 0002_f6_expand
"""

from alembic import op

revision = "0003_f6_validate_version_fk"
down_revision = "0002_f6_expand"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute('ALTER TABLE "LabSession" VALIDATE CONSTRAINT "LabSession_labVersionId_labId_fkey"')


def downgrade() -> None:
    # A validated constraint cannot be marked NOT VALID again; re-adding it as NOT VALID restores
    # exactly the state 0002 left, without a table scan.
    op.execute(
        """
        ALTER TABLE "LabSession" DROP CONSTRAINT "LabSession_labVersionId_labId_fkey";
        ALTER TABLE "LabSession" ADD CONSTRAINT "LabSession_labVersionId_labId_fkey"
            FOREIGN KEY ("labVersionId", "labId") REFERENCES "LabVersion"("id", "labId")
            ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
        """
    )
