"""Turning what PostgreSQL said into the tool's errors."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from forgea_cli.errors import Conflict, ForgeaError, IllegalTransition, PreconditionFailed

# SQLSTATEs raised by the lifecycle trigger (migrations/versions/0004_f6_lifecycle.py).
NEEDS_PASS_EVIDENCE = "FG002"
OTHER_ACTIVE_SESSION = "FG003"
COMPLETED_AT_IMMUTABLE = "FG004"
UNIQUE_VIOLATION = "23505"
RAISE_EXCEPTION = "P0001"


def sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


def first_line(exc: DBAPIError) -> str:
    text = str(exc.orig if exc.orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def constraint_name(exc: DBAPIError) -> str | None:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def lifecycle_refusal(exc: DBAPIError) -> ForgeaError | None:
    """The trigger's or the unique index's verdict on a status change, as a tool error (None: other)."""
    state, message = sqlstate(exc), first_line(exc)
    if state == RAISE_EXCEPTION and message.startswith("Invalid LabSession status transition"):
        return IllegalTransition(message)
    if state in (NEEDS_PASS_EVIDENCE, OTHER_ACTIVE_SESSION, COMPLETED_AT_IMMUTABLE):
        return PreconditionFailed(message)
    if state == UNIQUE_VIOLATION and constraint_name(exc) == "LabSession_userId_labId_active_key":
        return Conflict(
            "the student already has an active session for this lab (unique active-session index)"
        )
    return None
