"""Read-only views of sessions: `session show` (one, with its history) and `session list`."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from forgea_cli import lifecycle
from forgea_cli.db import mapping_queries, session_creation, session_listing, session_queries, webhook_queries
from forgea_cli.db.uow import UnitOfWork, UnitOfWorkFactory
from forgea_cli.errors import InvalidInput, NotFound
from forgea_cli.identifiers import parse_uuid
from forgea_cli.services.mapping import templates as lab_templates
from forgea_cli.services.sessions.users import resolve_user
from forgea_cli.urls import canonical_repo_url


def find_session_id(
    uow: UnitOfWorkFactory,
    *,
    session_id: str | None = None,
    repo_id: int | None = None,
    repo_url: str | None = None,
    web_host: str = "github.com",
) -> uuid.UUID:
    """Exactly one of the three names a session; a URL goes through the mapping, then the legacy match.

    A lab's template repository names no session (as in `mapping lookup`), even where a legacy
    session gives it as its fork: NotFound saying whose template it is."""
    given = [v is not None for v in (session_id, repo_id, repo_url)]
    if sum(given) != 1:
        raise InvalidInput("name the session by exactly one of: ID, --repo-id, --repo-url")
    if session_id is not None:
        return parse_session_id(session_id)
    with uow(read_only=True) as work:
        if repo_id is not None:
            mapping = mapping_queries.mapping_by_repo_id(work.connection, repo_id)
            urls = (mapping["canonicalUrl"],) if mapping is not None else ()
            _refuse_template(work, f"GitHub repository id {repo_id}", web_host, *urls, repo_id=repo_id)
            if mapping is None:
                raise NotFound(f"no session is mapped to GitHub repository id {repo_id}")
            return mapping["labSessionId"]
        assert repo_url is not None
        return _by_url(work, repo_url, web_host)


def _by_url(work: UnitOfWork, repo_url: str, web_host: str) -> uuid.UUID:
    connection = work.connection
    canonical = canonical_repo_url(repo_url, web_host)
    _refuse_template(work, canonical, web_host, canonical)
    mapping = mapping_queries.mapping_by_canonical_url(connection, canonical, unbound_only=False)
    if mapping is not None:
        return mapping["labSessionId"]
    legacy = session_queries.session_ids_by_fork_url(connection, repo_url.strip())
    if len(legacy) == 1:
        return legacy[0]
    if legacy:
        raise InvalidInput(f"{len(legacy)} sessions have userForkUrl {repo_url!r}; name one by its ID")
    raise NotFound(f"no session is bound to {canonical}")


def _refuse_template(
    work: UnitOfWork, what: str, web_host: str, *canonical_urls: str, repo_id: int | None = None
) -> None:
    templates = lab_templates.templates_of(
        work.connection, *canonical_urls, repo_id=repo_id, web_host=web_host
    )
    if templates:
        raise NotFound(
            f"{what} is a lab's template repository ({lab_templates.describe_all(templates)}), "
            "never a student's: no session belongs to it",
            hint="name the session by its ID (`forgea session show ID`)",
        )


def parse_session_id(text: str) -> uuid.UUID:
    return parse_uuid(text, "session id")


def show_session(uow: UnitOfWorkFactory, session_id: uuid.UUID) -> dict[str, Any]:
    with uow(read_only=True) as work:
        connection = work.connection
        detail = session_queries.session_detail(connection, session_id)
        if detail is None:
            raise NotFound(f"no lab session {session_id}")
        state = session_queries.load_state(connection, session_id)
        assert state is not None
        facts = session_queries.load_facts(connection, state)
        return {
            "session": detail,
            "next": _next_statuses(state.status, facts),
            "mapping": session_queries.session_mapping(connection, session_id),
            "attempts": session_queries.session_attempts(connection, session_id),
            "audit": session_queries.session_audit(connection, session_id),
            "deliveries": webhook_queries.session_deliveries(connection, session_id),
        }


def _next_statuses(current: lifecycle.Status, facts: lifecycle.Facts) -> list[dict[str, str]]:
    """What `session transition` would do for each other status, judged by the lifecycle module."""
    return [
        {"to": str(target), "outcome": str(lifecycle.judge(current, target, facts))}
        for target in lifecycle.Status
        if target != current
    ]


def list_sessions(
    uow: UnitOfWorkFactory,
    *,
    statuses: tuple[lifecycle.Status, ...] = (),
    lab_id: str | None = None,
    user: str | None = None,
    idle_for: timedelta | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """``user``: an id or an email, resolved as `session create` resolves it (ambiguity refused);
    an unknown ``user`` or ``lab_id`` is NotFound (exit 3), not an empty listing."""
    lab = parse_uuid(lab_id, "lab id") if lab_id else None
    with uow(read_only=True) as work:
        if lab is not None and session_creation.find_lab(work.connection, lab) is None:
            raise NotFound(f"no lab with id {lab}", hint="`forgea lab list` shows the labs and their ids")
        filters = session_listing.SessionFilters(
            statuses=tuple(str(s) for s in statuses),
            lab_id=lab,
            user_id=resolve_user(work, user).id if user is not None else None,
            idle_for=idle_for,
            limit=limit,
        )
        return session_listing.list_sessions(work.connection, filters)
