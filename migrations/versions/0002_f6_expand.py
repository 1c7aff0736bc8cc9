"""F6 expand: lab versions, verification attempts, repo mapping, idempotency keys (additive only).

New tables are created empty, so their indexes and foreign keys need no scan. On "LabSession" only
nullable columns without defaults are added (catalog-only changes) and the composite foreign key is
added NOT VALID; 0003 validates it in its own transaction.

Revision ID: 0002_f6_expand
Revises: 0001_baseline
"""

from alembic import op

revision = "0002_f6_expand"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

ENUMS = """
CREATE TYPE "VerificationResult" AS ENUM ('PASS', 'FAIL', 'ERROR');
CREATE TYPE "RepoResolution" AS ENUM ('PENDING', 'RESOLVED', 'NOT_FOUND');
CREATE TYPE "RepoMappingSource" AS ENUM ('CREATED', 'BACKFILL', 'WEBHOOK', 'MANUAL');
CREATE TYPE "IdempotencyRecoveryPoint" AS ENUM ('STARTED', 'REPO_CREATED', 'FINISHED', 'FAILED');
"""

LAB_VERSION = """
CREATE TABLE "LabVersion" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "labId" UUID NOT NULL,
    "version" TEXT NOT NULL,
    "templateRepoUrl" TEXT NOT NULL,
    "templateRepoId" BIGINT,
    "commitSha" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "LabVersion_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "LabVersion_labId_fkey" FOREIGN KEY ("labId") REFERENCES "Lab"("id")
        ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "LabVersion_labId_version_key" ON "LabVersion"("labId", "version");
CREATE UNIQUE INDEX "LabVersion_id_labId_key" ON "LabVersion"("id", "labId");
"""

VERIFICATION_ATTEMPT = """
CREATE TABLE "VerificationAttempt" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "labSessionId" UUID NOT NULL,
    "attemptNumber" INTEGER NOT NULL,
    "commitSha" TEXT NOT NULL,
    "result" "VerificationResult" NOT NULL,
    "ciOutput" TEXT NOT NULL,
    "prDiff" TEXT,
    "deliveryId" TEXT,
    "legacyVerificationLogId" UUID,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "VerificationAttempt_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "VerificationAttempt_attemptNumber_check" CHECK ("attemptNumber" >= 1),
    CONSTRAINT "VerificationAttempt_labSessionId_fkey" FOREIGN KEY ("labSessionId")
        REFERENCES "LabSession"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "VerificationAttempt_legacyVerificationLogId_fkey" FOREIGN KEY ("legacyVerificationLogId")
        REFERENCES "VerificationLog"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "VerificationAttempt_labSessionId_attemptNumber_key"
    ON "VerificationAttempt"("labSessionId", "attemptNumber");
CREATE UNIQUE INDEX "VerificationAttempt_deliveryId_key" ON "VerificationAttempt"("deliveryId");
CREATE UNIQUE INDEX "VerificationAttempt_legacyVerificationLogId_key"
    ON "VerificationAttempt"("legacyVerificationLogId");
CREATE INDEX "VerificationAttempt_labSessionId_result_idx" ON "VerificationAttempt"("labSessionId", "result");
"""

REPO_MAPPING = """
CREATE TABLE "GitHubRepoMapping" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "labSessionId" UUID NOT NULL,
    "providerRepoId" BIGINT,
    "owner" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "canonicalUrl" TEXT NOT NULL,
    "htmlUrl" TEXT,
    "defaultBranch" TEXT,
    "resolution" "RepoResolution" NOT NULL DEFAULT 'PENDING',
    "source" "RepoMappingSource" NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolvedAt" TIMESTAMP(3),
    CONSTRAINT "GitHubRepoMapping_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "GitHubRepoMapping_resolution_check"
        CHECK (("resolution" = 'RESOLVED') = ("providerRepoId" IS NOT NULL)),
    CONSTRAINT "GitHubRepoMapping_canonicalUrl_check" CHECK ("canonicalUrl" = lower("canonicalUrl")),
    CONSTRAINT "GitHubRepoMapping_labSessionId_fkey" FOREIGN KEY ("labSessionId")
        REFERENCES "LabSession"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "GitHubRepoMapping_labSessionId_key" ON "GitHubRepoMapping"("labSessionId");
CREATE UNIQUE INDEX "GitHubRepoMapping_providerRepoId_key" ON "GitHubRepoMapping"("providerRepoId");
CREATE UNIQUE INDEX "GitHubRepoMapping_canonicalUrl_key" ON "GitHubRepoMapping"("canonicalUrl");
CREATE INDEX "GitHubRepoMapping_resolution_idx" ON "GitHubRepoMapping"("resolution");
"""

