"""The one way a student is named on the command line: a user id or an email.

An id names its user; an email names the user with exactly that email, else the one user whose
email matches case-insensitively. Two users whose emails differ only by case make a
case-insensitive reference ambiguous: refused, naming both, never one picked at random.
"""

from __future__ import annotations

from forgea_cli.db import users as users_db
from forgea_cli.db.uow import UnitOfWork
from forgea_cli.db.users import UserRow
from forgea_cli.errors import InvalidInput, NotFound

__all__ = ["AmbiguousUser", "UserRow", "resolve_user"]


class AmbiguousUser(InvalidInput):
    """An email that matches several users case-insensitively and none exactly (exit 2)."""


def resolve_user(work: UnitOfWork, reference: str) -> UserRow:
    found = users_db.users_named(work.connection, reference)
    if not found:
        raise NotFound(f"no user with id or email {reference.strip()!r}")
    if len(found) > 1:
        emails = ", ".join(user.email for user in found)
        raise AmbiguousUser(
            f"{reference.strip()!r} matches {len(found)} users whose emails differ only by case "
            f"({emails}); give the exact email or the user id"
        )
    return found[0]
