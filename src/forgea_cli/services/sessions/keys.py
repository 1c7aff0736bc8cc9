"""Operator recovery of session-creation keys: list them, resume one (the completer), abandon one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from forgea_cli.db import idempotency_keys as keys_db
from forgea_cli.db.idempotency_keys import KeyRow
from forgea_cli.db.uow import UnitOfWork, UnitOfWorkFactory
from forgea_cli.documents import plural
from forgea_cli.errors import Conflict, InProgress, NotFound
from forgea_cli.github.gateway import GitHubError, GitHubGateway, RepoInfo
from forgea_cli.services.sessions import create as session_create
from forgea_cli.services.sessions.create import Completer, CreateOutcome, LeaseLost, lease_key
from forgea_cli.services.sessions.idempotency import (
    ErrorCode,
    RecoveryPoint,
    is_abandoned,
    is_retired,
    is_stuck,
    left_nothing,
)
from forgea_cli.services.sessions.plan import CreationConfig, Plan, plan_from_key


@dataclass(frozen=True)
class KeyView:
    row: KeyRow
    now: datetime  # the database's clock when the row was read
    lease_seconds: float

    @property
    def stuck(self) -> bool:
        """Unfinished with no live run (`idempotency.is_stuck`, the predicate of `keys list --stuck`)."""
        return is_stuck(self.row, self.now, self.lease_seconds)

    @property
    def state(self) -> str:
        row = self.row
        if row.recovery_point == RecoveryPoint.FINISHED:
            return "finished"
        if row.recovery_point == RecoveryPoint.FAILED:
            if self.cleanup:
                return "failed"
            if is_retired(row.result):
                return "retired"
            return "abandoned" if is_abandoned(row.error_code, row.result) else "failed"
        return "stuck" if self.stuck else "in progress"

    @property
    def cleanup(self) -> bool:
        return self.row.error_code == ErrorCode.REPO_CLEANUP_PENDING

    def to_json(self) -> dict[str, Any]:
        row = self.row
        params = row.request_params or {}
        return {
            "key": row.key,
            "actor": row.actor_id,
            "state": self.state,
            "recoveryPoint": row.recovery_point,
            "errorCode": row.error_code,
            "error": ((row.result or {}).get("error") or {}).get("message"),
            "plannedSessionId": str(row.planned_session_id),
            "labSessionId": str(row.lab_session_id) if row.lab_session_id else None,
            "repoFullName": row.repo_full_name,
            "providerRepoId": row.provider_repo_id,
            "userId": params.get("userId"),
            "labId": params.get("labId"),
            "labVersionId": params.get("labVersionId"),
            "forkUrl": params.get("forkUrl"),
            "lastRunAt": row.last_run_at,
            "createdAt": row.created_at,
            "retired": (row.result or {}).get("retired"),
            "next": next_step(self),
        }


def next_step(view: KeyView) -> str:
    state = view.state
    if state == "finished":
        return "nothing: a rerun replays the stored result"
    if state == "in progress":
        return "wait: a run holds the key"
    if view.cleanup:
        return "`forgea repo reconcile --execute` deletes the repository left behind"
    if state == "abandoned":
        return "nothing: the key is closed; `session create` for the same student and version starts afresh"
    if state == "retired":
        original = view.row.result.get("retired", {}).get("key") if view.row.result else None
        return f"nothing: a newer request took its name ({original})"
    if state == "failed" and left_nothing(view.row):
        return (
            "rerun `session create` (the same request retries it; a corrected one replaces it), "
            "or `keys abandon`"
        )
    if state == "failed":
        return "fix the cause, then rerun `session create` (or `keys resume`), or `keys abandon`"
    return f"`forgea keys resume {view.row.key}` continues from {view.row.recovery_point}, or `keys abandon`"


def list_keys(
    uow: UnitOfWorkFactory,
    config: CreationConfig,
    *,
    stuck_only: bool = False,
    all_actors: bool = False,
    limit: int = 100,
) -> list[KeyView]:
    """Newest first; ``stuck_only``: those that need an operator (stuck, or a repository to clean up)."""
    with uow(read_only=True) as work:
        rows = keys_db.list_keys(
            work.connection,
            stuck_only=stuck_only,
            lease_seconds=config.lease_seconds,
            actor_id=None if all_actors else config.actor,
            limit=limit,
        )
        now = keys_db.database_now(work.connection)
    return [KeyView(row, now, config.lease_seconds) for row in rows]


def show_key(
    uow: UnitOfWorkFactory, config: CreationConfig, key: str, *, actor: str | None = None
) -> KeyView:
    with uow(read_only=True) as work:
        return _view(work, config, key, actor)


def _view(work: UnitOfWork, config: CreationConfig, key: str, actor: str | None) -> KeyView:
    row = _find(work, config, key, actor)
    return KeyView(row, keys_db.database_now(work.connection), config.lease_seconds)


def resume_key(
    uow: UnitOfWorkFactory,
    gateway: GitHubGateway,
    config: CreationConfig,
    key: str,
    *,
    actor: str | None = None,
) -> CreateOutcome:
    """Run the completer from the key's recovery point (replays a finished key)."""
    with uow(read_only=True) as work:
        row = _find(work, config, key, actor)
        if row.recovery_point == RecoveryPoint.FINISHED:
            return session_create.replay(row)
        plan = plan_from_key(work, config, row)
    started = session_create.take_over(uow, config, row)
    if isinstance(started, CreateOutcome):
        return started
    current, lease = started
    return Completer(uow, gateway, config, plan, current, lease).complete()


