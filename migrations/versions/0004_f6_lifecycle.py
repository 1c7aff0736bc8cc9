"""F6 lifecycle: the trigger enforces the transition table, its preconditions, and stamps completedAt.

Frozen copy of `forgea_cli.lifecycle` as of this revision (see LIFECYCLE_FINGERPRINT): changing the
module without a new revision that re-freezes this SQL fails the test suite and verify-constraints.

- The transition table is the legacy one (the web app's error texts, SQLSTATE P0001).
- Entering VERIFIED_PASS needs a PASS "VerificationAttempt" or a legacy "VerificationLog" row
  (SQLSTATE FG002); DEFERRED -> IN_PROGRESS is refused while the student has another active
  session for the lab (FG003).
- completedAt is stamped when the status becomes VERIFIED_PASS and never changes afterwards; the
  `backfill completed-at` command may fill it once on a VERIFIED_PASS row that has none (FG004
  otherwise).

Revision ID: 0004_f6_lifecycle
Revises: 0003_f6_validate_version_fk
"""

from alembic import op

revision = "0004_f6_lifecycle"
down_revision = "0003_f6_validate_version_fk"
branch_labels = None
depends_on = None

LIFECYCLE_FINGERPRINT = "06e4f097434f2863cf6521d53ece160d8afc306e6e6c660ff9809c1b704534e3"

LIFECYCLE_FUNCTION = """
CREATE OR REPLACE FUNCTION enforce_lab_session_status_transition()
RETURNS TRIGGER AS $$
DECLARE
    allowed BOOLEAN;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW."status" <> 'IN_PROGRESS' THEN
            RAISE EXCEPTION 'Invalid initial LabSession status: %', NEW."status";
        END IF;
        IF NEW."completedAt" IS NOT NULL THEN
            RAISE EXCEPTION 'LabSession.completedAt is set by the database when the status becomes VERIFIED_PASS'
                USING ERRCODE = 'FG004';
        END IF;
        RETURN NEW;
    END IF;

    IF OLD."completedAt" IS NOT NULL AND NEW."completedAt" IS DISTINCT FROM OLD."completedAt" THEN
        RAISE EXCEPTION 'LabSession.completedAt cannot change once set (session %)', OLD."id"
            USING ERRCODE = 'FG004';
    END IF;

    IF NEW."status" = OLD."status" THEN
        IF OLD."completedAt" IS NULL AND NEW."completedAt" IS NOT NULL AND NEW."status" <> 'VERIFIED_PASS' THEN
            RAISE EXCEPTION 'LabSession.completedAt may only be set on a VERIFIED_PASS session (session %)', OLD."id"
                USING ERRCODE = 'FG004';
        END IF;
        RETURN NEW;
    END IF;

    allowed := CASE OLD."status"
        WHEN 'IN_PROGRESS' THEN NEW."status" IN ('STUCK', 'VERIFIED_PASS', 'DEFERRED')
        WHEN 'STUCK' THEN NEW."status" IN ('IN_PROGRESS', 'VERIFIED_PASS', 'DEFERRED')
        WHEN 'DEFERRED' THEN NEW."status" IN ('IN_PROGRESS')
        ELSE FALSE
    END;
    IF NOT allowed THEN
        RAISE EXCEPTION 'Invalid LabSession status transition: % -> %', OLD."status", NEW."status";
    END IF;

    IF NEW."status" = 'VERIFIED_PASS' THEN
        IF NOT EXISTS (SELECT 1 FROM "VerificationAttempt" a
                       WHERE a."labSessionId" = NEW."id" AND a."result" = 'PASS')
           AND NOT EXISTS (SELECT 1 FROM "VerificationLog" l WHERE l."sessionId" = NEW."id") THEN
            RAISE EXCEPTION 'LabSession % cannot enter VERIFIED_PASS: it has no PASS verification attempt', NEW."id"
                USING ERRCODE = 'FG002';
        END IF;
        NEW."completedAt" := CURRENT_TIMESTAMP;
    ELSIF NEW."completedAt" IS NOT NULL THEN
        RAISE EXCEPTION 'LabSession.completedAt may only be set on a VERIFIED_PASS session (session %)', OLD."id"
            USING ERRCODE = 'FG004';
    END IF;

    IF OLD."status" = 'DEFERRED' AND NEW."status" = 'IN_PROGRESS' AND EXISTS (
        SELECT 1 FROM "LabSession" s
        WHERE s."userId" = NEW."userId" AND s."labId" = NEW."labId" AND s."id" <> NEW."id"
          AND s."status" IN ('IN_PROGRESS', 'STUCK')
    ) THEN
        RAISE EXCEPTION 'LabSession % cannot return to IN_PROGRESS: the student has another active session for this lab', NEW."id"
            USING ERRCODE = 'FG003';
    END IF;

    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

LEGACY_FUNCTION = """
CREATE OR REPLACE FUNCTION enforce_lab_session_status_transition()
RETURNS TRIGGER AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW."status" <> 'IN_PROGRESS' THEN
            RAISE EXCEPTION 'Invalid LabSession status transition: % -> %', 'NONE', NEW."status";
        END IF;
        RETURN NEW;
    END IF;

    IF NEW."status" = OLD."status" THEN
        RETURN NEW;
    END IF;

    IF OLD."status" = 'IN_PROGRESS' AND NEW."status" IN ('STUCK', 'VERIFIED_PASS', 'DEFERRED') THEN
        RETURN NEW;
    END IF;

    IF OLD."status" = 'STUCK' AND NEW."status" IN ('IN_PROGRESS', 'VERIFIED_PASS', 'DEFERRED') THEN
        RETURN NEW;
    END IF;

    IF OLD."status" = 'DEFERRED' AND NEW."status" = 'IN_PROGRESS' THEN
        RETURN NEW;
    END IF;

    RAISE EXCEPTION 'Invalid LabSession status transition: % -> %', OLD."status", NEW."status";
END;
$$ LANGUAGE plpgsql;
"""


# The legacy guard comes back as the web app wrote it when the database was adopted (its exact
# definition is in "ForgeaAdoptedObject"), else as the baseline revision built it.
RESTORE_LEGACY = f"""
DO $restore$
DECLARE
    adopted TEXT;
BEGIN
    IF to_regclass('"ForgeaAdoptedObject"') IS NOT NULL THEN
        SELECT definition INTO adopted FROM "ForgeaAdoptedObject"
        WHERE kind = 'function' AND name = 'enforce_lab_session_status_transition';
    END IF;
    EXECUTE coalesce(adopted, $legacy${LEGACY_FUNCTION}$legacy$);
END
$restore$;
"""


def upgrade() -> None:
    op.execute(LIFECYCLE_FUNCTION)


def downgrade() -> None:
    op.execute(RESTORE_LEGACY)
