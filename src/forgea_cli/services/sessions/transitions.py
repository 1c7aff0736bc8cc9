"""Changing a session's status: one compare-and-set statement and one AuditLog row, in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from forgea_cli import lifecycle
from forgea_cli.audit import ActorType, build_metadata
from forgea_cli.db import session_queries
from forgea_cli.db.errors import DatabaseRefused, lifecycle_refusal
from forgea_cli.db.uow import UnitOfWork, UnitOfWorkFactory
from forgea_cli.errors import ConcurrentUpdate, ExpectedStatusMismatch, NotFound

# The statement fills in the real fromStatus and labId; placeholders of the longest possible size keep
# the metadata size check conservative.
_FROM_STATUS_PLACEHOLDER = max((str(s) for s in lifecycle.Status), key=len)
_LAB_ID_PLACEHOLDER = str(uuid.UUID(int=0))


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

    def to_json(self) -> dict:
        return {
            "sessionId": str(self.session_id),
            "from": str(self.from_status),
            "to": str(self.to_status),
            "changed": self.changed,
            "dryRun": self.dry_run,
            "completedAt": self.completed_at,
            "auditId": str(self.audit_id) if self.audit_id else None,
        }


def transition_session(uow: UnitOfWorkFactory, request: TransitionRequest) -> TransitionResult:
    """The trigger judges the change (it enforces the same table as `lifecycle`); asking it even in a
    dry run means the verdict shown is the database's own."""
    with uow() as work:
        outcome = _run_statement(work, request)
        result = _interpret(request, outcome)
        if result.changed and not request.dry_run:
            work.commit()
        return result


def _metadata(request: TransitionRequest) -> dict:
    return build_metadata(
        request.actor_type,
        labId=_LAB_ID_PLACEHOLDER,
        labSessionId=str(request.session_id),
        fromStatus=_FROM_STATUS_PLACEHOLDER,
        toStatus=str(request.target),
        statusChanged=True,
        reason=request.reason,
    )


def _run_statement(work: UnitOfWork, request: TransitionRequest) -> session_queries.TransitionOutcome:
    try:
        outcome = session_queries.transition_with_audit(
            work.connection,
            session_id=request.session_id,
            target=request.target,
            expect=sorted(str(s) for s in request.expect) or None,
            actor_id=request.actor_id,
            metadata=_metadata(request),
        )
    except DatabaseRefused as exc:
        refusal = lifecycle_refusal(exc)
        if refusal is None:
            raise
        raise refusal from exc
    if outcome is None:
        raise NotFound(f"no lab session {request.session_id}")
    return outcome


def _interpret(request: TransitionRequest, outcome: session_queries.TransitionOutcome) -> TransitionResult:
    seen = outcome.seen_status
    if outcome.changed:
        return TransitionResult(
            request.session_id,
            seen,
            request.target,
            True,
            request.dry_run,
            outcome.completed_at,
            outcome.audit_id,
        )
    if request.expect and seen not in request.expect:
        expected = ", ".join(sorted(str(s) for s in request.expect))
        raise ExpectedStatusMismatch(f"session {request.session_id} is {seen}, not {expected} as expected")
    if seen == request.target:
        return TransitionResult(request.session_id, seen, request.target, False, request.dry_run)
    raise ConcurrentUpdate(
        f"concurrent update: session {request.session_id} changed while this transition ran "
        f"(it was {seen}); nothing was written",
        hint="run `forgea session show` and retry if still wanted",
    )
