"""Queries about one lab session: its state, the facts its lifecycle preconditions need, its history."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exists, or_, select, text

from forgea_cli import lifecycle
from forgea_cli.db.errors import translated
from forgea_cli.db.statuses import ACTIVE_STATUSES
from forgea_cli.db.tables import (
    audit_log,
    lab,
    lab_session,
    lab_version,
    repo_mapping,
    verification_attempt,
    verification_log,
)


@dataclass(frozen=True)
class SessionState:
    id: uuid.UUID
    user_id: uuid.UUID
    lab_id: uuid.UUID
    status: lifecycle.Status


def load_state(connection: Connection, session_id: uuid.UUID) -> SessionState | None:
    row = connection.execute(
        select(lab_session.c.id, lab_session.c.userId, lab_session.c.labId, lab_session.c.status).where(
            lab_session.c.id == session_id
        )
    ).first()
    if row is None:
        return None
    return SessionState(row.id, row.userId, row.labId, lifecycle.Status(row.status))


def load_facts(connection: Connection, state: SessionState) -> lifecycle.Facts:
    pass_attempt = exists().where(
        verification_attempt.c.labSessionId == state.id, verification_attempt.c.result == "PASS"
    )
    legacy_log = exists().where(verification_log.c.sessionId == state.id)
    other_active = exists().where(
        lab_session.c.userId == state.user_id,
        lab_session.c.labId == state.lab_id,
        lab_session.c.id != state.id,
        lab_session.c.status.in_(ACTIVE_STATUSES),
    )
    evidence, other = connection.execute(select(or_(pass_attempt, legacy_log), other_active)).one()
    return lifecycle.Facts(has_pass_evidence=bool(evidence), other_active_session=bool(other))


# One round trip: read the row, compare-and-set its status, write the audit row. In READ COMMITTED a
# concurrent change makes PostgreSQL recheck `s.status = seen.status` against the new row version,
# which fails, so a lost race changes nothing and `changed` comes back false.
_TRANSITION = text(
    """
    WITH seen AS (
        SELECT "id", "status", "userId", "labId" FROM "LabSession" WHERE "id" = :session_id
    ), changed AS (
        UPDATE "LabSession" s SET "status" = CAST(:target AS "LabStatus")
        FROM seen
        WHERE s."id" = seen."id" AND s."status" = seen."status"
          AND seen."status" <> CAST(:target AS "LabStatus")
          AND (CAST(:expect AS text[]) IS NULL OR seen."status"::text = ANY(CAST(:expect AS text[])))
        RETURNING s."id", s."completedAt"
    ), audit AS (
        INSERT INTO "AuditLog" ("id", "userId", "actorId", "action", "metadata")
        SELECT CAST(:audit_id AS uuid), seen."userId", :actor_id, 'LAB_STATUS_TRANSITION',
               CAST(:metadata AS jsonb)
                   || jsonb_build_object('fromStatus', seen."status", 'labId', seen."labId")
        FROM changed JOIN seen ON seen."id" = changed."id"
        RETURNING "id"
    )
    SELECT seen."status" AS seen_status, seen."userId", seen."labId",
           changed."id" IS NOT NULL AS changed, changed."completedAt", (SELECT "id" FROM audit) AS audit_id
    FROM seen LEFT JOIN changed ON TRUE
    """
)


@dataclass(frozen=True)
class TransitionOutcome:
    seen_status: lifecycle.Status
    changed: bool
    completed_at: Any
    audit_id: uuid.UUID | None


def transition_with_audit(
    connection: Connection,
    *,
    session_id: uuid.UUID,
    target: lifecycle.Status,
    expect: list[str] | None,
    actor_id: str,
    metadata: dict[str, Any],
) -> TransitionOutcome | None:
    """None when the session does not exist; a refusal raises the typed `db.errors.DatabaseRefused`."""
    params = {
        "session_id": session_id,
        "target": str(target),
        "expect": expect,
        "audit_id": uuid.uuid4(),
        "actor_id": actor_id,
        "metadata": json.dumps(metadata),
    }
    with translated():
        row = connection.execute(_TRANSITION, params).first()
    if row is None:
        return None
    return TransitionOutcome(lifecycle.Status(row.seen_status), row.changed, row.completedAt, row.audit_id)


def session_detail(connection: Connection, session_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        connection.execute(
            select(
                lab_session,
                lab.c.title.label("labTitle"),
                lab.c.repoVersion.label("labCurrentVersion"),
                lab_version.c.version.label("version"),
                lab_version.c.templateRepoUrl.label("templateRepoUrl"),
            )
            .join(lab, lab.c.id == lab_session.c.labId)
            .outerjoin(lab_version, lab_version.c.id == lab_session.c.labVersionId)
            .where(lab_session.c.id == session_id)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def session_mapping(connection: Connection, session_id: uuid.UUID) -> dict[str, Any] | None:
    row = connection.execute(select(repo_mapping).where(repo_mapping.c.labSessionId == session_id)).mappings()
    found = row.first()
    return dict(found) if found else None


def session_attempts(connection: Connection, session_id: uuid.UUID) -> list[dict[str, Any]]:
    columns = [c for c in verification_attempt.c if c.name not in ("ciOutput", "prDiff")]
    rows = connection.execute(
        select(*columns)
        .where(verification_attempt.c.labSessionId == session_id)
        .order_by(verification_attempt.c.attemptNumber)
    )
    return [dict(r) for r in rows.mappings()]


def session_audit(connection: Connection, session_id: uuid.UUID, limit: int = 200) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(audit_log.c.createdAt, audit_log.c.action, audit_log.c.actorId, audit_log.c.metadata)
        .where(audit_log.c.metadata["labSessionId"].astext == str(session_id))
        .order_by(audit_log.c.createdAt, audit_log.c.id)
        .limit(limit)
    )
    return [dict(r) for r in rows.mappings()]


def session_ids_by_fork_url(connection: Connection, url: str) -> list[uuid.UUID]:
    """The legacy string match the web app uses today."""
    return list(
        connection.execute(select(lab_session.c.id).where(lab_session.c.userForkUrl == url)).scalars()
    )
