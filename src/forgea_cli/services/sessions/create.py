"""Creating a lab session on GitHub without orphans or duplicates (DESIGN §5).

Three atomic phases separated by recovery points, the one GitHub side effect between them
(brandur's rocket-rides-atomic):

1. STARTED — insert or find the IdempotencyKey (actor, key) and lease it; a different request
   under the same key, a finished key (replay) or a live lease stop here.
2. The foreign mutation — generate the repository from the lab version's template (its name
   derives from the planned session id, so a rerun finds it instead of making a second one), or
   look up the `--fork-url` repository; record REPO_CREATED with GitHub's repository id.
3. One transaction: LabSession, GitHubRepoMapping, the LAB_START audit row and the key's result.

A permanent GitHub refusal marks the key FAILED; a refused insert deletes the repository we made.
Transient failures release the lease and leave the key where it was, for a rerun to continue.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from forgea_cli import audit
from forgea_cli.db import audit as audit_db
from forgea_cli.db import idempotency_keys as keys_db
from forgea_cli.db import session_creation as sessions_db
from forgea_cli.db.errors import UniqueViolation
from forgea_cli.db.idempotency_keys import KeyRow
from forgea_cli.db.uow import UnitOfWork, UnitOfWorkFactory
from forgea_cli.errors import Conflict, ForgeaError, IdempotencyMismatch, InProgress
from forgea_cli.github.gateway import (
    GitHubAuthFailed,
    GitHubError,
    GitHubGateway,
    GitHubNotFound,
    GitHubRefused,
    GitHubUnavailable,
    RepoInfo,
    RepoNameTaken,
)
from forgea_cli.services.sessions.faults import checkpoint
from forgea_cli.services.sessions.idempotency import (
    ErrorCode,
    RecoveryPoint,
    is_abandoned,
    is_retired,
    retired_name,
    supersedes,
)
from forgea_cli.services.sessions.plan import CreateSpec, CreationConfig, Plan, plan_session
from forgea_cli.urls import canonical_repo_url, redact_url

log = logging.getLogger("forgea_cli.session_create")


# -- errors with a key error code ------------------------------------------------------------------


class ActiveSessionExists(Conflict):
    code = ErrorCode.ACTIVE_SESSION_EXISTS


class RepoAlreadyMapped(Conflict):
    code = ErrorCode.REPO_ALREADY_MAPPED


class RepoNameConflict(GitHubRefused):
    code = ErrorCode.REPO_NAME_CONFLICT


class ForkNotFound(GitHubNotFound):
    code = ErrorCode.FORK_NOT_FOUND


class KeyAbandoned(Conflict):
    pass


class LeaseLost(InProgress):
    """Another run took the key over while this one was working (its lease had expired)."""


PERMANENT_GITHUB_ERRORS = (GitHubNotFound, GitHubAuthFailed, GitHubRefused)


def error_code_for(exc: GitHubError) -> str:
    if hasattr(exc, "code"):
        return str(exc.code)
    if isinstance(exc, GitHubNotFound):
        return ErrorCode.GITHUB_NOT_FOUND
    if isinstance(exc, GitHubAuthFailed):
        return ErrorCode.GITHUB_AUTH_FAILED
    return ErrorCode.GITHUB_REFUSED


@dataclass(frozen=True)
class CreateOutcome:
    outcome: str  # "created" or "replayed"
    key: str
    result: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "idempotencyKey": self.key, **self.result}


# -- the entry points --------------------------------------------------------------------------------


def create_session(
    uow: UnitOfWorkFactory, gateway: GitHubGateway, config: CreationConfig, spec: CreateSpec
) -> CreateOutcome:
    return run(uow, gateway, config, plan_session(uow, config, spec))


def run(uow: UnitOfWorkFactory, gateway: GitHubGateway, config: CreationConfig, plan: Plan) -> CreateOutcome:
    started = start(uow, config, plan)
    if isinstance(started, CreateOutcome):
        return started
    row, lease = started
    return Completer(uow, gateway, config, plan, row, lease).complete()


def made_from(repo: RepoInfo, template_full_name: str) -> bool:
    """Generated from the template (or forked from it): a repository of ours we may adopt."""
    sources = {(repo.template_full_name or "").lower(), (repo.parent_full_name or "").lower()}
    return template_full_name.lower() in sources


# -- phase 1: STARTED --------------------------------------------------------------------------------


def start(
    uow: UnitOfWorkFactory, config: CreationConfig, plan: Plan
) -> tuple[KeyRow, datetime] | CreateOutcome:
    """Insert or find the key and lease it; or the stored result (replay); or a conflict."""
    request_hash = plan.request.request_hash()
    with uow() as work:
        row, created = claim_key(work, config, plan)
        work.commit()
    if row.request_hash != request_hash:
        message, hint = mismatch(row, plan)
        raise IdempotencyMismatch(message, hint=hint)
    if created:
        assert row.locked_at is not None
        checkpoint(RecoveryPoint.STARTED)
        return row, row.locked_at
    return take_over(uow, config, row)


CLAIM_ATTEMPTS = 5


def claim_key(work: UnitOfWork, config: CreationConfig, plan: Plan) -> tuple[KeyRow, bool]:
    """The key row for ``plan`` and whether this call created it (then it is leased to the caller).

    A closed key of the same student and version (abandoned, or failed having created nothing) is
    retired first — renamed, kept — so the new request takes its name: all in the caller's
    transaction, under the old row's lock. Two runs retiring the same key at once: the loser waits
    for the lock, finds the row renamed, and meets the winner's new key instead.
    """
    conn = work.connection
    waited_for: uuid.UUID | None = None
    for _ in range(CLAIM_ATTEMPTS):
        row, created = keys_db.insert_or_find(
            conn,
            actor_id=config.actor,
            key=plan.key,
            request_hash=plan.request.request_hash(),
            request_params=plan.request.params(),
            planned_session_id=uuid.uuid4(),
        )
        if created or not supersedes(row, plan.request):
            return row, created
        if row.id == waited_for:  # still ours to retire, but a run holds its lease (`keys abandon`)
            raise InProgress(
                f"idempotency key {plan.key!r} is held by a running command; retry when it ends",
                hint="see `forgea keys list`",
            )
        waited_for = row.id
        locked = keys_db.lock_free_key(conn, row.id, plan.key, config.lease_seconds)
        if locked is not None and supersedes(locked, plan.request):
            log.info("retiring key %s (%s): superseded by a new request", plan.key, locked.error_code)
            keys_db.retire(
                conn, locked.id, retired_key=retired_name(locked.key, locked.id), retired_by=config.actor
            )
        # else it changed meanwhile (renamed by a concurrent run, or leased): look the name up again
    raise InProgress(
        f"idempotency key {plan.key!r} kept changing while this run claimed it; run the command again"
    )


def mismatch(row: KeyRow, plan: Plan) -> tuple[str, str | None]:
    """Why a key stands for another request (one it was not superseded by), and what to do."""
    message = (
        f"idempotency key {plan.key!r} was used for a different request "
        "(user, lab, lab version or fork URL differ)"
    )
    params = row.request_params or {}
    same_student = params.get("userId") == str(plan.request.user_id)
    if not same_student or params.get("labVersionId") != str(plan.request.lab_version_id):
        return f"{message}, for another student or lab version; use another key", None
    if row.recovery_point == RecoveryPoint.FINISHED:
        return (
            f"{message} and created session {row.lab_session_id}",
            "a second attempt of this lab version needs an --idempotency-key of its own",
        )
    if row.recovery_point == RecoveryPoint.FAILED:
        held = row.repo_full_name or "a repository"
        return (
            f"{message}; it failed ({row.error_code}) and still holds {held}",
            f"`forgea keys abandon {row.key}` deletes what it created; then run this command again",
        )
    return (
        f"{message}; that request is still {row.recovery_point}",
        f"`forgea keys resume {row.key}` finishes it, or `forgea keys abandon {row.key}` gives it up",
    )


def take_over(
    uow: UnitOfWorkFactory, config: CreationConfig, row: KeyRow
) -> tuple[KeyRow, datetime] | CreateOutcome:
    """Continue an existing key: replay it, refuse it (abandoned, held by a live run) or lease it."""
    if row.recovery_point == RecoveryPoint.FINISHED:
        return replay(row)
    _refuse_if_abandoned(row)
    with uow() as work:
        current, lease = lease_key(work, row, config.lease_seconds)
        work.commit()
    if lease is None:
        if current.recovery_point == RecoveryPoint.FINISHED:
            return replay(current)
        _refuse_if_abandoned(current)
        raise InProgress(
            f"session creation for key {row.key!r} is in progress in another run "
            f"(its lease expires {config.lease_seconds:.0f} s after its last step); "
            "retry later, or see `forgea keys list`"
        )
    checkpoint(RecoveryPoint.STARTED)
    return current, lease


def lease_key(
    work: UnitOfWork, row: KeyRow, lease_seconds: float, *, reopen: bool = True
) -> tuple[KeyRow, datetime | None]:
    """The one lease take-over (creation, `keys resume`, `keys abandon`; the caller commits): the key
    as it is now, and the lease when it was free or expired (None: held by a live run, finished,
    or — when a creation would ``reopen`` it — abandoned). The abandonment is checked in the UPDATE
    itself, so an abandon committed while this one waited is never undone."""
    lease = keys_db.take_lease(work.connection, row.id, lease_seconds, reopen=reopen)
    return keys_db.get(work.connection, row.id), lease


def replay(row: KeyRow) -> CreateOutcome:
    return CreateOutcome("replayed", row.key, dict(row.result or {}))


def _refuse_if_abandoned(row: KeyRow) -> None:
    if is_retired(row.result):
        original = (row.result or {}).get("retired", {}).get("key", row.key)
        raise KeyAbandoned(
            f"idempotency key {row.key!r} was retired: a newer request took its name {original!r}",
            hint=f"`forgea keys list` shows the key {original!r} now stands for",
        )
    if is_abandoned(row.error_code, row.result):
        raise KeyAbandoned(
            f"idempotency key {row.key!r} was abandoned",
            hint="`forgea session create` for the same student and lab version starts afresh",
        )


# -- phases 2 and 3 ------------------------------------------------------------------------------------


class _Refusal(Exception):
    """The database refused the session: undo the GitHub side effect, then report ``error``."""

    def __init__(self, error: ActiveSessionExists | RepoAlreadyMapped) -> None:
        super().__init__(error.message)
        self.error = error


class Completer:
    """Runs a leased key from its recovery point to FINISHED (or FAILED); every write is fenced."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        gateway: GitHubGateway,
        config: CreationConfig,
        plan: Plan,
        row: KeyRow,
        lease: datetime,
    ) -> None:
        self.uow, self.gateway, self.config, self.plan = uow, gateway, config, plan
        self.row = row
        self.lease = lease
        self.recorded: tuple[str, int] | None = (
            (row.repo_full_name or "", row.provider_repo_id) if row.provider_repo_id is not None else None
        )

    def complete(self) -> CreateOutcome:
        try:
            self._refuse_if_student_busy()
            return self._finish(self._repository())
        except _Refusal as refusal:
            finished = self._finished_elsewhere()
            if finished is not None:
                return finished
            raise self._roll_back(refusal.error) from None
        except PERMANENT_GITHUB_ERRORS as exc:
            self._fail(error_code_for(exc), exc)
            raise
        except BaseException:
            self._release()
            raise

    # -- phase 2 -----------------------------------------------------------------------------------

    def _refuse_if_student_busy(self) -> None:
        active = self._active_session()
        if active is not None:
            raise _Refusal(self._active_session_error(active))

    def _active_session(self) -> uuid.UUID | None:
        with self.uow(read_only=True) as work:
            return sessions_db.active_session_of(work.connection, self.plan.user.id, self.plan.lab.id)

    def _active_session_error(self, active: uuid.UUID | None) -> ActiveSessionExists:
        which = f" ({active})" if active else ""
        return ActiveSessionExists(
            f"student {self.plan.user.email} already has an active session{which} for lab {self.plan.lab.id}"
        )

    def _repository(self) -> RepoInfo:
        if self.recorded is not None:
            resumed = self.gateway.get_repo_by_id(self.recorded[1])
            if resumed is not None:
                return resumed
            if self.plan.fork is not None:
                raise ForkNotFound(f"the repository bound to key {self.plan.key!r} no longer exists")
            self._fenced(keys_db.forget_repo)
            self.recorded = None
        repo = self._bind_fork() if self.plan.fork is not None else self._generate_or_adopt()
        checkpoint("GITHUB_CREATED")
        self._fenced(keys_db.record_repo, full_name=repo.full_name, repo_id=repo.id)
        self.recorded = (repo.full_name, repo.id)
        checkpoint(RecoveryPoint.REPO_CREATED)
        return repo

    def _bind_fork(self) -> RepoInfo:
        assert self.plan.fork is not None
        repo = self.gateway.get_repo(self.plan.fork.full_name)
        if repo is None:
            raise ForkNotFound(f"{redact_url(self.plan.fork.canonical_url)} does not exist or is not visible")
        with self.uow(read_only=True) as work:
            owner = sessions_db.session_mapped_to(
                work.connection, repo_id=repo.id, canonical_url=self._canonical(repo)
            )
        if owner is not None:
            raise _Refusal(RepoAlreadyMapped(f"{repo.full_name} is already bound to session {owner}"))
        return repo

    def _generate_or_adopt(self) -> RepoInfo:
        name = self.plan.repo_name(self.config, self.row.planned_session_id)
        org = self.config.org
        assert org is not None
        try:
            return self.gateway.create_from_template(self.plan.template.full_name, org, name, private=True)
        except RepoNameTaken:
            adopted = self._adoptable(f"{org}/{name}")
            if adopted is None:
                raise GitHubUnavailable(
                    f"GitHub says {org}/{name} exists but it is not visible yet; run the command again"
                ) from None
            return adopted
        except GitHubUnavailable:
            # The response may have been lost after GitHub created the repository.
            adopted = self._adoptable(f"{org}/{name}")
            if adopted is None:
                raise
            return adopted

    def _adoptable(self, full_name: str) -> RepoInfo | None:
        """Our repository from an earlier attempt, or None; a stranger under our name is an error."""
        repo = self.gateway.get_repo(full_name)
        if repo is None:
            return None
        if not made_from(repo, self.plan.template.full_name):
            raise RepoNameConflict(
                f"{full_name} exists but was not generated from {self.plan.template.full_name}; "
                "it was left alone"
            )
        log.info("adopting %s (created by an earlier attempt of key %s)", repo.full_name, self.plan.key)
        return repo

    # -- phase 3 -------------------------------------------------------------------------------------

    def _finish(self, repo: RepoInfo) -> CreateOutcome:
        session_id = self.row.planned_session_id
        result = self._result(repo)
        try:
            with self.uow() as work:
                conn = work.connection
                current = keys_db.get(conn, self.row.id, for_update=True)
                if current.recovery_point == RecoveryPoint.FINISHED:
                    return replay(current)  # a run that took the key over finished it
                if current.locked_at != self.lease:
                    raise self._lease_lost()
                self._insert_session(conn, session_id, repo)
                keys_db.mark_finished(conn, self.row.id, session_id=session_id, result=result)
                work.commit()
        except UniqueViolation as exc:
            raise self._refusal_for(exc) from exc
        checkpoint(RecoveryPoint.FINISHED)
        return CreateOutcome("created", self.plan.key, result)

    def _insert_session(self, conn: Any, session_id: uuid.UUID, repo: RepoInfo) -> None:
        plan = self.plan
        sessions_db.insert_session(
            conn,
            session_id=session_id,
            user_id=plan.user.id,
            lab_id=plan.lab.id,
            lab_version_id=plan.version.id,
            fork_url=repo.html_url,  # exactly: the web app still looks sessions up by this string
        )
        sessions_db.insert_mapping(
            conn,
            session_id=session_id,
            source="MANUAL" if plan.fork is not None else "CREATED",
            repo={
                "providerRepoId": repo.id,
                "owner": repo.owner,
                "name": repo.name,
                "canonicalUrl": self._canonical(repo),
                "htmlUrl": repo.html_url,
                "defaultBranch": repo.default_branch,
            },
        )
        audit_db.record(
            conn,
            action=audit.AuditAction.LAB_START,
            actor_id=self.config.actor,
            user_id=plan.user.id,
            metadata=audit.build_metadata(
                labId=str(plan.lab.id),
                labSessionId=str(session_id),
                labVersionId=str(plan.version.id),
                repoFullName=repo.full_name,
                providerRepoId=repo.id,
            ),
        )

    def _refusal_for(self, exc: UniqueViolation) -> Exception:
        constraint = exc.constraint
        if constraint == sessions_db.ACTIVE_SESSION_INDEX:
            return _Refusal(self._active_session_error(self._active_session()))
        if constraint in sessions_db.MAPPING_UNIQUES:
            return _Refusal(
                RepoAlreadyMapped(f"the repository is already bound to another session ({constraint})")
            )
        return exc

    def _result(self, repo: RepoInfo) -> dict[str, Any]:
        plan = self.plan
        return {
            "labSessionId": str(self.row.planned_session_id),
            "userId": str(plan.user.id),
            "labId": str(plan.lab.id),
            "labVersionId": str(plan.version.id),
            "labVersion": plan.version.version,
            "repoFullName": repo.full_name,
            "providerRepoId": repo.id,
            "htmlUrl": repo.html_url,
            "canonicalUrl": self._canonical(repo),
            "defaultBranch": repo.default_branch,
            "repoSource": "bound" if plan.fork is not None else "generated",
        }

    def _canonical(self, repo: RepoInfo) -> str:
        return canonical_repo_url(repo.html_url, self.config.web_host)

    # -- rollback and bookkeeping ------------------------------------------------------------------------

    def _finished_elsewhere(self) -> CreateOutcome | None:
        """Before undoing anything: has a run that took the key over finished it (or still hold it)?"""
        with self.uow(read_only=True) as work:
            current = keys_db.get(work.connection, self.row.id)
        if current.recovery_point == RecoveryPoint.FINISHED:
            return replay(current)
        if current.locked_at != self.lease:
            raise self._lease_lost()
        return None

    def _roll_back(self, error: ActiveSessionExists | RepoAlreadyMapped) -> ForgeaError:
        """Delete the repository we created (never a --fork-url one), then mark the key FAILED."""
        ours = self.recorded if self.plan.fork is None else None
        pending = ours is not None and not self._delete_ours(*ours)
        code = ErrorCode.REPO_CLEANUP_PENDING if pending else error.code
        details = {"code": str(error.code), "message": error.message, "repoCleanupPending": pending}
        if pending and ours is not None:
            details["repoFullName"] = ours[0]
        self._mark_failed(code, details, forget_repo=not pending)
        if not pending or ours is None:
            return error
        return type(error)(
            f"{error.message}; the repository {ours[0]} we created could not be deleted",
            hint="`forgea repo reconcile --execute` deletes it once GitHub answers",
        )

    def _delete_ours(self, full_name: str, repo_id: int) -> bool:
        try:
            current = self.gateway.get_repo_by_id(repo_id)
            if current is not None:
                self.gateway.delete_repo(current.full_name)
            return True
        except GitHubError as exc:
            log.warning("could not delete %s: %s", full_name, exc.message)
            return False

    def _fail(self, code: str, exc: GitHubError) -> None:
        self._mark_failed(code, {"code": code, "message": exc.message}, forget_repo=False)

    def _mark_failed(self, code: str, details: dict[str, Any], *, forget_repo: bool) -> None:
        """FAILED with the reason; LeaseLost when another run took the key over meanwhile (the key
        is then that run's, and this run's verdict is not recorded)."""
        with self.uow() as work:
            marked = keys_db.mark_failed(
                work.connection,
                self.row.id,
                self.lease,
                error_code=code,
                result={"error": details},
                forget_repo=forget_repo,
            )
            work.commit()
        if not marked:
            raise self._lease_lost(f"this run's {code} was not recorded")

    def _release(self) -> None:
        # Best effort: the database may be what failed. The lease then simply expires.
        with contextlib.suppress(Exception), self.uow() as work:
            keys_db.release_lease(work.connection, self.row.id, self.lease)
            work.commit()

    def _fenced(self, write: Callable[..., datetime | None], **values: Any) -> None:
        with self.uow() as work:
            renewed = write(work.connection, self.row.id, self.lease, **values)
            if renewed is None:
                raise self._lease_lost()
            work.commit()
        self.lease = renewed

    def _lease_lost(self, what: str | None = None) -> LeaseLost:
        return LeaseLost(
            f"another run took over key {self.plan.key!r}; it continues the creation"
            + (f" ({what})" if what else ""),
            hint="see `forgea keys list`",
        )
