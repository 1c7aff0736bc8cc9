"""Students with more than one active session for a lab (what the contract's unique index forbids)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from forgea_cli.db.statuses import ACTIVE_SQL

# The one definition of "a student with more than one active session for a lab" (what the
# contract's unique index forbids): one row per (student, lab), counted by the contract's refusal,
# verify's data check and rollout status, expanded here into the sessions to defer.
ACTIVE_DUPLICATE_GROUPS = f"""SELECT "userId", "labId" FROM "LabSession" WHERE "status" IN {ACTIVE_SQL}
    GROUP BY "userId", "labId" HAVING count(*) > 1"""
COUNT_ACTIVE_DUPLICATES = f"SELECT count(*) FROM ({ACTIVE_DUPLICATE_GROUPS}) d"

# Most recently active first; startedAt then id break ties so the choice is deterministic.
_RANKED_ACTIVE = text(
    f"""
    SELECT "userId", "labId", "id", "status", "lastActivityAt",
           row_number() OVER (PARTITION BY "userId", "labId"
                              ORDER BY "lastActivityAt" DESC, "startedAt" DESC, "id" DESC) AS rank
    FROM "LabSession"
    WHERE "status" IN {ACTIVE_SQL} AND ("userId", "labId") IN ({ACTIVE_DUPLICATE_GROUPS})
    ORDER BY "userId", "labId", rank
    """
)


@dataclass
class DuplicateGroup:
    user_id: uuid.UUID
    lab_id: uuid.UUID
    keep: uuid.UUID
    defer: list[tuple[uuid.UUID, str]] = field(default_factory=list)  # (session id, status seen)


def find_active_duplicates(connection: Connection) -> list[DuplicateGroup]:
    groups: list[DuplicateGroup] = []
    for row in connection.execute(_RANKED_ACTIVE):
        if row.rank == 1:
            groups.append(DuplicateGroup(row.userId, row.labId, row.id))
        else:
            groups[-1].defer.append((row.id, row.status))
    return groups
