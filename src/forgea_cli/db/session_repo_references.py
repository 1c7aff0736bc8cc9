"""What in the database points at repositories in the org (for `repo reconcile`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, or_, select

from forgea_cli.db import idempotency_keys as keys_db
from forgea_cli.db.idempotency_keys import KeyRow
from forgea_cli.db.statuses import ACTIVE_STATUSES
from forgea_cli.db.tables import lab_session, repo_mapping


@dataclass
class RepoReferences:
    mapped_ids: set[int] = field(default_factory=set)
    mapped_urls: set[str] = field(default_factory=set)
    session_fork_urls: list[str] = field(default_factory=list)  # LabSession.userForkUrl as written
    keys: list[KeyRow] = field(default_factory=list)  # unfinished or failed


@dataclass(frozen=True)
class MappedSession:
    session_id: uuid.UUID
    status: str
    provider_repo_id: int
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


def load(
    conn: Connection, *, repo_ids: Sequence[int], canonical_urls: Sequence[str], org: str, prefix: str
) -> RepoReferences:
    """References to the given repositories: mappings by id or URL, legacy fork URLs, keys."""
    refs = RepoReferences()
    if repo_ids or canonical_urls:
        rows = conn.execute(
            select(repo_mapping.c.providerRepoId, repo_mapping.c.canonicalUrl).where(
                or_(
                    repo_mapping.c.providerRepoId.in_(list(repo_ids)),
                    repo_mapping.c.canonicalUrl.in_(list(canonical_urls)),
                )
            )
        )
        for repo_id, url in rows:
            if repo_id is not None:
                refs.mapped_ids.add(int(repo_id))
            refs.mapped_urls.add(url)
    # Legacy sessions may have no mapping yet: any spelling that mentions org/prefix is a candidate.
    refs.session_fork_urls = list(
        conn.execute(
            select(lab_session.c.userForkUrl).where(
                lab_session.c.userForkUrl.ilike(f"%{_escape_like(f'{org}/{prefix}')}%", escape="\\")
            )
        ).scalars()
    )
    refs.keys = keys_db.keys_for_reconcile(conn)
    return refs


def active_mapped_sessions(conn: Connection, *, limit: int | None = None) -> list[MappedSession]:
    query = (
        select(
            lab_session.c.id,
            lab_session.c.status,
            repo_mapping.c.providerRepoId,
            repo_mapping.c.owner,
            repo_mapping.c.name,
        )
        .select_from(lab_session.join(repo_mapping, repo_mapping.c.labSessionId == lab_session.c.id))
        .where(lab_session.c.status.in_(ACTIVE_STATUSES), repo_mapping.c.providerRepoId.is_not(None))
        .order_by(lab_session.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [MappedSession(row[0], row[1], int(row[2]), row[3], row[4]) for row in conn.execute(query)]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
