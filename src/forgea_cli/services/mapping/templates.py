"""Is this repository a lab's template? The one answer for the whole tool (DESIGN §3).

A lab's template repository (``Lab.baseRepoUrl``, ``LabVersion.templateRepoUrl``, and by id
``LabVersion.templateRepoId``) is never a student's repository, even where a session names it as
its fork (Forgea's own seed does). The backfill reports such sessions as TEMPLATE_URL instead of
mapping them; the webhook lookup and ``session show`` answer "template of lab X" instead of a
session.

Every caller goes through :func:`templates_from_rows`, which canonicalises the stored spellings with
``forgea_cli.urls`` exactly as session URLs are canonicalised, so ``https://github.com/Org/Lab.git``
as a baseRepoUrl is the template ``https://github.com/org/lab``. The backfill builds the whole set
once per run (:func:`all_templates`); the lookup asks about one repository, in one query
(:func:`templates_of`).

A stored template URL that is not a repository on the configured web host (a typo, another host)
cannot name any repository a session or webhook names: it is ignored, and returned in
``Templates.ignored`` so the caller can say so.

The connection is that of the caller's unit of work (this module passes it to ``db.lab_templates``
untouched), so the question is asked inside the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from forgea_cli.db import lab_templates as sql
from forgea_cli.db.uow import Connection
from forgea_cli.urls import DEFAULT_WEB_HOST, RepoUrlRejected, parse_repo_url, redact_url

__all__ = ["IgnoredTemplate", "LabTemplate", "Templates", "all_templates", "templates_of"]


@dataclass(frozen=True)
class LabTemplate:
    """One lab version whose template repository is ``canonical_url`` (None: known by id only and its
    stored URL is not canonicalisable)."""

    lab_id: uuid.UUID
    lab_title: str
    version: str
    canonical_url: str | None
    sources: tuple[str, ...]
    repo_id: int | None = None

    def describe(self) -> str:
        return f"template of lab {self.lab_id} ({self.lab_title}), version {self.version}"

    def to_json(self) -> dict[str, Any]:
        return {
            "labId": str(self.lab_id),
            "labTitle": self.lab_title,
            "version": self.version,
            "canonicalUrl": self.canonical_url,
            "templateRepoId": self.repo_id,
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class IgnoredTemplate:
    """A stored template URL that names no repository: it matches nothing."""

    lab_id: uuid.UUID
    lab_title: str
    version: str
    source: str
    url: str  # masked
    reason: str
    detail: str

    def describe(self) -> str:
        return (
            f"{self.source} of lab {self.lab_id} ({self.lab_title}), version {self.version}, "
            f"is not a repository URL ({self.reason}: {self.detail}): ignored as a template"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "labId": str(self.lab_id),
            "labTitle": self.lab_title,
            "version": self.version,
            "source": self.source,
            "url": self.url,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass
class Templates:
    """Canonical template URL → the lab versions it is the template of (sorted), and what was ignored."""

    by_url: dict[str, tuple[LabTemplate, ...]] = field(default_factory=dict)
    ignored: tuple[IgnoredTemplate, ...] = ()

    def of(self, canonical_url: str) -> tuple[LabTemplate, ...]:
        return self.by_url.get(canonical_url, ())


def describe_all(templates: Iterable[LabTemplate]) -> str:
    """``template of lab A (…), version v1; template of lab B (…), version v2``."""
    return "; ".join(template.describe() for template in templates)


def templates_from_rows(rows: Iterable[sql.TemplateRow], web_host: str = DEFAULT_WEB_HOST) -> Templates:
    """The decision itself: canonicalise each stored template URL, group by canonical URL, one entry
    per (lab, version) however many columns name it; non-repository URLs go to ``ignored``."""
    grouped: dict[str, dict[tuple[uuid.UUID, str], LabTemplate]] = {}
    ignored: dict[tuple[uuid.UUID, str, str], IgnoredTemplate] = {}
    for row in rows:
        try:
            canonical = parse_repo_url(row.url, web_host).canonical_url
        except RepoUrlRejected as rejected:
            key = (row.lab_id, row.version, row.source)
            ignored.setdefault(
                key,
                IgnoredTemplate(
                    row.lab_id,
                    row.lab_title,
                    row.version,
                    row.source,
                    redact_url(row.url),
                    rejected.reason.value,
                    rejected.detail,
                ),
            )
            continue
        versions = grouped.setdefault(canonical, {})
        versions[(row.lab_id, row.version)] = _merged(versions.get((row.lab_id, row.version)), row, canonical)
    return Templates(
        {url: tuple(sorted(versions.values(), key=_order)) for url, versions in grouped.items()},
        tuple(sorted(ignored.values(), key=_order)),
    )


def _merged(known: LabTemplate | None, row: sql.TemplateRow, canonical: str | None) -> LabTemplate:
    if known is None:
        return LabTemplate(row.lab_id, row.lab_title, row.version, canonical, (row.source,), row.repo_id)
    sources = tuple(sorted({*known.sources, row.source}))
    return LabTemplate(
        known.lab_id,
        known.lab_title,
        known.version,
        known.canonical_url or canonical,
        sources,
        known.repo_id if known.repo_id is not None else row.repo_id,
    )


def _order(item: LabTemplate | IgnoredTemplate) -> tuple[str, str, str]:
    return (item.lab_title, str(item.lab_id), item.version)


def all_templates(connection: Connection, web_host: str = DEFAULT_WEB_HOST) -> Templates:
    """Every template of every lab and version, canonicalised once (the backfill's set)."""
    return templates_from_rows(sql.all_template_rows(connection), web_host)


def templates_of(
    connection: Connection,
    *canonical_urls: str,
    repo_id: int | None = None,
    web_host: str = DEFAULT_WEB_HOST,
) -> tuple[LabTemplate, ...]:
    """The lab versions whose template is one of these repositories, named by canonical URL or by
    GitHub repository id (``LabVersion.templateRepoId``); one query. Empty: no lab's template."""
    owner_names = [tuple(url.rsplit("/", 2)[1:]) for url in canonical_urls]
    rows = sql.template_rows_for(connection, owner_names, repo_id)
    by_url = templates_from_rows((row for row in rows if row.source != sql.TEMPLATE_REPO_ID), web_host)
    found: dict[tuple[uuid.UUID, str], LabTemplate] = {}
    for url in canonical_urls:
        for template in by_url.of(url):
            found.setdefault((template.lab_id, template.version), template)
    for row in rows:
        if row.source == sql.TEMPLATE_REPO_ID:  # an id names its repository whatever the URL says
            key = (row.lab_id, row.version)
            found[key] = _merged(found.get(key), row, _canonical_or_none(row.url, web_host))
    return tuple(sorted(found.values(), key=_order))


def _canonical_or_none(url: str, web_host: str) -> str | None:
    try:
        return parse_repo_url(url, web_host).canonical_url
    except RepoUrlRejected:
        return None
