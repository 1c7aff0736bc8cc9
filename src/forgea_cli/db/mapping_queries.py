"""Repo-mapping reads and small writes: the webhook lookup (with its bind) and id resolution."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, exists, func, not_, select, update
from sqlalchemy.exc import IntegrityError

from forgea_cli.db.statuses import ACTIVE_STATUSES
from forgea_cli.db.tables import lab_session, repo_mapping

SESSION_COLUMNS = (
    lab_session.c.id,
    lab_session.c.userId,
    lab_session.c.labId,
    lab_session.c.status,
    lab_session.c.userForkUrl,
    lab_session.c.lastActivityAt,
)


@dataclass(frozen=True)
class PendingMapping:
    id: uuid.UUID
    owner: str
    name: str
    canonical_url: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class Resolution:
    """What GitHub said about one mapping: ``repo_id`` None means NOT_FOUND."""

    mapping_id: uuid.UUID
    repo_id: int | None = None
    owner: str | None = None
    name: str | None = None
    html_url: str | None = None
    default_branch: str | None = None


# -- the webhook lookup ---------------------------------------------------------------------------------


def _mapping_with_session():
    return select(repo_mapping, *(c.label(f"session_{c.name}") for c in SESSION_COLUMNS)).join(
        lab_session, lab_session.c.id == repo_mapping.c.labSessionId
    )


def mapping_by_repo_id(connection: Connection, repo_id: int) -> RowMapping | None:
    query = _mapping_with_session().where(repo_mapping.c.providerRepoId == repo_id)
    return connection.execute(query).mappings().first()


def mapping_by_canonical_url(
    connection: Connection, canonical_url: str, *, unbound_only: bool
) -> RowMapping | None:
    condition = repo_mapping.c.canonicalUrl == canonical_url
    if unbound_only:
        condition = and_(condition, repo_mapping.c.providerRepoId.is_(None))
    return connection.execute(_mapping_with_session().where(condition)).mappings().first()


def bind_repo_id(connection: Connection, canonical_url: str, repo_id: int, html_url: str) -> uuid.UUID | None:
    """Step 2's bind: one compare-and-set, so of two concurrent binders exactly one wins.

    None when another binder won the row, or bound this repository id to another mapping first."""
    statement = (
        update(repo_mapping)
        .where(repo_mapping.c.canonicalUrl == canonical_url, repo_mapping.c.providerRepoId.is_(None))
        .values(
            providerRepoId=repo_id,
            resolution="RESOLVED",
            htmlUrl=func.coalesce(repo_mapping.c.htmlUrl, html_url),
            resolvedAt=func.now(),
            updatedAt=func.now(),
        )
        .returning(repo_mapping.c.id)
    )
    try:
        with connection.begin_nested():
            return connection.execute(statement).scalar()
    except IntegrityError:  # the id is bound to another mapping already
        return None


def unmapped_active_sessions_like(connection: Connection, owner: str, name: str) -> Sequence[RowMapping]:
    """Active sessions without a mapping whose URL mentions owner and name (the caller checks them
    exactly with the canonicaliser). A scan: rule 3 only matters until the backfill is complete."""
    url = func.lower(lab_session.c.userForkUrl)
    query = (
        select(*SESSION_COLUMNS)
        .where(
            lab_session.c.status.in_(ACTIVE_STATUSES),
            func.strpos(url, owner.lower()) > 0,
            func.strpos(url, name.lower()) > 0,
            not_(exists().where(repo_mapping.c.labSessionId == lab_session.c.id)),
        )
        .order_by(lab_session.c.lastActivityAt.desc(), lab_session.c.id)
    )
    return connection.execute(query).mappings().all()


# -- id resolution ------------------------------------------------------------------------------------------


def count_pending(connection: Connection) -> int:
    query = select(func.count()).select_from(repo_mapping).where(repo_mapping.c.resolution == "PENDING")
    return int(connection.execute(query).scalar() or 0)


def pending_page(connection: Connection, after: uuid.UUID | None, size: int) -> list[PendingMapping]:
    query = select(repo_mapping.c.id, repo_mapping.c.owner, repo_mapping.c.name, repo_mapping.c.canonicalUrl)
    query = query.where(repo_mapping.c.resolution == "PENDING")
    if after is not None:
        query = query.where(repo_mapping.c.id > after)
    rows = connection.execute(query.order_by(repo_mapping.c.id).limit(size)).all()
    return [PendingMapping(*row) for row in rows]


def bound_mappings(connection: Connection, repo_ids: Sequence[int]) -> dict[int, uuid.UUID]:
    """providerRepoId → mapping id, for the ids already bound to some mapping."""
    if not repo_ids:
        return {}
    query = select(repo_mapping.c.providerRepoId, repo_mapping.c.id).where(
        repo_mapping.c.providerRepoId.in_(list(repo_ids))
    )
    return {int(repo_id): mapping_id for repo_id, mapping_id in connection.execute(query)}


def record_resolution(connection: Connection, resolution: Resolution) -> bool:
    """Write one verdict on a still-PENDING mapping; False when someone else decided it first."""
    values: dict[str, Any] = {"resolvedAt": func.now(), "updatedAt": func.now()}
    if resolution.repo_id is None:
        values["resolution"] = "NOT_FOUND"
    else:
        values.update(
            resolution="RESOLVED",
            providerRepoId=resolution.repo_id,
            owner=resolution.owner,
            name=resolution.name,
            htmlUrl=resolution.html_url,
            defaultBranch=resolution.default_branch,
        )
    statement = (
        update(repo_mapping)
        .where(repo_mapping.c.id == resolution.mapping_id, repo_mapping.c.resolution == "PENDING")
        .values(**values)
    )
    return connection.execute(statement).rowcount == 1
