"""The webhook delivery ledger and the writes a delivery makes (DESIGN §11).

- ``claim`` inserts the ledger row with ``ON CONFLICT ("deliveryId") DO NOTHING``, in the same
  transaction as the delivery's effects: of any number of concurrent replays of one delivery,
  exactly one inserts (the others wait on the unique index, then see the committed row and change
  nothing); a rolled-back replay leaves no row, so the delivery can still be applied later.
- ``push_transition`` is the web app's route in one statement: the compare-and-set of
  IN_PROGRESS/STUCK → IN_PROGRESS with ``lastActivityAt``, a LAB_VERIFY_ATTEMPT and a
  LAB_STATUS_TRANSITION audit row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from forgea_cli.db.errors import translated
from forgea_cli.db.statuses import ACTIVE_SQL
from forgea_cli.db.tables import repo_mapping, webhook_delivery

LEDGER_COLUMNS = tuple(c.name for c in webhook_delivery.c)


@dataclass(frozen=True)
class LedgerRow:
    """What the ledger records of one applied delivery."""

    delivery_id: str
    event: str
    action: str | None
    outcome: str
    payload_sha256: str
    applied_by: str
    hook_id: int | None = None
    provider_repo_id: int | None = None
    repo_full_name: str | None = None
    lab_session_id: uuid.UUID | None = None
    detail: str | None = None
    commit_sha: str | None = None
    signature_verified: bool = False
    delivered_at: datetime | None = None


# -- the ledger ------------------------------------------------------------------------------------------

LEDGER_REVISION = "0009_webhook_deliveries"


def ledger_exists(connection: Connection) -> bool:
    """Whether the database has the ledger (revision 0009_webhook_deliveries is applied)."""
    return bool(connection.execute(text("""SELECT to_regclass('"WebhookDelivery"') IS NOT NULL""")).scalar())


def recorded(connection: Connection, delivery_id: str) -> RowMapping | None:
    query = select(webhook_delivery).where(webhook_delivery.c.deliveryId == delivery_id)
    return connection.execute(query).mappings().first()


def claim(connection: Connection, row: LedgerRow) -> uuid.UUID | None:
    """Insert the ledger row; None when the delivery id is in the ledger already (committed by another
    transaction, possibly one this call waited for)."""
    statement = (
        pg_insert(webhook_delivery)
        .values(
            deliveryId=row.delivery_id,
            event=row.event,
            action=row.action,
            hookId=row.hook_id,
            providerRepoId=row.provider_repo_id,
            repoFullName=row.repo_full_name,
            labSessionId=row.lab_session_id,
            outcome=row.outcome,
            detail=row.detail,
            commitSha=row.commit_sha,
            payloadSha256=row.payload_sha256,
            signatureVerified=row.signature_verified,
            deliveredAt=row.delivered_at,
            appliedBy=row.applied_by,
        )
        .on_conflict_do_nothing(index_elements=["deliveryId"])
        .returning(webhook_delivery.c.id)
    )
    with translated():
        return connection.execute(statement).scalar()


def list_deliveries(
    connection: Connection,
    *,
    since: timedelta | None = None,
    session_id: uuid.UUID | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first; ``since`` is measured on the server's clock (appliedAt is its LOCALTIMESTAMP)."""
    query = select(webhook_delivery)
    if since is not None:
        query = query.where(webhook_delivery.c.appliedAt >= func.localtimestamp() - since)
    if session_id is not None:
        query = query.where(webhook_delivery.c.labSessionId == session_id)
    query = query.order_by(webhook_delivery.c.appliedAt.desc(), webhook_delivery.c.id).limit(limit)
    return [dict(row) for row in connection.execute(query).mappings()]


