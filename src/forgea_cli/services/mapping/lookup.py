"""The webhook lookup (DESIGN §3): which session a pushed repository belongs to.

1. ``repository.id`` = providerRepoId — survives renames and transfers;
2. else canonicalUrl = canonical(``repository.html_url``) on a mapping whose providerRepoId is still
   null; with ``bind=True`` the id is bound in the same transaction (a compare-and-set, so of two
   concurrent binders exactly one binds and the other then matches by rule 1);
3. else, until the backfill is complete, canonical(userForkUrl) among active sessions without a
   mapping (the backfill's winner rule picks one when several share the URL).

Without a repository id (``forgea mapping lookup --url``) nothing can contradict a bound mapping, so
rule 2 also reports a mapping whose id is already bound, with that id.

Before any rule, a lab's template repository is recognised (``services.mapping.templates``): by its
canonical URL, by ``LabVersion.templateRepoId``, or as the URL of the mapping rule 1 finds. The
answer is then "template of lab X, version V" (``templates``), never a session, even where a legacy
session names the template as its fork.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from forgea_cli.db import mapping_queries as q
from forgea_cli.db.uow import Connection, UnitOfWork, UnitOfWorkFactory
from forgea_cli.errors import InvalidInput
from forgea_cli.services.mapping import templates as lab_templates
from forgea_cli.urls import DEFAULT_WEB_HOST, RepoUrlRejected, canonical_repo_url

RULES = {
    1: "repository id (providerRepoId)",
    2: "canonical URL of a mapping",
    3: "canonical userForkUrl of an active session without a mapping",
}


@dataclass
class LookupResult:
    rule: int | None
    canonical_url: str | None = None
    session: dict[str, Any] | None = None
    mapping: dict[str, Any] | None = None
    would_bind: bool = False  # rule 2 on an unbound mapping: a webhook would bind its repository id
    bound: bool = False  # this call bound it (bind=True)
    candidates: int = 0  # rule 3: active sessions sharing the URL
    notes: list[str] = field(default_factory=list)
    templates: tuple[lab_templates.LabTemplate, ...] = ()  # the repository is a lab's template

    @property
    def matched(self) -> bool:
        return self.rule is not None

    @property
    def template(self) -> lab_templates.LabTemplate | None:
        return self.templates[0] if self.templates else None

    def to_json(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "rule": self.rule,
            "ruleName": RULES.get(self.rule) if self.rule else None,
            "canonicalUrl": self.canonical_url,
            "wouldBind": self.would_bind,
            "bound": self.bound,
            "candidates": self.candidates,
            "session": self.session,
            "mapping": self.mapping,
            "template": self.template.to_json() if self.template else None,
            "templates": [template.to_json() for template in self.templates],
            "notes": self.notes,
        }


def lookup_repo(
    uow: UnitOfWorkFactory,
    *,
    repo_id: int | None = None,
    html_url: str | None = None,
    bind: bool = False,
    web_host: str = DEFAULT_WEB_HOST,
) -> LookupResult:
    """Read-only unless ``bind``; ``bind`` needs both the repository id and its html_url."""
    _check_arguments(repo_id, html_url, bind)
    with uow(read_only=not bind) as unit:
        result = _lookup(unit.connection, repo_id, html_url, bind, web_host)
        if bind:
            unit.commit()
    return result


def lookup_in(
    work: UnitOfWork,
    *,
    repo_id: int | None = None,
    html_url: str | None = None,
    bind: bool = False,
    web_host: str = DEFAULT_WEB_HOST,
) -> LookupResult:
    """The same lookup inside a unit of work the caller holds (a webhook binds and applies in one
    transaction); the caller commits."""
    _check_arguments(repo_id, html_url, bind)
    return _lookup(work.connection, repo_id, html_url, bind, web_host)


def _check_arguments(repo_id: int | None, html_url: str | None, bind: bool) -> None:
    if repo_id is None and html_url is None:
        raise InvalidInput("give a repository id, a repository URL, or both")
    if repo_id is not None and repo_id < 1:
        raise InvalidInput(f"a GitHub repository id is a positive integer, not {repo_id}")
    if bind and (repo_id is None or html_url is None):
        raise InvalidInput("binding needs both the repository id and its html_url")


def _lookup(
    connection: Connection, repo_id: int | None, html_url: str | None, bind: bool, web_host: str
) -> LookupResult:
    canonical = canonical_repo_url(html_url, web_host) if html_url is not None else None
    by_id = q.mapping_by_repo_id(connection, repo_id) if repo_id is not None else None
    # Rule 0: the repository's URL, its id, or the URL of the mapping its id finds, names a template.
    urls = {url for url in (canonical, by_id["canonicalUrl"] if by_id else None) if url is not None}
    templates = lab_templates.templates_of(connection, *sorted(urls), repo_id=repo_id, web_host=web_host)
    if templates:
        if by_id is None and canonical is not None:
            by_id = q.mapping_by_canonical_url(connection, canonical, unbound_only=False)
        return _template(canonical, templates, by_id)
    if by_id is not None:
        return _from_mapping(1, by_id)
    if canonical is None:
        return LookupResult(None)
    row = q.mapping_by_canonical_url(connection, canonical, unbound_only=repo_id is not None)
    if row is not None and (result := _rule_two(connection, row, canonical, repo_id, html_url, bind)):
        return result
    return _rule_three(connection, canonical, web_host)


def _template(
    canonical: str | None,
    templates: tuple[lab_templates.LabTemplate, ...],
    mapped_by: Mapping[str, Any] | None = None,
) -> LookupResult:
    """No session: the repository is a lab's template (rules 1 to 3 are not asked)."""
    result = LookupResult(None, canonical or templates[0].canonical_url, templates=templates)
    result.notes.append("a lab's template repository is never a student's: no session belongs to it")
    if mapped_by is not None:
        result.notes.append(
            f"mapping {mapped_by['id']} binds this template to session {mapped_by['labSessionId']}: "
            "it is never used; delete it (see docs/mapping.md, Lab templates)"
        )
    return result


