"""Applying one delivery, at most once (DESIGN §11): decide, claim the ledger row, then the effects.

All in one transaction: the lookup (which may bind the repository id, rule 2), the ledger row
(``INSERT … ON CONFLICT DO NOTHING`` on the delivery id), and the effects. A delivery whose id the
ledger holds changes nothing and says so; a replay racing another replay of the same delivery waits
on the ledger's unique index and then changes nothing either. A dry run does all of it and rolls back.

- ``push``: the web app's route (``apps/webhook-route.ts``) after forgea's lookup order — a
  LAB_VERIFY_ATTEMPT audit row with the commit sha, and IN_PROGRESS/STUCK → IN_PROGRESS with
  lastActivityAt and one LAB_STATUS_TRANSITION row (reason ``github_webhook_push``). A push for no
  session, a lab's template, or a session that is not active is recorded and reported, not an error.
- ``repository`` renamed / transferred: the mapping found by repository id (else by the old URL)
  takes the new owner, name, canonicalUrl and htmlUrl; deleted: the mapping becomes NOT_FOUND.
- anything else (``ping``, other ``repository`` actions, other events): recorded, nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from forgea_cli.audit import ActorType, build_metadata
from forgea_cli.db import mapping_queries
from forgea_cli.db import webhook_queries as q
from forgea_cli.db.errors import UniqueViolation
from forgea_cli.db.uow import UnitOfWork, UnitOfWorkFactory
from forgea_cli.documents import iso
from forgea_cli.errors import ConcurrentUpdate, Conflict
from forgea_cli.lifecycle import ACTIVE
from forgea_cli.services.mapping.lookup import LookupResult, lookup_in
from forgea_cli.services.webhooks.saved import SavedDelivery
from forgea_cli.services.webhooks.signatures import SignatureStatus
from forgea_cli.urls import DEFAULT_WEB_HOST, RepoUrlRejected, parse_repo_url

PUSH_REASON = "github_webhook_push"  # the web app's route's reason, kept so both read alike
ACTIVE_NAMES = frozenset(str(s) for s in ACTIVE)


@dataclass
class DeliveryResult:
    """What one delivery did (or would do, in a dry run)."""

    source: str
    delivery_id: str
    event: str
    action: str | None
    form: str
    signature: str
    outcome: str | None = None
    duplicate: bool = False
    dry_run: bool = False
    rule: int | None = None
    bound: bool = False
    session: dict[str, Any] | None = None
    mapping: dict[str, Any] | None = None
    detail: str | None = None
    audit_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    previously: dict[str, Any] | None = None  # duplicates: what the ledger holds
    error: str | None = None  # a conflict that refused this delivery (nothing written)

    @classmethod
    def of(
        cls, delivery: SavedDelivery, signature: SignatureStatus, *, dry_run: bool, error: str | None = None
    ) -> DeliveryResult:
        """The result of ``delivery`` before anything is known of what it did."""
        return cls(
            source=delivery.source,
            delivery_id=delivery.delivery_id,
            event=delivery.event,
            action=delivery.action,
            form=str(delivery.form),
            signature=str(signature),
            dry_run=dry_run,
            error=error,
        )

    @property
    def applied(self) -> bool:
        return self.outcome is not None and not self.duplicate and self.error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.source,
            "deliveryId": self.delivery_id,
            "event": self.event,
            "action": self.action,
            "form": self.form,
            "signature": self.signature,
            "outcome": self.outcome,
            "duplicate": self.duplicate,
            "dryRun": self.dry_run,
            "rule": self.rule,
            "bound": self.bound,
            "session": self.session,
            "mapping": self.mapping,
            "detail": self.detail,
            "auditIds": self.audit_ids,
            "notes": self.notes,
            "previously": self.previously,
            "error": self.error,
        }


@dataclass
class _Plan:
    """The decision, made before the ledger row is claimed; ``effect`` runs after the claim."""

    outcome: str
    detail: str
    session_id: uuid.UUID | None = None
    effect: Callable[[UnitOfWork, DeliveryResult], None] | None = None


@dataclass(frozen=True)
class _Context:
    delivery: SavedDelivery
    actor_id: str
    web_host: str


def apply_delivery(
    uow: UnitOfWorkFactory,
    delivery: SavedDelivery,
    *,
    signature: SignatureStatus,
    actor_id: str,
    web_host: str = DEFAULT_WEB_HOST,
    dry_run: bool = False,
) -> DeliveryResult:
    result = DeliveryResult.of(delivery, signature, dry_run=dry_run)
    context = _Context(delivery, actor_id, web_host)
    with uow() as work:
        existing = q.recorded(work.connection, delivery.delivery_id)
        if existing is not None:
            return _duplicate(result, existing, delivery)
        plan = _plan(work, context, result)
        claimed = q.claim(work.connection, _ledger_row(context, plan, signature))
        if claimed is None:  # a concurrent replay of the same delivery committed first
            work.rollback()
            existing = q.recorded(work.connection, delivery.delivery_id)
            assert existing is not None
            return _duplicate(result, existing, delivery)
        result.outcome, result.detail = plan.outcome, plan.detail
        if plan.effect is not None:
            plan.effect(work, result)
        if not dry_run:
            work.commit()
    return result


def _duplicate(
    result: DeliveryResult, existing: Mapping[str, Any], delivery: SavedDelivery
) -> DeliveryResult:
    result.duplicate = True
    result.outcome = str(existing["outcome"])
    result.detail = "already in the ledger: nothing changed"
    result.previously = {
        "outcome": str(existing["outcome"]),
        "detail": existing["detail"],
        "labSessionId": str(existing["labSessionId"]) if existing["labSessionId"] else None,
        "appliedAt": iso(existing["appliedAt"]),
        "appliedBy": existing["appliedBy"],
    }
    if existing["payloadSha256"] != delivery.payload_sha256:
        result.notes.append(
            "this file's payload differs from the one applied under this delivery id; the ledger keeps "
            "the first (X-GitHub-Delivery is GitHub's, a different payload under it is not a redelivery)"
        )
    return result


def _ledger_row(context: _Context, plan: _Plan, signature: SignatureStatus) -> q.LedgerRow:
    delivery = context.delivery
    repository = _repository(delivery.payload)
    hook_id = delivery.hook_id if delivery.hook_id is not None else _int(delivery.payload.get("hook_id"))
    return q.LedgerRow(
        delivery_id=delivery.delivery_id,
        event=delivery.event,
        action=delivery.action,
        outcome=plan.outcome,
        payload_sha256=delivery.payload_sha256,
        applied_by=context.actor_id,
        hook_id=hook_id,
        provider_repo_id=_int(repository.get("id")),
        repo_full_name=_text(repository.get("full_name")),
        lab_session_id=plan.session_id,
        detail=plan.detail,
        commit_sha=_text(delivery.payload.get("after")) if delivery.event == "push" else None,
        signature_verified=signature is SignatureStatus.VERIFIED,
        delivered_at=delivery.delivered_at,
    )


# -- the decisions ------------------------------------------------------------------------------------------


def _plan(work: UnitOfWork, context: _Context, result: DeliveryResult) -> _Plan:
    event, action = context.delivery.event, context.delivery.action
    if event == "push":
        return _plan_push(work, context, result)
    if event == "repository" and action in ("renamed", "transferred"):
        return _plan_move(work, context, result)
    if event == "repository" and action == "deleted":
        return _plan_deleted(work, context, result)
    what = f"{event}.{action}" if action else event
    return _Plan("RECORDED", f"{what}: recorded, nothing else (forgea acts on push and repository moves)")


def _plan_push(work: UnitOfWork, context: _Context, result: DeliveryResult) -> _Plan:
    repo_id, html_url = _repository_ref(context, result)
    if repo_id is None and html_url is None:
        return _Plan("RECORDED", "push without a repository id or URL: nothing to look up")
    found = _lookup(work, context, result, repo_id=repo_id, html_url=html_url, bind=True)
    if (plan := _no_session(found, repo_id, html_url)) is not None:
        return plan
    session = found.session or {}
    session_id = uuid.UUID(session["id"])
    if session["status"] not in ACTIVE_NAMES:
        return _Plan(
            "SESSION_INACTIVE",
            f"session {session_id} is {session['status']}: the web app's route applies pushes to "
            "IN_PROGRESS and STUCK sessions only",
            session_id,
        )
    commit_sha = _text(context.delivery.payload.get("after")) or ""

    def effect(work: UnitOfWork, result: DeliveryResult) -> None:
        _apply_push(work, context, result, session_id, commit_sha)
        if found.rule == 3 and repo_id is not None and html_url is not None:
            _map_legacy_session(work, context, result, found, repo_id, html_url)

    detail = f"push {commit_sha[:12] or '(no sha)'} to session {session_id}"
    return _Plan("APPLIED", detail, session_id, effect)


def _apply_push(
    work: UnitOfWork, context: _Context, result: DeliveryResult, session_id: uuid.UUID, commit_sha: str
) -> None:
    common = {"labSessionId": str(session_id), "deliveryId": context.delivery.delivery_id}
    outcome = q.push_transition(
        work.connection,
        session_id=session_id,
        actor_id=context.actor_id,
        attempt_metadata=build_metadata(ActorType.SYSTEM, commitSha=commit_sha, **common),
        transition_metadata=build_metadata(
            ActorType.SYSTEM, toStatus="IN_PROGRESS", reason=PUSH_REASON, **common
        ),
    )
    if outcome is None or not outcome.changed:
        status = outcome.seen_status if outcome else "gone"
        raise ConcurrentUpdate(
            f"concurrent update: session {session_id} changed while delivery {context.delivery.delivery_id} "
            f"was applied (it is now {status}); nothing was written",
            hint="replay the delivery again: it is not in the ledger",
        )
    result.session = {**(result.session or {}), "from": outcome.seen_status, "to": "IN_PROGRESS"}
    result.audit_ids += [str(outcome.attempt_audit_id), str(outcome.transition_audit_id)]


def _plan_move(work: UnitOfWork, context: _Context, result: DeliveryResult) -> _Plan:
    payload = context.delivery.payload
    repository = _repository(payload)
    repo_id = _int(repository.get("id"))
    new_ref = _ref_or_none(_text(repository.get("html_url")), context.web_host)
    old_full_name = _old_full_name(payload)
    old_ref = _ref_or_none(
        f"https://{_host(context.web_host)}/{old_full_name}" if old_full_name else None, context.web_host
    )
    action = context.delivery.action
    if repo_id is None or new_ref is None:
        return _Plan(
            "RECORDED", f"repository.{action} without a repository id and a URL on {_host(context.web_host)}"
        )
    found = LookupResult(None)
    for ref in (old_ref, new_ref):  # by id first in each; then the old URL, then the new one
        found = _lookup(work, context, result, repo_id=repo_id, html_url=ref.canonical_url if ref else None)
        if found.matched or found.template is not None:
            break
    if (plan := _no_session(found, repo_id, new_ref.canonical_url)) is not None:
        return plan
    session_id = uuid.UUID((found.session or {})["id"])
    html_url = _text(repository.get("html_url")) or new_ref.canonical_url

    def effect(work: UnitOfWork, result: DeliveryResult) -> None:
        if found.mapping is not None:
            mapping_id = uuid.UUID(found.mapping["id"])
            _conflict_if_taken(
                work,
                new_ref.canonical_url,
                lambda: q.rename_mapping(
                    work.connection,
                    mapping_id,
                    repo_id=repo_id,
                    owner=new_ref.owner,
                    name=new_ref.name,
                    canonical_url=new_ref.canonical_url,
                    html_url=html_url,
                ),
            )
            result.mapping = {
                "id": str(mapping_id),
                "change": "renamed",
                "canonicalUrl": new_ref.canonical_url,
            }
        else:
            _map_legacy_session(work, context, result, found, repo_id, html_url, ref=new_ref)

    before = found.mapping["canonicalUrl"] if found.mapping else (old_ref.canonical_url if old_ref else "?")
    detail = f"repository {repo_id} {action}: {before} → {new_ref.canonical_url} (session {session_id})"
    return _Plan("MAPPING_UPDATED", detail, session_id, effect)


def _plan_deleted(work: UnitOfWork, context: _Context, result: DeliveryResult) -> _Plan:
    repo_id, html_url = _repository_ref(context, result)
    if repo_id is None and html_url is None:
        return _Plan("RECORDED", "repository.deleted without a repository id or URL")
    found = _lookup(work, context, result, repo_id=repo_id, html_url=html_url)
    if (plan := _no_session(found, repo_id, html_url)) is not None:
        return plan
    session = found.session or {}
    session_id = uuid.UUID(session["id"])

    def effect(work: UnitOfWork, result: DeliveryResult) -> None:
        if found.mapping is not None:
            mapping_id = uuid.UUID(found.mapping["id"])
            q.mark_not_found(work.connection, mapping_id)
            result.mapping = {"id": str(mapping_id), "change": "NOT_FOUND"}
        elif html_url is not None:
            _map_legacy_session(work, context, result, found, None, html_url)

    detail = (
        f"repository {repo_id if repo_id is not None else html_url} deleted: session {session_id} "
        f"({session['status']}) has no repository any more"
    )
    return _Plan("MAPPING_NOT_FOUND", detail, session_id, effect)


# -- shared steps --------------------------------------------------------------------------------------------


def _lookup(
    work: UnitOfWork,
    context: _Context,
    result: DeliveryResult,
    *,
    repo_id: int | None,
    html_url: str | None,
    bind: bool = False,
) -> LookupResult:
    found = lookup_in(
        work,
        repo_id=repo_id,
        html_url=html_url,
        bind=bind and repo_id is not None and html_url is not None,
        web_host=context.web_host,
    )
    result.rule, result.bound = found.rule, found.bound
    if found.session is not None:
        result.session = {"id": found.session["id"], "status": found.session["status"]}
    result.notes.extend(found.notes)
    return found


def _no_session(found: LookupResult, repo_id: int | None, html_url: str | None) -> _Plan | None:
    if found.template is not None:
        return _Plan(
            "TEMPLATE_REPOSITORY",
            f"{found.template.describe()}: a lab's template is never a student's repository",
        )
    if not found.matched:
        asked = " or ".join(
            part
            for part in (f"repository id {repo_id}" if repo_id is not None else "", html_url or "")
            if part
        )
        return _Plan("NO_SESSION", f"no session matches {asked}")
    return None


def _map_legacy_session(
    work: UnitOfWork,
    context: _Context,
    result: DeliveryResult,
    found: LookupResult,
    repo_id: int | None,
    html_url: str,
    *,
    ref: Any = None,
) -> None:
    """Rule 3 found a legacy session by its userForkUrl: give it a mapping (source WEBHOOK) so the
    next delivery finds it by id. Not when several sessions share the URL (never guessed), and not
    when a concurrent writer (the backfill) mapped it first."""
    if found.candidates != 1 or found.session is None:
        result.notes.append(f"{found.candidates} sessions share this URL: no mapping created (not guessed)")
        return
    ref = ref or _ref_or_none(html_url, context.web_host)
    if ref is None:
        return
    try:
        with work.savepoint():
            mapping_id = q.insert_webhook_mapping(
                work.connection,
                session_id=uuid.UUID(found.session["id"]),
                repo_id=repo_id,
                owner=ref.owner,
                name=ref.name,
                canonical_url=ref.canonical_url,
                html_url=html_url,
            )
    except UniqueViolation as exc:
        result.notes.append(f"no mapping created: another writer mapped it first ({exc.constraint})")
        return
    change = "created (WEBHOOK, RESOLVED)" if repo_id is not None else "created (WEBHOOK, NOT_FOUND)"
    result.mapping = {"id": str(mapping_id), "change": change, "canonicalUrl": ref.canonical_url}


def _conflict_if_taken(work: UnitOfWork, canonical_url: str, write: Callable[[], None]) -> None:
    try:
        with work.savepoint():
            write()
    except UniqueViolation:
        other = mapping_queries.mapping_by_canonical_url(work.connection, canonical_url, unbound_only=False)
        owner = f"mapping {other['id']} of session {other['labSessionId']}" if other else "another mapping"
        raise Conflict(
            f"{canonical_url} is already {owner}: the moved repository cannot take its URL; nothing written",
            hint="see `forgea mapping lookup --url` and docs/webhooks.md (a rename onto a mapped URL)",
        ) from None


def _repository_ref(context: _Context, result: DeliveryResult) -> tuple[int | None, str | None]:
    """The repository's id and, when it is a repository URL on the configured host, its html_url."""
    repository = _repository(context.delivery.payload)
    html_url = _text(repository.get("html_url"))
    if html_url is not None and _ref_or_none(html_url, context.web_host) is None:
        result.notes.append(
            f"repository.html_url {html_url!r} is not on {_host(context.web_host)}: by id only"
        )
        html_url = None
    return _int(repository.get("id")), html_url


def _old_full_name(payload: Mapping[str, Any]) -> str | None:
    changes = payload.get("changes") if isinstance(payload.get("changes"), dict) else {}
    repository = _repository(payload)
    name = _text(repository.get("name"))
    owner = (
        _text((repository.get("owner") or {}).get("login"))
        if isinstance(repository.get("owner"), dict)
        else None
    )
    renamed = ((changes.get("repository") or {}).get("name") or {}).get("from")
    if isinstance(renamed, str) and owner:
        return f"{owner}/{renamed}"
    previous = (changes.get("owner") or {}).get("from") or {}
    for kind in ("user", "organization"):
        login = (previous.get(kind) or {}).get("login") if isinstance(previous, dict) else None
        if isinstance(login, str) and name:
            return f"{login}/{name}"
    return None


def _ref_or_none(url: str | None, web_host: str):
    if url is None:
        return None
    try:
        return parse_repo_url(url, web_host)
    except RepoUrlRejected:
        return None


def _host(web_host: str) -> str:
    return web_host.split("://", 1)[-1].rstrip("/")


def _repository(payload: Mapping[str, Any]) -> dict[str, Any]:
    repository = payload.get("repository")
    return repository if isinstance(repository, dict) else {}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value) or None
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
