"""What a session creation asks for, resolved: student, lab, lab version, template, key, request.

Reads only. `create_dry_run` is everything a real run resolves and checks, with nothing written to
the database or GitHub. The helpers taking ``work`` read through a unit of work the caller opened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from forgea_cli.db import idempotency_keys as keys_db
from forgea_cli.db import session_creation as sessions_db
from forgea_cli.db.idempotency_keys import KeyRow
from forgea_cli.db.session_creation import LabRow, LabVersionRow
from forgea_cli.db.uow import UnitOfWork, UnitOfWorkFactory
from forgea_cli.errors import DataNotReady, InvalidInput, NotFound, OperationFailed
from forgea_cli.github.gateway import GitHubGateway, GitHubNotFound
from forgea_cli.identifiers import uuid_or_none
from forgea_cli.services.mapping import templates as lab_templates
from forgea_cli.services.sessions import repo_names
from forgea_cli.services.sessions.idempotency import (
    LEASE_SECONDS,
    CreateRequest,
    RecoveryPoint,
    check_key,
    default_key,
    is_abandoned,
    is_retired,
    lease_is_live,
    supersedes,
)
from forgea_cli.services.sessions.users import UserRow, resolve_user
from forgea_cli.urls import RepoRef, RepoUrlRejected, canonical_repo_url, parse_repo_url

BACKFILL_HINT = "run `forgea backfill lab-versions` (it creates each lab's current version)"


# -- what is asked, and what it resolves to --------------------------------------------------------


@dataclass(frozen=True)
class CreationConfig:
    org: str | None
    repo_prefix: str
    actor: str
    web_host: str = "https://github.com"
    lease_seconds: float = LEASE_SECONDS

    @classmethod
    def from_settings(cls, settings: Any) -> CreationConfig:
        return cls(
            org=settings.github_org,
            repo_prefix=settings.repo_prefix,
            actor=settings.actor,
            web_host=settings.github_web_url,
        )


@dataclass(frozen=True)
class CreateSpec:
    """One creation as the operator spelled it: user id or email, lab id, optional version name."""

    user: str
    lab: str
    lab_version: str | None = None
    fork_url: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Plan:
    user: UserRow
    lab: LabRow
    version: LabVersionRow
    template: RepoRef
    fork: RepoRef | None
    key: str
    request: CreateRequest

    def repo_name(self, config: CreationConfig, planned_session_id: uuid.UUID) -> str:
        lab = repo_names.lab_part(self.template.name, self.lab.title)
        return repo_names.session_repo_name(config.repo_prefix, lab, planned_session_id)


def resolve_lab(work: UnitOfWork, lab_ref: str, version_ref: str | None) -> tuple[LabRow, LabVersionRow]:
    conn = work.connection
    lab_id = uuid_or_none(lab_ref)
    if lab_id is None:
        raise InvalidInput(f"--lab takes a lab id (a UUID), not {lab_ref!r}")
    lab = sessions_db.find_lab(conn, lab_id)
    if lab is None:
        raise NotFound(f"no lab with id {lab_id}")
    if version_ref is not None:
        version = sessions_db.find_lab_version(conn, lab.id, version_ref)
        if version is None:
            raise NotFound(f"lab {lab.id} has no version {version_ref!r}", hint=BACKFILL_HINT)
        return lab, version
    version = sessions_db.find_lab_version(conn, lab.id, lab.repo_version)
    if version is None:
        raise DataNotReady(
            f"lab {lab.id} has no LabVersion row for its current version {lab.repo_version!r}",
            hint=BACKFILL_HINT,
        )
    return lab, version


def plan_for(
    work: UnitOfWork,
    config: CreationConfig,
    user: UserRow,
    lab: LabRow,
    version: LabVersionRow,
    *,
    fork_url: str | None = None,
    key: str | None = None,
) -> Plan:
    template = template_of(config, lab, version)
    fork = parse_repo_url(fork_url, config.web_host) if fork_url is not None else None
    if fork is not None:
        refuse_template_fork(work, fork, config.web_host)
    if fork is None and not config.org:
        raise InvalidInput("FORGEA_GITHUB_ORG is not set: it names the org that receives new repositories")
    request = CreateRequest(user.id, lab.id, version.id, fork.canonical_url if fork else None)
    return Plan(
        user=user,
        lab=lab,
        version=version,
        template=template,
        fork=fork,
        key=check_key(key) if key is not None else default_key(user.id, version.id),
        request=request,
    )


def refuse_template_fork(work: UnitOfWork, fork: RepoRef, web_host: str) -> None:
    """A lab's template is never a student's repository (DESIGN §3): binding one is bad input."""
    templates = lab_templates.templates_of(work.connection, fork.canonical_url, web_host=web_host)
    if templates:
        raise InvalidInput(
            f"--fork-url {fork.canonical_url} is a lab's template repository "
            f"({lab_templates.describe_all(templates)}), never a student's: give the student's own repository"
        )


def template_of(config: CreationConfig, lab: LabRow, version: LabVersionRow) -> RepoRef:
    try:
        return parse_repo_url(version.template_repo_url, config.web_host)
    except RepoUrlRejected as rejected:
        raise OperationFailed(
            f"lab version {version.version} of lab {lab.id} has no usable template URL: {rejected.message}"
        ) from None


def plan_session(uow: UnitOfWorkFactory, config: CreationConfig, spec: CreateSpec) -> Plan:
    """Resolve a creation as the operator spelled it (one read-only unit of work)."""
    with uow(read_only=True) as work:
        return resolve_plan(work, config, spec)


def resolve_plan(work: UnitOfWork, config: CreationConfig, spec: CreateSpec) -> Plan:
    lab, version = resolve_lab(work, spec.lab, spec.lab_version)
    user = resolve_user(work, spec.user)
    return plan_for(work, config, user, lab, version, fork_url=spec.fork_url, key=spec.idempotency_key)


def plan_from_key(work: UnitOfWork, config: CreationConfig, row: KeyRow) -> Plan:
    """The plan a stored key stands for (resume, abandon): ids from requestParams, same hash."""
    request = CreateRequest.from_params(row.request_params)
    lab, version = resolve_lab(work, str(request.lab_id), str(request.lab_version_id))
    user = resolve_user(work, str(request.user_id))
    return plan_for(work, config, user, lab, version, fork_url=request.fork_url, key=row.key)


def create_dry_run(
    uow: UnitOfWorkFactory, gateway: GitHubGateway, config: CreationConfig, spec: CreateSpec
) -> dict[str, Any]:
    """Everything a real run would resolve and check, with no write to the database or GitHub."""
    plan = plan_session(uow, config, spec)
    if gateway.get_repo(plan.template.full_name) is None:
        raise GitHubNotFound(f"the template {plan.template.full_name} is not visible to the token")
    if plan.fork is not None and gateway.get_repo(plan.fork.full_name) is None:
        raise GitHubNotFound(f"the repository {plan.fork.full_name} does not exist or is not visible")
    verdict = preview(uow, gateway, config, plan, check_fork=False)
    return {
        "dryRun": True,
        "idempotencyKey": plan.key,
        "user": {"id": str(plan.user.id), "email": plan.user.email},
        "lab": {"id": str(plan.lab.id), "title": plan.lab.title},
        "labVersion": {"id": str(plan.version.id), "version": plan.version.version},
        "template": plan.template.full_name,
        "templateVisible": True,
        "repo": _planned_repo(config, plan, verdict.planned_session_id),
        "activeSessionId": str(verdict.active_session_id) if verdict.active_session_id else None,
        "action": verdict.action,
        "wouldDo": verdict.would_do,
    }


def _planned_repo(config: CreationConfig, plan: Plan, planned: uuid.UUID | None) -> str:
    if plan.fork is not None:
        return plan.fork.full_name
    name = plan.repo_name(config, planned or uuid.UUID(int=0))
    if planned is None:
        name = name[: -repo_names.SHORT_ID_LENGTH] + "<short id>"
    return f"{config.org}/{name}"


# -- what a real run would do with a plan (the dry runs of one student and of a roster) ------------


@dataclass(frozen=True)
class Verdict:
    """What `session create` would do with a plan, decided by the checks a real run makes, in its
    order: the key (mismatch, replay, a live lease; a closed key is superseded), then the student's
    active session, then a --fork-url repository (visible, not bound to another session)."""

    action: str  # create | retry | continue | replay | refuse
    would_do: str  # one sentence for people
    error: str | None = None  # refuse: the error class the real run raises (its exit code)
    session_id: uuid.UUID | None = None  # replay: the session created earlier
    active_session_id: uuid.UUID | None = None
    planned_session_id: uuid.UUID | None = None  # the planned id the run would keep, if any

    @property
    def refused(self) -> bool:
        return self.action == "refuse"


def preview(
    uow: UnitOfWorkFactory,
    gateway: GitHubGateway,
    config: CreationConfig,
    plan: Plan,
    *,
    check_fork: bool = True,
) -> Verdict:
    """The verdict of a real run on ``plan`` now, with nothing written (reads and GitHub GETs)."""
    with uow(read_only=True) as work:
        conn = work.connection
        existing = keys_db.find(conn, config.actor, plan.key)
        active = sessions_db.active_session_of(conn, plan.user.id, plan.lab.id)
        now = keys_db.database_now(conn)
    verdict = key_verdict(plan, existing, active, now, config.lease_seconds)
    if verdict is not None or active is not None:
        return verdict or _refuse(
            f"refuse: the student already has an active session {active} for this lab (exit 4)",
            "ActiveSessionExists",
            active=active,
        )
    if plan.fork is not None:
        fork = _fork_verdict(uow, gateway, config, plan, check_fork)
        if fork is not None:
            return fork
    kept = existing if existing is not None and not supersedes(existing, plan.request) else None
    if kept is not None and kept.recovery_point == RecoveryPoint.FAILED:
        return Verdict(
            "retry",
            f"retry the failed key (it failed with {kept.error_code})",
            planned_session_id=kept.planned_session_id,
        )
    if kept is not None:
        return Verdict(
            "continue",
            f"continue the key from {kept.recovery_point}",
            planned_session_id=kept.planned_session_id,
        )
    if existing is not None:
        return Verdict(
            "create",
            f"retire the closed key ({_closed_reason(existing)}) and create the repository and the session",
        )
    return Verdict("create", "create the repository and the session")


def key_verdict(
    plan: Plan, existing: KeyRow | None, active: uuid.UUID | None, now: datetime, lease_seconds: float
) -> Verdict | None:
    """What the key alone decides (start()'s checks), or None when the run would go on."""
    if existing is None or supersedes(existing, plan.request):
        return None
    if existing.request_hash != plan.request.request_hash():
        return _refuse("refuse: the key was used for a different request (exit 4)", "IdempotencyMismatch")
    if existing.recovery_point == RecoveryPoint.FINISHED:
        return Verdict(
            "replay",
            f"replay the stored result (session {existing.lab_session_id})",
            session_id=existing.lab_session_id,
            active_session_id=active,
            planned_session_id=existing.planned_session_id,
        )
    if is_abandoned(existing.error_code, existing.result) or is_retired(existing.result):
        return _refuse("refuse: the key was abandoned (exit 4)", "KeyAbandoned")
    if lease_is_live(existing.locked_at, now, lease_seconds):
        return _refuse("refuse: a running command holds the key (exit 4, in progress)", "InProgress")
    return None


def _fork_verdict(
    uow: UnitOfWorkFactory, gateway: GitHubGateway, config: CreationConfig, plan: Plan, check: bool
) -> Verdict | None:
    assert plan.fork is not None
    if not check:
        return None
    repo = gateway.get_repo(plan.fork.full_name)
    if repo is None:
        return _refuse(
            f"refuse: {plan.fork.full_name} does not exist or is not visible (exit 5)", "ForkNotFound"
        )
    with uow(read_only=True) as work:
        owner = sessions_db.session_mapped_to(
            work.connection, repo_id=repo.id, canonical_url=canonical_repo_url(repo.html_url, config.web_host)
        )
    if owner is not None:
        return _refuse(
            f"refuse: {repo.full_name} is already bound to session {owner} (exit 4)", "RepoAlreadyMapped"
        )
    return None


def _refuse(would_do: str, error: str, *, active: uuid.UUID | None = None) -> Verdict:
    return Verdict("refuse", would_do, error=error, active_session_id=active)


def _closed_reason(row: KeyRow) -> str:
    if is_abandoned(row.error_code, row.result):
        return "abandoned"
    return f"failed with {row.error_code}, nothing created"
