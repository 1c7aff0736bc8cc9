"""Lab template repositories as stored: ``Lab.baseRepoUrl`` and every ``LabVersion.templateRepoUrl``.

The stored spellings are not canonical, so SQL cannot compare them with a canonical URL. These
queries only fetch candidate rows (all of them, or those whose text mentions an owner and a name);
``forgea_cli.services.lab_templates`` canonicalises them with ``forgea_cli.urls`` and decides.
Labs and versions are few (one row per lab version), so every query here is small.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Text,
    and_,
    bindparam,
    func,
    literal,
    select,
    union_all,
)

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


def _mentions(url: ColumnElement[str]) -> ColumnElement[bool]:
    lowered = func.lower(url)
    return and_(
        func.strpos(lowered, bindparam("owner", type_=Text)) > 0,
        func.strpos(lowered, bindparam("name", type_=Text)) > 0,
    )


# Built once (a webhook lookup asks it every time); a null owner/name or repo_id matches nothing.
_ONE_REPOSITORY = union_all(
    _base_repo_rows(_mentions(lab.c.baseRepoUrl)),
    _version_rows(_mentions(lab_version.c.templateRepoUrl)),
    _version_rows(
        lab_version.c.templateRepoId == bindparam("repo_id", type_=BigInteger), source=TEMPLATE_REPO_ID
    ),
)


def template_rows_for(
    connection: Connection, *, owner: str | None = None, name: str | None = None, repo_id: int | None = None
) -> list[TemplateRow]:
    """One statement for one repository: template references whose text mentions owner and name (a
    superset of those naming ``owner/name`` in any spelling; the caller confirms each with the
    canonicaliser), and lab versions whose ``templateRepoId`` is ``repo_id`` (source
    ``LabVersion.templateRepoId``)."""
    params = {
        "owner": owner.lower() if owner is not None and name is not None else None,
        "name": name.lower() if owner is not None and name is not None else None,
        "repo_id": repo_id,
    }
    return [TemplateRow(*row) for row in connection.execute(_ONE_REPOSITORY, params)]
