"""`forgea webhook deliveries`: the ledger, newest first (read-only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from forgea_cli.db import webhook_queries as q
from forgea_cli.db.uow import UnitOfWork, UnitOfWorkFactory
from forgea_cli.documents import iso
from forgea_cli.errors import DataNotReady
from forgea_cli.identifiers import parse_uuid


def require_ledger(work: UnitOfWork) -> None:
    """Refuse clearly (exit 1) on a database without the ledger, instead of a missing-table error."""
    if not q.ledger_exists(work.connection):
        raise DataNotReady(
            f"this database has no webhook delivery ledger (revision {q.LEDGER_REVISION})",
            hint=f"`forgea migrate upgrade --dry-run`, then `forgea migrate upgrade {q.LEDGER_REVISION}`",
        )


def list_deliveries(
    uow: UnitOfWorkFactory,
    *,
    since: timedelta | None = None,
    session_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    session = parse_uuid(session_id, "session id") if session_id is not None else None
    with uow(read_only=True) as work:
        require_ledger(work)
        rows = q.list_deliveries(work.connection, since=since, session_id=session, limit=limit)
    return [_jsonable(row) for row in rows]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    document = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = iso(value)  # the one timestamp form: ISO 8601 with the offset (documents.iso)
        elif key in ("id", "labSessionId") and value is not None:
            value = str(value)
        document[key] = value
    return document
