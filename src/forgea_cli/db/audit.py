"""Writing AuditLog rows (append-only)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, insert

from forgea_cli.audit import AuditAction
from forgea_cli.db.tables import audit_log


def record(
    connection: Connection,
    *,
    action: AuditAction,
    actor_id: str,
    user_id: uuid.UUID | None,
    metadata: dict[str, Any],
) -> uuid.UUID:
    """Insert one AuditLog row; `metadata` must come from `audit.build_metadata` (already scrubbed)."""
    row_id = uuid.uuid4()
    connection.execute(
        insert(audit_log).values(
            id=row_id, userId=user_id, actorId=actor_id, action=str(action), metadata=metadata
        )
    )
    return row_id
