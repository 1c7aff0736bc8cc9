"""The SQL of the F6 backfills, one keyset job each (see services/batching.py for the loop)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from forgea_cli.db.keyset import KeysetJob, key_range

LAB_VERSIONS_PENDING = """NOT EXISTS (SELECT 1 FROM "LabVersion" v
                                      WHERE v."labId" = "Lab"."id" AND v."version" = "Lab"."repoVersion")"""


def _create_lab_versions(connection: Connection, low: Any, high: Any) -> int:
    return connection.execute(
        text(
            f"""INSERT INTO "LabVersion" ("labId", "version", "templateRepoUrl")
                SELECT l."id", l."repoVersion", l."baseRepoUrl" FROM "Lab" l
                WHERE {key_range('l."id"', low)} AND NOT EXISTS (
                    SELECT 1 FROM "LabVersion" v WHERE v."labId" = l."id" AND v."version" = l."repoVersion")
                ON CONFLICT ("labId", "version") DO NOTHING"""
        ),
        {"low": low, "high": high},
    ).rowcount


def _link_session_versions(connection: Connection, low: Any, high: Any) -> int:
    return connection.execute(
        text(
            f"""UPDATE "LabSession" s SET "labVersionId" = v."id"
                FROM "Lab" l JOIN "LabVersion" v ON v."labId" = l."id" AND v."version" = l."repoVersion"
                WHERE s."labId" = l."id" AND s."labVersionId" IS NULL AND {key_range('s."id"', low)}"""
        ),
        {"low": low, "high": high},
    ).rowcount


def _stamp_completed_at(connection: Connection, low: Any, high: Any) -> int:
    return connection.execute(
        text(
            f"""UPDATE "LabSession" SET "completedAt" = "lastActivityAt"
                WHERE "status" = 'VERIFIED_PASS' AND "completedAt" IS NULL AND {key_range('"id"', low)}"""
        ),
        {"low": low, "high": high},
    ).rowcount


def _carry_over_logs(connection: Connection, low: Any, high: Any) -> int:
    # Attempt numbers continue after any attempt the session already has. No advisory lock here:
    # a concurrent writer that takes the same number makes the unique index refuse the batch, which
    # is then retried with a fresh snapshot.
    statement = text(
        f"""INSERT INTO "VerificationAttempt" ("labSessionId", "attemptNumber", "commitSha", "result",
                                              "ciOutput", "prDiff", "legacyVerificationLogId", "createdAt")
            SELECT g."sessionId",
                   COALESCE((SELECT max(a."attemptNumber") FROM "VerificationAttempt" a
                             WHERE a."labSessionId" = g."sessionId"), 0) + 1,
                   g."commitSha", 'PASS', g."ciOutput", g."prDiff", g."id", g."verifiedAt"
            FROM "VerificationLog" g
            WHERE {key_range('g."id"', low)} AND NOT EXISTS (
                SELECT 1 FROM "VerificationAttempt" a WHERE a."legacyVerificationLogId" = g."id")
            ON CONFLICT ("legacyVerificationLogId") DO NOTHING"""
    )
    for attempt in range(3):
        savepoint = connection.begin_nested()
        try:
            changed = connection.execute(statement, {"low": low, "high": high}).rowcount
            savepoint.commit()
            return changed
        except IntegrityError:
            savepoint.rollback()
            if attempt == 2:
                raise
    return 0


LAB_VERSIONS = KeysetJob("lab-versions (labs)", '"Lab"', LAB_VERSIONS_PENDING, _create_lab_versions)
SESSION_VERSIONS = KeysetJob(
    "lab-versions (sessions)", '"LabSession"', '"labVersionId" IS NULL', _link_session_versions
)
COMPLETED_AT = KeysetJob(
    "completed-at",
    '"LabSession"',
    """"status" = 'VERIFIED_PASS' AND "completedAt" IS NULL""",
    _stamp_completed_at,
)
VERIFICATION_ATTEMPTS = KeysetJob(
    "verification-attempts",
    '"VerificationLog"',
    """NOT EXISTS (SELECT 1 FROM "VerificationAttempt" a
                   WHERE a."legacyVerificationLogId" = "VerificationLog"."id")""",
    _carry_over_logs,
)

# What a dry run's `--show N` says of each row a job would change (a SQL expression over the row).
SHOWN = {
    LAB_VERSIONS.name: "'Lab: create its LabVersion ' || \"repoVersion\"",
    SESSION_VERSIONS.name: "'LabSession: link to the current version of lab ' || \"labId\"",
    # Timestamps as every document shows them: ISO 8601 with the offset (the column holds UTC).
    COMPLETED_AT.name: "'LabSession: completedAt = ' "
    '|| to_char("lastActivityAt", \'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"\')',
    VERIFICATION_ATTEMPTS.name: "'VerificationLog: a PASS attempt for session ' || \"sessionId\"",
}
