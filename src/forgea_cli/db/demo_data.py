"""The rows the demo's steps refer to, read from the demo database (`db.fixtures.load_legacy_database`)."""

from __future__ import annotations

from sqlalchemy import Connection, text

from forgea_cli.db.fixtures import legacy_data
from forgea_cli.db.statuses import ACTIVE_SQL

# Judged on the generated (legacy) sessions only, so a rerun picks the same student and the demo's
# `session create` is a replay rather than a second session.
_STUDENT_AND_LAB_WITHOUT_ACTIVE_SESSION = text(
    f"""
SELECT u.email, l.id::text FROM "User" u CROSS JOIN "Lab" l
WHERE NOT EXISTS (
    SELECT 1 FROM "LabSession" s WHERE s."userId" = u.id AND s."labId" = l.id
      AND s.id::text LIKE :generated AND s.status IN {ACTIVE_SQL})
ORDER BY u.email, l.id LIMIT 1
"""
)
_MESSY_URL = text(
    """SELECT "userForkUrl" FROM "LabSession" WHERE "userForkUrl" LIKE 'git@%' ORDER BY id LIMIT 1"""
)
_ONLY_ACTIVE_SESSION = text(
    f"""
SELECT s.id::text FROM "LabSession" s
WHERE s.status = 'IN_PROGRESS' AND NOT EXISTS (
    SELECT 1 FROM "LabSession" o WHERE o."userId" = s."userId" AND o."labId" = s."labId" AND o.id <> s.id
      AND o.status IN {ACTIVE_SQL})
ORDER BY s.id LIMIT 1
"""
)


def student_and_lab_without_active_session(connection: Connection) -> tuple[str, str]:
    """(email, lab id) of the first student with no active legacy session for that lab."""
    email, lab_id = connection.execute(
        _STUDENT_AND_LAB_WITHOUT_ACTIVE_SESSION, {"generated": f"{legacy_data.SESSION_ID_PREFIX}%"}
    ).one()
    return email, lab_id


def messy_url(connection: Connection) -> str:
    """A legacy fork URL in scp-like form (git@github.com:owner/repo.git)."""
    return connection.execute(_MESSY_URL).scalar_one()


def only_active_session(connection: Connection) -> str:
    """An IN_PROGRESS session that is its student's only active one for its lab."""
    return connection.execute(_ONLY_ACTIVE_SESSION).scalar_one()
