"""IdempotencyKey queries: insert-or-find, the lease (compare-and-set on lockedAt), recovery points.

The lease token is the `lockedAt` value a run wrote. Every write after phase 1 is conditioned on
that exact value, so a run whose lease was taken over cannot record anything afterwards. Times come
from the database clock (LOCALTIMESTAMP), never from the client's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, literal_column, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from forgea_cli.db.tables import idempotency_key as keys

NOW = literal_column("LOCALTIMESTAMP(3)")
UNFINISHED = ("STARTED", "REPO_CREATED")
CLEANUP_PENDING = "REPO_CLEANUP_PENDING"

# -- the predicates, as SQL over "IdempotencyKey" (their Python twins: services.sessions.idempotency) --

# No run holds the key: never leased, released, or its last step is older than the lease (:lease s).
LEASE_FREE_SQL = """("lockedAt" IS NULL OR "lockedAt" < LOCALTIMESTAMP - make_interval(secs => :lease))"""
# Stuck: unfinished and no run holds it; a rerun (`keys resume`) may take it over now.
_UNFINISHED_SQL = "(" + ", ".join(f"'{point}'" for point in UNFINISHED) + ")"
STUCK_SQL = f"""("recoveryPoint" IN {_UNFINISHED_SQL} AND {LEASE_FREE_SQL})"""
# Abandoned keys stay closed: by their error code, or by the original code of a cleanup-pending one.
ABANDONED_SQL = """coalesce("errorCode" = 'ABANDONED'
                             OR "result" -> 'error' ->> 'code' = 'ABANDONED', false)"""
# Retired: a new request for the same student and version took the key's name; the row stays, renamed.
RETIRED_SQL = """("result" -> 'retired') IS NOT NULL"""


@dataclass(frozen=True)
class KeyRow:
    id: uuid.UUID
    actor_id: str
    key: str
    request_hash: str
    request_params: dict[str, Any]
    recovery_point: str
    planned_session_id: uuid.UUID
    repo_full_name: str | None
    provider_repo_id: int | None
    lab_session_id: uuid.UUID | None
    result: dict[str, Any] | None
    error_code: str | None
    locked_at: datetime | None
    last_run_at: datetime
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> KeyRow:
        m = row._mapping
        return cls(
            id=m["id"],
            actor_id=m["actorId"],
            key=m["key"],
            request_hash=m["requestHash"],
            request_params=m["requestParams"],
            recovery_point=m["recoveryPoint"],
            planned_session_id=m["plannedSessionId"],
            repo_full_name=m["repoFullName"],
            provider_repo_id=m["providerRepoId"],
            lab_session_id=m["labSessionId"],
            result=m["result"],
            error_code=m["errorCode"],
            locked_at=m["lockedAt"],
            last_run_at=m["lastRunAt"],
            created_at=m["createdAt"],
        )


def insert_or_find(
    conn: Connection,
    *,
    actor_id: str,
    key: str,
    request_hash: str,
    request_params: dict[str, Any],
    planned_session_id: uuid.UUID,
) -> tuple[KeyRow, bool]:
    """The key row and whether this call created it (a created key is already leased to the caller)."""
    created = conn.execute(
        pg_insert(keys)
        .values(
            actorId=actor_id,
            key=key,
            requestHash=request_hash,
            requestParams=request_params,
            recoveryPoint="STARTED",
            plannedSessionId=planned_session_id,
            lockedAt=NOW,
            lastRunAt=NOW,
        )
        .on_conflict_do_nothing(index_elements=["actorId", "key"])
        .returning(*keys.c)
    ).first()
    if created is not None:
        return KeyRow.from_row(created), True
    found = find(conn, actor_id, key)
    assert found is not None, "a conflicting key row must be visible once its inserter committed"
    return found, False


def find(conn: Connection, actor_id: str, key: str) -> KeyRow | None:
    row = conn.execute(select(keys).where(keys.c.actorId == actor_id, keys.c.key == key)).first()
    return KeyRow.from_row(row) if row else None


def actors_with(conn: Connection, key: str) -> list[str]:
    """The actors that have a key named ``key`` (keys are unique per actor, not overall)."""
    return list(
        conn.execute(select(keys.c.actorId).where(keys.c.key == key).order_by(keys.c.actorId)).scalars()
    )


def get(conn: Connection, key_id: uuid.UUID, *, for_update: bool = False) -> KeyRow:
    query = select(keys).where(keys.c.id == key_id)
    row = conn.execute(query.with_for_update() if for_update else query).one()
    return KeyRow.from_row(row)


def take_lease(
    conn: Connection, key_id: uuid.UUID, lease_seconds: float, *, reopen: bool = True
) -> datetime | None:
    """Lease an unfinished (or failed) key whose lease is free or expired; None if held, finished or
    (with ``reopen``) abandoned or retired.

    One UPDATE: when two runs race, PostgreSQL re-checks the WHERE clause on the row the winner
    wrote, finds the fresh lockedAt (or the abandonment), and the loser updates nothing. With
    ``reopen`` (a creation continuing) a failed key goes back to the recovery point its recorded
    repository implies; without it (`keys abandon`) the key is leased as it stands, abandoned or not.
    """
    reopening = (
        """,
                "recoveryPoint" = CASE
                    WHEN "recoveryPoint" <> 'FAILED' THEN "recoveryPoint"
                    WHEN "providerRepoId" IS NULL THEN 'STARTED'::"IdempotencyRecoveryPoint"
                    ELSE 'REPO_CREATED'::"IdempotencyRecoveryPoint" END,
                "errorCode" = NULL,
                "result" = CASE WHEN "recoveryPoint" = 'FAILED' THEN NULL ELSE "result" END"""
        if reopen
        else ""
    )
    still_open = f"AND NOT {ABANDONED_SQL} AND NOT {RETIRED_SQL}" if reopen else ""
    row = conn.execute(
        text(
            f"""
            UPDATE "IdempotencyKey"
            SET "lockedAt" = LOCALTIMESTAMP(3), "lastRunAt" = LOCALTIMESTAMP(3){reopening}
            WHERE "id" = :id AND "recoveryPoint" <> 'FINISHED' AND {LEASE_FREE_SQL}
              {still_open}
            RETURNING "lockedAt"
            """
        ),
        {"id": key_id, "lease": lease_seconds},
    ).first()
    return row[0] if row else None


def lock_free_key(conn: Connection, key_id: uuid.UUID, key: str, lease_seconds: float) -> KeyRow | None:
    """The key row locked FOR UPDATE, while it still bears ``key`` and no run holds its lease; None
    otherwise. A concurrent retirement renames the row: PostgreSQL re-checks the condition on the
    row version it waited for, so the loser of a race gets None and looks the name up again."""
    row = conn.execute(
        text(
            f"""SELECT * FROM "IdempotencyKey"
                WHERE "id" = :id AND "key" = :key AND {LEASE_FREE_SQL}
                FOR UPDATE"""
        ),
        {"id": key_id, "key": key, "lease": lease_seconds},
    ).first()
    return KeyRow.from_row(row) if row else None


def retire(conn: Connection, key_id: uuid.UUID, *, retired_key: str, retired_by: str) -> None:
    """Free the key's name for a new request, keeping the row (renamed to ``retired_key``, its
    error and repository intact) with a note of when, by whom and under which name it was retired.
    The caller holds the row lock (``lock_free_key``) and inserts the successor in the same
    transaction."""
    conn.execute(
        text(
            """UPDATE "IdempotencyKey"
               SET "result" = coalesce("result", '{}'::jsonb) || jsonb_build_object('retired',
                       jsonb_build_object('key', "key", 'by', CAST(:by AS text), 'at', LOCALTIMESTAMP(3))),
                   "key" = :retired_key, "lastRunAt" = LOCALTIMESTAMP(3)
               WHERE "id" = :id"""
        ),
        {"id": key_id, "retired_key": retired_key, "by": retired_by},
    )


def _held(key_id: uuid.UUID, lease: datetime) -> Any:
    return and_(keys.c.id == key_id, keys.c.lockedAt == bindparam("lease_token", lease))


def record_repo(
    conn: Connection, key_id: uuid.UUID, lease: datetime, *, full_name: str, repo_id: int
) -> datetime | None:
    """REPO_CREATED: GitHub holds the repository; returns the renewed lease, None if it was lost."""
    row = conn.execute(
        update(keys)
        .where(_held(key_id, lease))
        .values(
            recoveryPoint="REPO_CREATED",
            repoFullName=full_name,
            providerRepoId=repo_id,
            lockedAt=NOW,
            lastRunAt=NOW,
        )
        .returning(keys.c.lockedAt)
    ).first()
    return row[0] if row else None


def forget_repo(conn: Connection, key_id: uuid.UUID, lease: datetime) -> datetime | None:
    """Back to STARTED: the recorded repository no longer exists."""
    row = conn.execute(
        update(keys)
        .where(_held(key_id, lease))
        .values(recoveryPoint="STARTED", repoFullName=None, providerRepoId=None, lockedAt=NOW, lastRunAt=NOW)
        .returning(keys.c.lockedAt)
    ).first()
    return row[0] if row else None


def mark_finished(
    conn: Connection, key_id: uuid.UUID, *, session_id: uuid.UUID, result: dict[str, Any]
) -> None:
    conn.execute(
        update(keys)
        .where(keys.c.id == key_id)
        .values(
            recoveryPoint="FINISHED",
            labSessionId=session_id,
            result=result,
            errorCode=None,
            lockedAt=None,
            lastRunAt=NOW,
        )
    )


def mark_failed(
    conn: Connection,
    key_id: uuid.UUID,
    lease: datetime | None,
    *,
    error_code: str,
    result: dict[str, Any],
    forget_repo: bool,
) -> bool:
    """FAILED with the reason; the lease is released. False when the lease was lost meanwhile."""
    values: dict[str, Any] = {
        "recoveryPoint": "FAILED",
        "errorCode": error_code,
        "result": result,
        "lockedAt": None,
        "lastRunAt": NOW,
    }
    if forget_repo:
        values.update(repoFullName=None, providerRepoId=None)
    condition = _held(key_id, lease) if lease is not None else keys.c.id == key_id
    return conn.execute(update(keys).where(condition).values(**values)).rowcount == 1


def release_lease(conn: Connection, key_id: uuid.UUID, lease: datetime) -> None:
    """Free the key at once after a transient failure, so a rerun need not wait for the lease."""
    conn.execute(update(keys).where(_held(key_id, lease)).values(lockedAt=None, lastRunAt=NOW))


def cleanup_done(conn: Connection, key_id: uuid.UUID, original_code: str) -> None:
    """The repository a failed key left behind was deleted: forget it, keep the original reason."""
    conn.execute(
        update(keys)
        .where(keys.c.id == key_id, keys.c.errorCode == CLEANUP_PENDING)
        .values(errorCode=original_code, repoFullName=None, providerRepoId=None, lastRunAt=NOW)
    )


def list_keys(
    conn: Connection, *, stuck_only: bool, lease_seconds: float, actor_id: str | None, limit: int
) -> list[KeyRow]:
    """Newest first. ``stuck_only``: the keys that need an operator, stuck (STUCK_SQL) or failed
    with a repository to clean up."""
    query = select(keys).order_by(keys.c.lastRunAt.desc(), keys.c.id).limit(limit)
    if actor_id is not None:
        query = query.where(keys.c.actorId == actor_id)
    if stuck_only:
        stuck = text(STUCK_SQL).bindparams(lease=lease_seconds)
        query = query.where(or_(stuck, keys.c.errorCode == CLEANUP_PENDING))
    return [KeyRow.from_row(row) for row in conn.execute(query)]


def database_now(conn: Connection) -> datetime:
    """The clock leases are measured against (the database's, not this machine's)."""
    return conn.execute(text("SELECT LOCALTIMESTAMP(3)")).scalar_one()


def keys_for_reconcile(conn: Connection) -> list[KeyRow]:
    """Keys that may stand behind a repository of ours without a session (unfinished or failed)."""
    query = select(keys).where(keys.c.recoveryPoint.in_([*UNFINISHED, "FAILED"]))
    return [KeyRow.from_row(row) for row in conn.execute(query)]
