"""The `session list` query: every filter is served by an index of revision 0005."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Select, func, select

from forgea_cli.db.tables import lab, lab_session, user


@dataclass(frozen=True)
class SessionFilters:
    statuses: tuple[str, ...] = ()
    lab_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    idle_for: timedelta | None = None
    limit: int = 50


def listing_query(filters: SessionFilters) -> Select:
    query = select(
        lab_session.c.id,
        lab_session.c.status,
        lab_session.c.userId,
        user.c.email,
        lab_session.c.labId,
        lab.c.title.label("labTitle"),
        lab_session.c.startedAt,
        lab_session.c.lastActivityAt,
        lab_session.c.completedAt,
        lab_session.c.userForkUrl,
    ).select_from(
        lab_session.join(user, user.c.id == lab_session.c.userId).join(lab, lab.c.id == lab_session.c.labId)
    )
    if filters.statuses:
        query = query.where(lab_session.c.status.in_(filters.statuses))
    if filters.lab_id:
        query = query.where(lab_session.c.labId == filters.lab_id)
    if filters.user_id:
        query = query.where(lab_session.c.userId == filters.user_id)
    if filters.idle_for:
        cutoff = func.localtimestamp() - filters.idle_for
        query = query.where(lab_session.c.lastActivityAt < cutoff).order_by(
            lab_session.c.lastActivityAt.asc()
        )
    else:
        query = query.order_by(lab_session.c.lastActivityAt.desc())
    return query.order_by(lab_session.c.id).limit(filters.limit)


def list_sessions(connection: Connection, filters: SessionFilters) -> list[dict[str, Any]]:
    return [dict(row) for row in connection.execute(listing_query(filters)).mappings()]
