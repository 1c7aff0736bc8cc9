"""Labs as `forgea lab list` shows them: id, title, current version and its LabVersion row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class LabListing:
    id: uuid.UUID
    title: str
    current_version: str  # Lab.repoVersion: what `session create` uses without --lab-version
    lab_version_id: uuid.UUID | None  # its LabVersion row; None until `forgea backfill lab-versions`
    versions: int  # LabVersion rows of the lab (0 before the expand)


_WITH_VERSIONS = """
SELECT l."id", l."title", l."repoVersion",
       (SELECT v."id" FROM "LabVersion" v WHERE v."labId" = l."id" AND v."version" = l."repoVersion"),
       (SELECT count(*) FROM "LabVersion" v WHERE v."labId" = l."id")
FROM "Lab" l ORDER BY l."title", l."id"
"""
_LEGACY = """SELECT l."id", l."title", l."repoVersion", NULL, 0 FROM "Lab" l ORDER BY l."title", l."id\""""


def list_labs(connection: Connection) -> list[LabListing]:
    """Every lab, by title. Before the expand (no "LabVersion" table) no lab has a version row."""
    expanded = connection.execute(text("""SELECT to_regclass('"LabVersion"') IS NOT NULL""")).scalar()
    rows = connection.execute(text(_WITH_VERSIONS if expanded else _LEGACY))
    return [LabListing(row[0], row[1], row[2], row[3], int(row[4])) for row in rows]
