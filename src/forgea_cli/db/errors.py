"""What PostgreSQL said, as the tool's own typed errors: the only place driver exceptions are read.

Every `UnitOfWork` (and its savepoints) turns a driver error into a `DatabaseRefused` subclass on
the way out, so no service ever catches SQLAlchemy's or psycopg's exceptions, and the CLI never
recognises them by module name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, OperationalError

from forgea_cli.errors import (
    Conflict,
    DatabaseAuthFailed,
    DatabaseMissing,
    DatabaseUnreachable,
    ForgeaError,
    IllegalTransition,
    InvalidInput,
    OperationFailed,
    PreconditionFailed,
)

# SQLSTATEs raised by the lifecycle trigger (migrations/versions/0004_f6_lifecycle.py).
NEEDS_PASS_EVIDENCE = "FG002"
OTHER_ACTIVE_SESSION = "FG003"
COMPLETED_AT_IMMUTABLE = "FG004"
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
CHECK_VIOLATION = "23514"
NOT_NULL_VIOLATION = "23502"
RAISE_EXCEPTION = "P0001"
INSUFFICIENT_PRIVILEGE = "42501"
LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"
UNDEFINED_TABLE = "42P01"
UNDEFINED_COLUMN = "42703"
ACTIVE_SESSION_INDEX = "LabSession_userId_labId_active_key"


class DatabaseRefused(OperationFailed):
    """PostgreSQL refused a statement (exit 1 unless a subclass says otherwise)."""

    def __init__(self, message: str, *, sqlstate: str | None = None, constraint: str | None = None) -> None:
        super().__init__(f"database error: {message}")
        self.detail = message  # the database's own first line
        self.sqlstate = sqlstate
        self.constraint = constraint


class UniqueViolation(DatabaseRefused):
    pass


class ForeignKeyViolation(DatabaseRefused):
    pass


class CheckViolation(DatabaseRefused):
    pass


class RefusedByTrigger(DatabaseRefused):
    """A trigger raised: the legacy guards (P0001, 42501) or forgea's own (FGxxx)."""


class LockNotAvailable(DatabaseRefused):
    pass


class SchemaBehind(DatabaseRefused):
    """A table or column this build uses is not there: the database is at an older revision."""

    hint = (
        "the database's schema is older than this build: `forgea migrate status` lists the revisions to apply"
    )


class StatementCanceled(DatabaseRefused):
    pass


_BY_SQLSTATE: dict[str, type[DatabaseRefused]] = {
    UNIQUE_VIOLATION: UniqueViolation,
    FOREIGN_KEY_VIOLATION: ForeignKeyViolation,
    CHECK_VIOLATION: CheckViolation,
    RAISE_EXCEPTION: RefusedByTrigger,
    INSUFFICIENT_PRIVILEGE: RefusedByTrigger,
    NEEDS_PASS_EVIDENCE: RefusedByTrigger,
    OTHER_ACTIVE_SESSION: RefusedByTrigger,
    COMPLETED_AT_IMMUTABLE: RefusedByTrigger,
    LOCK_NOT_AVAILABLE: LockNotAvailable,
    UNDEFINED_TABLE: SchemaBehind,
    UNDEFINED_COLUMN: SchemaBehind,
    QUERY_CANCELED: StatementCanceled,
}


def sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


def first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def constraint_name(exc: DBAPIError) -> str | None:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def translate(exc: DBAPIError) -> ForgeaError:
    """The typed error for a driver error (an unreachable server is exit 6, not a refusal)."""
    state = sqlstate(exc)
    if state is None and (isinstance(exc, OperationalError) or exc.connection_invalidated):
        return DatabaseUnreachable(f"lost the database connection: {first_line(exc)}")
    kind = _BY_SQLSTATE.get(state or "", DatabaseRefused)
    return kind(first_line(exc), sqlstate=state, constraint=constraint_name(exc))


# libpq gives no SQLSTATE for a refused connection (psycopg's error has sqlstate None): the
# server's FATAL line says what happened. English server messages; anything else is "unreachable".
_AUTH_REFUSALS = (
    ("password authentication failed", "the password was refused"),  # 28P01
    ("no password supplied", "the server wants a password and none was given"),  # 28P01
    ("does not exist", None),  # 28000 role … / 3D000 database …: told apart below
    ("no pg_hba.conf entry", "the server's pg_hba.conf has no entry for this client"),  # 28000
    ("does not have connect privilege", "the role may not connect to this database"),  # 42501
    ("permission denied for database", "the role may not connect to this database"),  # 42501
    ("authentication failed", "the server refused the credentials"),  # 28000 (peer, ident, cert…)
)


def connection_error(exc: DBAPIError, masked_url: str) -> ForgeaError:
    """Why a connection could not be opened: the database missing (exit 3), the credentials refused
    (exit 2), or no server answering (exit 6) — each says which, with the URL's password masked."""
    text = first_line(exc)
    detail = text.split("FATAL:", 1)[-1].strip() if "FATAL:" in text else ""
    lowered = detail.lower()
    if lowered.startswith("database ") and "does not exist" in lowered:
        return DatabaseMissing(
            f"the server at {masked_url} answered, but {detail}",
            hint="check the database name in FORGEA_DATABASE_URL, or create the database first",
        )
    for marker, why in _AUTH_REFUSALS:
        if marker in lowered:
            if why is None and not lowered.startswith("role "):
                continue
            return DatabaseAuthFailed(
                f"the server at {masked_url} refused the connection: "
                + (f"{why} ({detail})" if why else detail),
                hint="check the user and password in FORGEA_DATABASE_URL (the server is up)",
            )
    if "invalid connection option" in text or "invalid dsn" in text.lower():
        return InvalidInput(
            f"FORGEA_DATABASE_URL is not a usable PostgreSQL URL: {text}",
            hint="postgresql://USER:PASSWORD@HOST:5432/DATABASE[?sslmode=require]",
        )
    return DatabaseUnreachable(
        f"database unreachable at {masked_url}: {_reason(text)}",
        hint="check the host and port in FORGEA_DATABASE_URL and that the server is running, "
        "or unset it to use the embedded database (`forgea db start`)",
    )


def _reason(text: str) -> str:
    """The part of libpq's message after 'connection to server … failed:' (the host is in the URL)."""
    return text.split("failed:", 1)[-1].strip() if "failed:" in text else text


@contextmanager
def translated() -> Iterator[None]:
    """Driver errors raised inside become typed errors."""
    try:
        yield
    except DBAPIError as exc:
        raise translate(exc) from exc


def lifecycle_refusal(exc: DatabaseRefused) -> ForgeaError | None:
    """The trigger's or the unique index's verdict on a status change, as a tool error (None: other)."""
    if exc.sqlstate == RAISE_EXCEPTION and exc.detail.startswith("Invalid LabSession status transition"):
        return IllegalTransition(exc.detail)
    if exc.sqlstate in (NEEDS_PASS_EVIDENCE, OTHER_ACTIVE_SESSION, COMPLETED_AT_IMMUTABLE):
        return PreconditionFailed(exc.detail)
    if exc.sqlstate == UNIQUE_VIOLATION and exc.constraint == ACTIVE_SESSION_INDEX:
        return Conflict(
            "the student already has an active session for this lab (unique active-session index)"
        )
    return None
