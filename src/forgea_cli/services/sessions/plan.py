"""What a session creation asks for, resolved: student, lab, lab version, template, key, request.

Reads only. `create_dry_run` is everything a real run resolves and checks, with nothing written to
the database or GitHub. The helpers taking ``work`` read through a unit of work the caller opened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
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
)
from forgea_cli.services.sessions.users import UserRow, resolve_user
from forgea_cli.urls import RepoRef, RepoUrlRejected, parse_repo_url

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
    with uow(read_only=True) as work:
        plan = resolve_plan(work, config, spec)
        existing = keys_db.find(work.connection, config.actor, plan.key)
        active = sessions_db.active_session_of(work.connection, plan.user.id, plan.lab.id)
    if gateway.get_repo(plan.template.full_name) is None:
        raise GitHubNotFound(f"the template {plan.template.full_name} is not visible to the token")
    if plan.fork is not None and gateway.get_repo(plan.fork.full_name) is None:
        raise GitHubNotFound(f"the repository {plan.fork.full_name} does not exist or is not visible")
    planned = existing.planned_session_id if existing else None
    return {
        "dryRun": True,
        "idempotencyKey": plan.key,
        "user": {"id": str(plan.user.id), "email": plan.user.email},
        "lab": {"id": str(plan.lab.id), "title": plan.lab.title},
        "labVersion": {"id": str(plan.version.id), "version": plan.version.version},
        "template": plan.template.full_name,
        "templateVisible": True,
        "repo": _planned_repo(config, plan, planned),
        "activeSessionId": str(active) if active else None,
        "wouldDo": _would_do(plan, existing, active),
    }


def _planned_repo(config: CreationConfig, plan: Plan, planned: uuid.UUID | None) -> str:
    if plan.fork is not None:
        return plan.fork.full_name
    name = plan.repo_name(config, planned or uuid.UUID(int=0))
    if planned is None:
        name = name[: -repo_names.SHORT_ID_LENGTH] + "<short id>"
    return f"{config.org}/{name}"


def _would_do(plan: Plan, existing: KeyRow | None, active: uuid.UUID | None) -> str:
    if existing is not None and existing.request_hash != plan.request.request_hash():
        return "refuse: the key was used for a different request (exit 4)"
    if existing is not None and existing.recovery_point == RecoveryPoint.FINISHED:
        return f"replay the stored result (session {existing.lab_session_id})"
    if existing is not None and is_abandoned(existing.error_code, existing.result):
        return "refuse: the key was abandoned (exit 4)"
    if active is not None:
        return f"refuse: the student already has an active session {active} for this lab (exit 4)"
    if existing is not None and existing.recovery_point == RecoveryPoint.FAILED:
        return f"retry the failed key (it failed with {existing.error_code})"
    if existing is not None:
        return f"continue the key from {existing.recovery_point}"
    return "create the repository and the session"