def session_deliveries(
    connection: Connection, session_id: uuid.UUID, limit: int = 200
) -> list[dict[str, Any]]:
    """The deliveries that touched one session, oldest first (for `session show`); none before the
    ledger's revision."""
    if not ledger_exists(connection):
        return []
    query = (
        select(
            webhook_delivery.c.deliveryId,
            webhook_delivery.c.event,
            webhook_delivery.c.action,
            webhook_delivery.c.outcome,
            webhook_delivery.c.commitSha,
            webhook_delivery.c.detail,
            webhook_delivery.c.appliedAt,
            webhook_delivery.c.appliedBy,
        )
        .where(webhook_delivery.c.labSessionId == session_id)
        .order_by(webhook_delivery.c.appliedAt, webhook_delivery.c.id)
        .limit(limit)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def known_delivery_ids(connection: Connection, delivery_ids: Sequence[str]) -> set[str]:
    """Which of these X-GitHub-Delivery ids the ledger holds."""
    if not delivery_ids:
        return set()
    query = select(webhook_delivery.c.deliveryId).where(webhook_delivery.c.deliveryId.in_(list(delivery_ids)))
    return set(connection.execute(query).scalars())


# -- push: the web app's route ------------------------------------------------------------------------------

_PUSH = text(
    f"""
    WITH seen AS (
        SELECT "id", "status", "userId", "labId" FROM "LabSession" WHERE "id" = :session_id
    ), changed AS (
        UPDATE "LabSession" s SET "status" = 'IN_PROGRESS', "lastActivityAt" = CURRENT_TIMESTAMP
        FROM seen
        WHERE s."id" = seen."id" AND s."status" = seen."status" AND seen."status" IN {ACTIVE_SQL}
        RETURNING s."id"
    ), attempt AS (
        INSERT INTO "AuditLog" ("id", "userId", "actorId", "action", "metadata")
        SELECT CAST(:attempt_id AS uuid), seen."userId", :actor_id, 'LAB_VERIFY_ATTEMPT',
               CAST(:attempt_metadata AS jsonb) || jsonb_build_object('labId', seen."labId")
        FROM changed JOIN seen ON seen."id" = changed."id"
        RETURNING "id"
    ), transition AS (
        INSERT INTO "AuditLog" ("id", "userId", "actorId", "action", "metadata")
        SELECT CAST(:transition_id AS uuid), seen."userId", :actor_id, 'LAB_STATUS_TRANSITION',
               CAST(:transition_metadata AS jsonb)
                   || jsonb_build_object('labId', seen."labId", 'fromStatus', seen."status",
                                         'statusChanged', seen."status" <> 'IN_PROGRESS')
        FROM changed JOIN seen ON seen."id" = changed."id"
        RETURNING "id"
    )
    SELECT seen."status" AS seen_status, changed."id" IS NOT NULL AS changed,
           (SELECT "id" FROM attempt) AS attempt_audit_id,
           (SELECT "id" FROM transition) AS transition_audit_id
    FROM seen LEFT JOIN changed ON TRUE
    """
)


@dataclass(frozen=True)
class PushOutcome:
    seen_status: str
    changed: bool
    attempt_audit_id: uuid.UUID | None
    transition_audit_id: uuid.UUID | None


def push_transition(
    connection: Connection,
    *,
    session_id: uuid.UUID,
    actor_id: str,
    attempt_metadata: dict[str, Any],
    transition_metadata: dict[str, Any],
) -> PushOutcome | None:
    """None when the session does not exist; ``changed`` False when it is not active (any more)."""
    params = {
        "session_id": session_id,
        "actor_id": actor_id,
        "attempt_id": uuid.uuid4(),
        "transition_id": uuid.uuid4(),
        "attempt_metadata": json.dumps(attempt_metadata),
        "transition_metadata": json.dumps(transition_metadata),
    }
    with translated():
        row = connection.execute(_PUSH, params).first()
    if row is None:
        return None
    return PushOutcome(str(row.seen_status), bool(row.changed), row.attempt_audit_id, row.transition_audit_id)


# -- repository events: the mapping follows the repository id ------------------------------------------------


def rename_mapping(
    connection: Connection,
    mapping_id: uuid.UUID,
    *,
    repo_id: int,
    owner: str,
    name: str,
    canonical_url: str,
    html_url: str,
) -> bool:
    """Point one mapping at the repository's new owner/name (binding its id if it was not yet).

    A unique violation (another mapping has the new URL) comes out as the typed error."""
    statement = (
        update(repo_mapping)
        .where(repo_mapping.c.id == mapping_id)
        .values(
            providerRepoId=repo_id,
            owner=owner,
            name=name,
            canonicalUrl=canonical_url,
            htmlUrl=html_url,
            resolution="RESOLVED",
            resolvedAt=func.coalesce(repo_mapping.c.resolvedAt, func.now()),
            updatedAt=func.now(),
        )
    )
    with translated():
        return connection.execute(statement).rowcount == 1


def mark_not_found(connection: Connection, mapping_id: uuid.UUID) -> bool:
    """The repository is gone: NOT_FOUND (the CHECK wants providerRepoId null then; the ledger keeps it)."""
    statement = (
        update(repo_mapping)
        .where(repo_mapping.c.id == mapping_id)
        .values(providerRepoId=None, resolution="NOT_FOUND", resolvedAt=func.now(), updatedAt=func.now())
    )
    with translated():
        return connection.execute(statement).rowcount == 1


def insert_webhook_mapping(
    connection: Connection,
    *,
    session_id: uuid.UUID,
    repo_id: int | None,
    owner: str,
    name: str,
    canonical_url: str,
    html_url: str | None,
) -> uuid.UUID:
    """A mapping (source WEBHOOK) for a legacy session found by its userForkUrl (lookup rule 3):
    RESOLVED with the id the delivery names, or NOT_FOUND when the delivery says it was deleted."""
    values: dict[str, Any] = {
        "labSessionId": session_id,
        "owner": owner,
        "name": name,
        "canonicalUrl": canonical_url,
        "htmlUrl": html_url,
        "source": "WEBHOOK",
        "resolution": "RESOLVED" if repo_id is not None else "NOT_FOUND",
        "providerRepoId": repo_id,
        "resolvedAt": literal_column("LOCALTIMESTAMP(3)"),
    }
    with translated():
        return connection.execute(
            insert(repo_mapping).values(**values).returning(repo_mapping.c.id)
        ).scalar_one()
