"""Queries of session creation: the lab and version a request names, the student's active session,
the phase-3 inserts (users are named through `db.users`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, literal_column, or_, select

from forgea_cli.db.errors import ACTIVE_SESSION_INDEX, translated
from forgea_cli.db.statuses import ACTIVE_STATUSES
from forgea_cli.db.tables import lab, lab_session, lab_version, repo_mapping
from forgea_cli.identifiers import uuid_or_none

__all__ = ["ACTIVE_SESSION_INDEX", "MAPPING_UNIQUES", "LabRow", "LabVersionRow"]

MAPPING_UNIQUES = frozenset({"GitHubRepoMapping_providerRepoId_key", "GitHubRepoMapping_canonicalUrl_key"})


@dataclass(frozen=True)
class LabRow:
    id: uuid.UUID
    title: str
    repo_version: str


@dataclass(frozen=True)
class LabVersionRow:
    id: uuid.UUID
    lab_id: uuid.UUID
    version: str
    template_repo_url: str


def find_lab(conn: Connection, lab_id: uuid.UUID) -> LabRow | None:
    row = conn.execute(select(lab.c.id, lab.c.title, lab.c.repoVersion).where(lab.c.id == lab_id)).first()
    return LabRow(row.id, row.title, row.repoVersion) if row else None


def find_lab_version(conn: Connection, lab_id: uuid.UUID, reference: str) -> LabVersionRow | None:
    """A version of the lab by its name ("v2") or its LabVersion id."""
    version_id = uuid_or_none(reference)
    condition = lab_version.c.id == version_id if version_id else lab_version.c.version == reference
    row = conn.execute(
        select(
            lab_version.c.id, lab_version.c.labId, lab_version.c.version, lab_version.c.templateRepoUrl
        ).where(lab_version.c.labId == lab_id, condition)
    ).first()
    return LabVersionRow(row.id, row.labId, row.version, row.templateRepoUrl) if row else None


def active_session_of(conn: Connection, user_id: uuid.UUID, lab_id: uuid.UUID) -> uuid.UUID | None:
    return conn.execute(
        select(lab_session.c.id)
        .where(
            lab_session.c.userId == user_id,
            lab_session.c.labId == lab_id,
            lab_session.c.status.in_(ACTIVE_STATUSES),
        )
        .limit(1)
    ).scalar()


def session_mapped_to(conn: Connection, *, repo_id: int, canonical_url: str) -> uuid.UUID | None:
    return conn.execute(
        select(repo_mapping.c.labSessionId)
        .where(or_(repo_mapping.c.providerRepoId == repo_id, repo_mapping.c.canonicalUrl == canonical_url))
        .limit(1)
    ).scalar()


def insert_session(
    conn: Connection,
    *,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    lab_id: uuid.UUID,
    lab_version_id: uuid.UUID,
    fork_url: str,
) -> None:
    """Refused by the unique active-session index when the student already has one (typed error)."""
    with translated():
        conn.execute(
            insert(lab_session).values(
                id=session_id,
                userId=user_id,
                labId=lab_id,
                labVersionId=lab_version_id,
                status="IN_PROGRESS",
                userForkUrl=fork_url,
            )
        )


def insert_mapping(conn: Connection, *, session_id: uuid.UUID, source: str, repo: dict[str, Any]) -> None:
    """`repo`: providerRepoId, owner, name, canonicalUrl, htmlUrl, defaultBranch; refused (typed
    error) when the repository is already mapped (MAPPING_UNIQUES)."""
    with translated():
        conn.execute(
            insert(repo_mapping).values(
                labSessionId=session_id,
                resolution="RESOLVED",
                source=source,
                resolvedAt=literal_column("LOCALTIMESTAMP(3)"),
                **repo,
            )
        )