def _rule_two(
    connection: Connection,
    row: Mapping[str, Any],
    canonical: str,
    repo_id: int | None,
    html_url: str,
    bind: bool,
) -> LookupResult | None:
    """None when a concurrent binder took the mapping for another repository: go on to rule 3."""
    result = _from_mapping(2, row, canonical)
    if row["providerRepoId"] is not None:
        result.notes.append(
            f"the mapping is already bound to repository id {row['providerRepoId']}: webhooks match it "
            "by rule 1, and a repository with another id at this URL would not match"
        )
        return result
    result.would_bind = True
    if bind and repo_id is not None:
        if q.bind_repo_id(connection, canonical, repo_id, html_url) is None:
            # A concurrent binder won (this URL, or this id elsewhere): rule 1 decides now.
            retry = q.mapping_by_repo_id(connection, repo_id)
            return _from_mapping(1, retry) if retry is not None else None
        result.bound, result.would_bind = True, False
        result.mapping = {**(result.mapping or {}), "providerRepoId": repo_id, "resolution": "RESOLVED"}
    return result


def _rule_three(connection: Connection, canonical: str, web_host: str) -> LookupResult:
    owner, name = canonical.rsplit("/", 2)[1:]
    matches = [
        row
        for row in q.unmapped_active_sessions_like(connection, owner, name)
        if _canonical_or_none(row["userForkUrl"], web_host) == canonical
    ]
    if not matches:
        return LookupResult(None, canonical)
    result = LookupResult(3, canonical, session=_session(matches[0]), candidates=len(matches))
    if len(matches) > 1:
        result.notes.append(
            f"{len(matches)} active sessions share this URL; the most recently active one is shown "
            "(the backfill reports the others as DUPLICATE_URL)"
        )
    return result


def _canonical_or_none(url: str, web_host: str) -> str | None:
    try:
        return canonical_repo_url(url, web_host)
    except RepoUrlRejected:
        return None


def _from_mapping(rule: int, row: Mapping[str, Any], canonical: str | None = None) -> LookupResult:
    mapping = {
        "id": str(row["id"]),
        "providerRepoId": row["providerRepoId"],
        "owner": row["owner"],
        "name": row["name"],
        "canonicalUrl": row["canonicalUrl"],
        "htmlUrl": row["htmlUrl"],
        "resolution": row["resolution"],
        "source": row["source"],
    }
    session = {key.removeprefix("session_"): row[key] for key in row if key.startswith("session_")}
    return LookupResult(rule, canonical or row["canonicalUrl"], session=_session(session), mapping=mapping)


def _session(row: Any) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "userId": str(row["userId"]),
        "labId": str(row["labId"]),
        "status": row["status"],
        "userForkUrl": row["userForkUrl"],  # credentials redacted where it is shown (cli.output)
        "lastActivityAt": row["lastActivityAt"],
    }
