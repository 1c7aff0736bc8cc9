"""Users as operators name them: by id, else by email (exact first, then case-insensitively)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from forgea_cli.db.tables import user
from forgea_cli.identifiers import uuid_or_none

# More than one case-insensitive match is ambiguous; a few are enough to name them.
MAX_CANDIDATES = 5


@dataclass(frozen=True)
class UserRow:
    id: uuid.UUID
    email: str


def users_named(conn: Connection, reference: str) -> list[UserRow]:
    """The users ``reference`` may name: the one with that id; else the one with exactly that email;
    else those whose email matches case-insensitively (more than one: the reference is ambiguous)."""
    columns = select(user.c.id, user.c.email)
    user_id = uuid_or_none(reference)
    if user_id is not None:
        rows = conn.execute(columns.where(user.c.id == user_id)).all()
    else:
        email = reference.strip()
        rows = conn.execute(columns.where(user.c.email == email)).all()
        if not rows:
            rows = conn.execute(
                columns.where(func.lower(user.c.email) == email.lower())
                .order_by(user.c.email)
                .limit(MAX_CANDIDATES)
            ).all()
    return [UserRow(row.id, row.email) for row in rows]
