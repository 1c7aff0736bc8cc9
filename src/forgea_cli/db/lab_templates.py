"""Lab template repositories as stored: ``Lab.baseRepoUrl`` and every ``LabVersion.templateRepoUrl``.

The stored spellings are not canonical, so SQL cannot compare them with a canonical URL. These
queries only fetch candidate rows (all of them, or those whose text mentions an owner and a name, or
those with a given ``templateRepoId``);
``forgea_cli.services.mapping.templates`` canonicalises them with ``forgea_cli.urls`` and decides.
Labs and versions are few (one row per lab version), so every query here is small.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, literal, select, text, union_all

from forgea_cli.db.tables import lab, lab_version

BASE_REPO_URL = "Lab.baseRepoUrl"
TEMPLATE_REPO_URL = "LabVersion.templateRepoUrl"
TEMPLATE_REPO_ID = "LabVersion.templateRepoId"


@dataclass(frozen=True)
class TemplateRow:
    """One stored template reference: ``url`` as written; ``version`` is the lab's ``repoVersion``
    for ``Lab.baseRepoUrl`` (the template of the lab's current version)."""

    lab_id: uuid.UUID
    lab_title: str
    version: str
    source: str
    url: str
    repo_id: int | None


def _base_repo_rows(where: ColumnElement[bool] | None = None):
    current = and_(lab_version.c.labId == lab.c.id, lab_version.c.version == lab.c.repoVersion)
    query = select(
        lab.c.id,
        lab.c.title,
        lab.c.repoVersion,
        literal(BASE_REPO_URL),
        lab.c.baseRepoUrl,
        lab_version.c.templateRepoId,
    ).select_from(lab.outerjoin(lab_version, current))
    return query if where is None else query.where(where)


def _version_rows(where: ColumnElement[bool] | None = None, *, source: str = TEMPLATE_REPO_URL):
    query = select(
        lab_version.c.labId,
        lab.c.title,
        lab_version.c.version,
        literal(source),
        lab_version.c.templateRepoUrl,
        lab_version.c.templateRepoId,
    ).select_from(lab_version.join(lab, lab.c.id == lab_version.c.labId))
    return query if where is None else query.where(where)


def all_template_rows(connection: Connection) -> list[TemplateRow]:
    """Every template reference of every lab and version (the backfill reads them once per run)."""
    return [TemplateRow(*row) for row in connection.execute(union_all(_base_repo_rows(), _version_rows()))]


# One statement for a lookup (a webhook asks it every time): template references whose text
# mentions one of the (owner, name) pairs, and lab versions whose templateRepoId is the id. Empty
# arrays and a null id match nothing.
_MENTIONS = """EXISTS (SELECT 1 FROM unnest(CAST(:owners AS text[]), CAST(:names AS text[])) AS r(owner, name)
                       WHERE strpos(lower({url}), r.owner) > 0 AND strpos(lower({url}), r.name) > 0)"""
_FOR_REPOSITORIES = text(
    f"""
SELECT l.id, l.title, l."repoVersion", '{BASE_REPO_URL}', l."baseRepoUrl", v."templateRepoId"
FROM "Lab" l LEFT JOIN "LabVersion" v ON v."labId" = l.id AND v.version = l."repoVersion"
WHERE {_MENTIONS.format(url='l."baseRepoUrl"')}
UNION ALL
SELECT v."labId", l.title, v.version, '{TEMPLATE_REPO_URL}', v."templateRepoUrl", v."templateRepoId"
FROM "LabVersion" v JOIN "Lab" l ON l.id = v."labId"
WHERE {_MENTIONS.format(url='v."templateRepoUrl"')}
UNION ALL
SELECT v."labId", l.title, v.version, '{TEMPLATE_REPO_ID}', v."templateRepoUrl", v."templateRepoId"
FROM "LabVersion" v JOIN "Lab" l ON l.id = v."labId"
WHERE v."templateRepoId" = CAST(:repo_id AS bigint)
"""
)


def template_rows_for(
    connection: Connection, owner_names: Sequence[tuple[str, str]] = (), repo_id: int | None = None
) -> list[TemplateRow]:
    """Candidates for a few repositories: template references whose text mentions an owner and its
    name (a superset of those naming ``owner/name`` in any spelling; the caller confirms each with
    the canonicaliser), and lab versions whose ``templateRepoId`` is ``repo_id`` (source
    ``LabVersion.templateRepoId``)."""
    params = {
        "owners": [owner.lower() for owner, _ in owner_names],
        "names": [name.lower() for _, name in owner_names],
        "repo_id": repo_id,
    }
    return [TemplateRow(*row) for row in connection.execute(_FOR_REPOSITORIES, params)]
