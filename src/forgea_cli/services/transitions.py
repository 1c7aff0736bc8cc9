"""Changing a session's status: one compare-and-set statement and one AuditLog row, in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from forgea_cli import lifecycle
from forgea_cli.audit import ActorType, AuditAction, build_metadata
from forgea_cli.db import audit, session_queries
from forgea_cli.db.errors import lifecycle_refusal
from forgea_cli.db.uow import UnitOfWork
from forgea_cli.errors import ConcurrentUpdate, ExpectedStatusMismatch, NotFound


@dataclass(frozen=True)
class TransitionRequest:
    session_id: uuid.UUID
    target: lifecycle.Status
    actor_id: str
    expect: Collection[lifecycle.Status] = ()
    reason: str | None = None
    actor_type: ActorType = ActorType.ADMIN
    dry_run: bool = False


@dataclass(frozen=True)
class TransitionResult:
    session_id: uuid.UUID
    from_status: lifecycle.Status
    to_status: lifecycle.Status
    changed: bool
    dry_run: bool
    completed_at: datetime | None = None
    audit_id: uuid.UUID | None = None

    def as_dict(self) -> dict:
        return {
            "session_id": str(self.session_id),
            "from": str(self.from_status),
            "to": str(self.to_status),
            "changed": self.changed,
            "dry_run": self.dry_run,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "audit_id": str(self.audit_id) if self.audit_id else None,
        }


def transition_session(engine: Engine, request: TransitionRequest) -> TransitionResult:
    with UnitOfWork(engine) as uow:
        result = _transition(uow, request)
        if not request.dry_run:
            uow.commit()
        return result


def _transition(uow: UnitOfWork, request: TransitionRequest) -> TransitionResult:
    state = session_queries.load_state(uow.connection, request.session_id)
    if state is None:
        raise NotFound(f"no lab session {request.session_id}")
    if request.expect and state.status not in request.expect:
        expected = ", ".join(sorted(str(s) for s in request.expect))
        raise ExpectedStatusMismatch(f"session {state.id} is {state.status}, not {expected} as expected")
    if state.status == request.target:
        return TransitionResult(state.id, state.status, request.target, False, request.dry_run)
    # The trigger is the judge (it enforces the same table as `lifecycle`); asking it even in a dry
    # run means the verdict shown is the database's own.
    row = _apply(uow, state, request.target)
    audit_id = audit.record(
        uow.connection,
        action=AuditAction.LAB_STATUS_TRANSITION,
        actor_id=request.actor_id,
        user_id=state.user_id,
        metadata=build_metadata(
            request.actor_type,
            labId=str(state.lab_id),
            labSessionId=str(state.id),
            fromStatus=str(state.status),
            toStatus=str(request.target),
            statusChanged=True,
            reason=request.reason,
        ),
    )
    return TransitionResult(
        state.id, state.status, request.target, True, request.dry_run, row.completedAt, audit_id
    )


def _apply(uow: UnitOfWork, state: session_queries.SessionState, target: lifecycle.Status):
    try:
        row = session_queries.compare_and_set_status(uow.connection, state.id, state.status, target)
    except DBAPIError as exc:
        refusal = lifecycle_refusal(exc)
        if refusal is None:
            raise
        raise refusal from exc
    if row is None:
        raise ConcurrentUpdate(
            f"concurrent update: session {state.id} changed while this transition ran "
            f"(it was {state.status}); nothing was written",
            hint="run `forgea session show` and retry if still wanted",
        )
    return row
