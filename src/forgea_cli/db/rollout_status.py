"""What `forgea rollout status` measures: read-only counts, each the condition of one runbook step.

The counts are the backfills' own `pending` conditions (db/backfill_jobs) and the contract's own
readiness queries (db/readiness), so a step the checklist calls done is a step whose command would
find nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from forgea_cli.db import backfill_jobs, keyset, readiness

UNMAPPED_SESSIONS = """SELECT count(*) FROM "LabSession" s
WHERE NOT EXISTS (SELECT 1 FROM "GitHubRepoMapping" m WHERE m."labSessionId" = s."id")"""
PENDING_MAPPINGS = """SELECT count(*) FROM "GitHubRepoMapping" WHERE "resolution" = 'PENDING'"""

# backfill -> the keyset jobs whose pending rows it changes (repo-mappings is measured by its plan)
KEYSET_BACKFILLS = {
    "lab-versions": (backfill_jobs.LAB_VERSIONS, backfill_jobs.SESSION_VERSIONS),
    "completed-at": (backfill_jobs.COMPLETED_AT,),
    "verification-attempts": (backfill_jobs.VERIFICATION_ATTEMPTS,),
}


@dataclass(frozen=True)
class Counts:
    remaining: dict[str, int]  # keyset backfill -> rows it would still change
    unmapped_sessions: int
    duplicate_students: int  # students with more than one active session for a lab
    pending_mappings: int  # mappings whose repository id is not resolved yet


def prisma_built(connection: Connection) -> bool:
    return bool(connection.execute(text(readiness.PRISMA_BUILT)).scalar())


def has_sessions_table(connection: Connection) -> bool:
    return bool(connection.execute(text("""SELECT to_regclass('"LabSession"') IS NOT NULL""")).scalar())


def duplicate_students(connection: Connection) -> int:
    return int(connection.execute(text(readiness.ACTIVE_DUPLICATES)).scalar() or 0)


def expanded_counts(connection: Connection) -> Counts:
    """The counts that need the expand's tables and columns (revision 0005 or later)."""
    remaining = {
        name: sum(keyset.count_pending(connection, job) for job in jobs)
        for name, jobs in KEYSET_BACKFILLS.items()
    }
    return Counts(
        remaining=remaining,
        unmapped_sessions=int(connection.execute(text(UNMAPPED_SESSIONS)).scalar() or 0),
        duplicate_students=duplicate_students(connection),
        pending_mappings=int(connection.execute(text(PENDING_MAPPINGS)).scalar() or 0),
    )