# -- abandon ---------------------------------------------------------------------------------------------


@dataclass
class AbandonReport:
    key: str
    state_before: str
    repo: str | None  # the repository of ours that is (or would be) deleted
    deleted: bool
    dry_run: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "stateBefore": self.state_before,
            "repo": self.repo,
            "deleted": self.deleted,
            "dryRun": self.dry_run,
        }


def abandon_key(
    uow: UnitOfWorkFactory,
    gateway: GitHubGateway,
    config: CreationConfig,
    key: str,
    *,
    actor: str | None = None,
    dry_run: bool = False,
) -> AbandonReport:
    """Close an unfinished or failed key for good, deleting the repository we created for it.

    One unit of work per phase: read the key, its plan and lease it; then GitHub (no transaction
    open); then record the end."""
    with uow() as work:
        view = _view(work, config, key, actor)
        _check_abandonable(view)
        if view.state in ("abandoned", "retired"):
            return AbandonReport(key, view.state, None, False, dry_run)
        plan = plan_from_key(work, config, view.row)
        leased = None if dry_run else _lease(work, config, view.row)
        work.commit()
    if leased is None:
        repo = _our_repo(gateway, config, plan, view.row)
        return AbandonReport(key, view.state, repo.full_name if repo else None, False, True)
    row, lease = leased
    repo = _our_repo(gateway, config, plan, row)
    try:
        if repo is not None:
            gateway.delete_repo(repo.full_name)
    except GitHubError as exc:
        _close(uow, row, lease, config, repo, exc)
        raise
    _close(uow, row, lease, config, None, None)
    return AbandonReport(key, view.state, repo.full_name if repo else None, repo is not None, False)


def _check_abandonable(view: KeyView) -> None:
    if view.state == "finished":
        raise Conflict(
            f"key {view.row.key!r} finished: session {view.row.lab_session_id} exists; "
            "transition the session instead (`forgea session transition`)"
        )
    if view.state == "in progress":
        raise InProgress(f"key {view.row.key!r} is held by a running creation; retry when it ends")


def _lease(work: UnitOfWork, config: CreationConfig, row: KeyRow) -> tuple[KeyRow, datetime]:
    """Leased as the key stands (an abandoned key with a repository to clean up may be leased)."""
    current, lease = lease_key(work, row, config.lease_seconds, reopen=False)
    if lease is None:
        raise InProgress(f"key {row.key!r} was taken by another run meanwhile; retry when it ends")
    return current, lease


def _our_repo(gateway: GitHubGateway, config: CreationConfig, plan: Plan, row: KeyRow) -> RepoInfo | None:
    """The repository this key created: recorded, or under its deterministic name. Never a bound one."""
    if plan.fork is not None:
        return None
    if row.provider_repo_id is not None:
        return gateway.get_repo_by_id(row.provider_repo_id)
    repo = gateway.get_repo(f"{config.org}/{plan.repo_name(config, row.planned_session_id)}")
    return repo if repo is not None and session_create.made_from(repo, plan.template.full_name) else None


def _close(
    uow: UnitOfWorkFactory,
    row: KeyRow,
    lease: datetime,
    config: CreationConfig,
    undeleted: RepoInfo | None,
    failure: GitHubError | None,
) -> None:
    """Mark the key abandoned (or cleanup pending); LeaseLost, and nothing written, when another run
    took the key over while this one talked to GitHub."""
    details: dict[str, Any] = {"code": ErrorCode.ABANDONED, "message": f"abandoned by {config.actor}"}
    if undeleted is not None and failure is not None:
        details.update(repoCleanupPending=True, repoFullName=undeleted.full_name, deleteError=failure.message)
    with uow() as work:
        held: datetime | None = lease
        if undeleted is not None:  # maybe found by name: record it so `repo reconcile` knows whose it is
            held = keys_db.record_repo(
                work.connection, row.id, lease, full_name=undeleted.full_name, repo_id=undeleted.id
            )
        marked = held is not None and keys_db.mark_failed(
            work.connection,
            row.id,
            held,
            error_code=ErrorCode.REPO_CLEANUP_PENDING if undeleted is not None else ErrorCode.ABANDONED,
            result={"error": details},
            forget_repo=undeleted is None,
        )
        if not marked:
            raise LeaseLost(
                f"key {row.key!r} was taken over by another run while it was being abandoned; "
                "it is not abandoned",
                hint="see `forgea keys list`, then `forgea keys abandon` again once that run ends",
            )
        work.commit()


def _find(work: UnitOfWork, config: CreationConfig, key: str, actor: str | None) -> KeyRow:
    owner = actor or config.actor
    row = keys_db.find(work.connection, owner, key)
    if row is None:
        others = keys_db.actors_with(work.connection, key)
        if others:
            named = ", ".join(repr(o) for o in others)
            raise NotFound(
                f"no idempotency key {key!r} for actor {owner!r}; {plural(len(others), 'other actor')} "
                f"{'has' if len(others) == 1 else 'have'} one: {named}",
                hint=f"add --actor {others[0]} (`forgea keys list --all-actors` lists every actor's keys)",
            )
        raise NotFound(
            f"no idempotency key {key!r} for actor {owner!r}",
            hint="see `forgea keys list` (`--all-actors` for every actor's keys)",
        )
    return row