IDEMPOTENCY_KEY = """
CREATE TABLE "IdempotencyKey" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "actorId" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "requestHash" TEXT NOT NULL,
    "requestParams" JSONB NOT NULL,
    "recoveryPoint" "IdempotencyRecoveryPoint" NOT NULL DEFAULT 'STARTED',
    "plannedSessionId" UUID NOT NULL,
    "repoFullName" TEXT,
    "providerRepoId" BIGINT,
    "labSessionId" UUID,
    "result" JSONB,
    "errorCode" TEXT,
    "lockedAt" TIMESTAMP(3),
    "lastRunAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "IdempotencyKey_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "IdempotencyKey_labSessionId_fkey" FOREIGN KEY ("labSessionId")
        REFERENCES "LabSession"("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "IdempotencyKey_actorId_key_key" ON "IdempotencyKey"("actorId", "key");
CREATE UNIQUE INDEX "IdempotencyKey_plannedSessionId_key" ON "IdempotencyKey"("plannedSessionId");
CREATE INDEX "IdempotencyKey_recoveryPoint_lastRunAt_idx" ON "IdempotencyKey"("recoveryPoint", "lastRunAt");
"""

LAB_SESSION_COLUMNS = """
ALTER TABLE "LabSession" ADD COLUMN "labVersionId" UUID;
ALTER TABLE "LabSession" ADD COLUMN "completedAt" TIMESTAMP(3);
ALTER TABLE "LabSession" ADD CONSTRAINT "LabSession_labVersionId_labId_fkey"
    FOREIGN KEY ("labVersionId", "labId") REFERENCES "LabVersion"("id", "labId")
    ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;
"""

# Legacy inserts name only id, userId, labId, userForkUrl (and previewUrl): the database gives the
# session its lab's current version, creating that version row on first use.
FILL_VERSION_FUNCTION = """
CREATE OR REPLACE FUNCTION fill_lab_session_version()
RETURNS TRIGGER AS $$
BEGIN
    IF NEW."labVersionId" IS NOT NULL THEN
        RETURN NEW;
    END IF;
    SELECT v."id" INTO NEW."labVersionId"
    FROM "Lab" l JOIN "LabVersion" v ON v."labId" = l."id" AND v."version" = l."repoVersion"
    WHERE l."id" = NEW."labId";
    IF NEW."labVersionId" IS NULL THEN
        INSERT INTO "LabVersion" ("labId", "version", "templateRepoUrl")
        SELECT l."id", l."repoVersion", l."baseRepoUrl" FROM "Lab" l WHERE l."id" = NEW."labId"
        ON CONFLICT ("labId", "version") DO NOTHING
        RETURNING "id" INTO NEW."labVersionId";
    END IF;
    IF NEW."labVersionId" IS NULL THEN
        -- another transaction created the version between our SELECT and INSERT
        SELECT v."id" INTO NEW."labVersionId"
        FROM "Lab" l JOIN "LabVersion" v ON v."labId" = l."id" AND v."version" = l."repoVersion"
        WHERE l."id" = NEW."labId";
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

LAB_VERSION_GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION guard_lab_version_immutable()
RETURNS TRIGGER AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'LabVersion rows are immutable: DELETE is not allowed' USING ERRCODE = '42501';
    END IF;
    IF NEW."id" IS DISTINCT FROM OLD."id" OR NEW."labId" IS DISTINCT FROM OLD."labId"
       OR NEW."version" IS DISTINCT FROM OLD."version"
       OR NEW."templateRepoUrl" IS DISTINCT FROM OLD."templateRepoUrl"
       OR NEW."createdAt" IS DISTINCT FROM OLD."createdAt"
       OR (OLD."templateRepoId" IS NOT NULL AND NEW."templateRepoId" IS DISTINCT FROM OLD."templateRepoId")
       OR (OLD."commitSha" IS NOT NULL AND NEW."commitSha" IS DISTINCT FROM OLD."commitSha") THEN
        RAISE EXCEPTION 'LabVersion rows are immutable: only templateRepoId and commitSha may be filled, once'
            USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

# Attempt numbers are max+1 per session; the advisory lock serialises numbering per session
# without touching the row locks the web app takes on "LabSession".
NEXT_ATTEMPT_FUNCTION = """
CREATE OR REPLACE FUNCTION next_verification_attempt_number(session_id UUID)
RETURNS INTEGER AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('forgea.attempt:' || session_id::text, 0));
    RETURN (SELECT COALESCE(MAX("attemptNumber"), 0) + 1 FROM "VerificationAttempt"
            WHERE "labSessionId" = session_id);
END;
$$ LANGUAGE plpgsql;
"""

# The web app still writes VerificationLog (written when a verification passes: verifiedAt); each
# row is mirrored as a PASS attempt so both kinds of evidence live in one table.
MIRROR_LOG_FUNCTION = """
CREATE OR REPLACE FUNCTION mirror_verification_log()
RETURNS TRIGGER AS $$
BEGIN
    INSERT INTO "VerificationAttempt" ("labSessionId", "attemptNumber", "commitSha", "result", "ciOutput",
                                       "prDiff", "legacyVerificationLogId", "createdAt")
    VALUES (NEW."sessionId", next_verification_attempt_number(NEW."sessionId"), NEW."commitSha", 'PASS',
            NEW."ciOutput", NEW."prDiff", NEW."id", NEW."verifiedAt")
    ON CONFLICT ("legacyVerificationLogId") DO NOTHING;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

TRIGGERS = """
CREATE TRIGGER labsession_fill_version BEFORE INSERT ON "LabSession"
    FOR EACH ROW EXECUTE FUNCTION fill_lab_session_version();
CREATE TRIGGER labversion_immutable BEFORE UPDATE OR DELETE ON "LabVersion"
    FOR EACH ROW EXECUTE FUNCTION guard_lab_version_immutable();
CREATE TRIGGER verificationattempt_immutable BEFORE UPDATE OR DELETE ON "VerificationAttempt"
    FOR EACH ROW EXECUTE FUNCTION prevent_destructive_action();
CREATE TRIGGER verificationlog_mirror AFTER INSERT ON "VerificationLog"
    FOR EACH ROW EXECUTE FUNCTION mirror_verification_log();
"""


def upgrade() -> None:
    for sql in (
        ENUMS,
        LAB_VERSION,
        VERIFICATION_ATTEMPT,
        REPO_MAPPING,
        IDEMPOTENCY_KEY,
        LAB_SESSION_COLUMNS,
        FILL_VERSION_FUNCTION,
        LAB_VERSION_GUARD_FUNCTION,
        NEXT_ATTEMPT_FUNCTION,
        MIRROR_LOG_FUNCTION,
        TRIGGERS,
    ):
        op.execute(sql)


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER verificationlog_mirror ON "VerificationLog";
        DROP TRIGGER labsession_fill_version ON "LabSession";
        ALTER TABLE "LabSession" DROP CONSTRAINT "LabSession_labVersionId_labId_fkey";
        ALTER TABLE "LabSession" DROP COLUMN "completedAt";
        ALTER TABLE "LabSession" DROP COLUMN "labVersionId";
        DROP TABLE "IdempotencyKey";
        DROP TABLE "GitHubRepoMapping";
        DROP TABLE "VerificationAttempt";
        DROP TABLE "LabVersion";
        DROP FUNCTION mirror_verification_log();
        DROP FUNCTION next_verification_attempt_number(UUID);
        DROP FUNCTION guard_lab_version_immutable();
        DROP FUNCTION fill_lab_session_version();
        DROP TYPE "IdempotencyRecoveryPoint";
        DROP TYPE "RepoMappingSource";
        DROP TYPE "RepoResolution";
        DROP TYPE "VerificationResult";
        """
    )


# Checked by tests/unit/test_migration_lint.py (squawk); each waiver says why.
SQUAWK_WAIVERS = {
    "prefer-timestamp-tz": "new tables follow the Prisma convention (TIMESTAMP(3)) of the tables they join",
    "prefer-bigint-over-int": "attemptNumber counts one session's attempts; it cannot approach 2^31",
}
