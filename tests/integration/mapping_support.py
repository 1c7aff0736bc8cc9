"""Helpers for the repo-mapping tests: legacy-style sessions (as the web app inserts them), mappings."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, text

T0 = datetime(2025, 3, 1, 12, 0, 0)


def add_user(connection: Connection) -> uuid.UUID:
    user_id = uuid.uuid4()
    connection.execute(
        text('INSERT INTO "User" (id, email) VALUES (:id, :email)'),
        {"id": user_id, "email": f"{user_id.hex}@example.edu"},
    )
    return user_id


def add_lab(
    connection: Connection,
    *,
    base: str = "https://github.com/forgea-labs/template",
    title: str = "Lab",
    version: str = "v1",
) -> uuid.UUID:
    lab_id = uuid.uuid4()
    connection.execute(
        text(
            'INSERT INTO "Lab" (id, title, epic, "sourceGithubIssueUrl", "repoVersion", "baseRepoUrl", '
            '"failureClass", constraints) VALUES (:id, :title, :epic, :issue, :version, :base, '
            "'RESOURCE_LEAK', '{}')"
        ),
        {
            "id": lab_id,
            "title": title,
            "epic": "epic",
            "issue": "https://github.com/forgea/labs/issues/1",
            "version": version,
            "base": base,
        },
    )
    return lab_id


def add_lab_version(
    connection: Connection, lab_id: uuid.UUID, version: str, template_url: str, *, repo_id: int | None = None
) -> uuid.UUID:
    """A version row the way `backfill lab-versions` or an instructor adds one (not the lab's current)."""
    return connection.execute(
        text(
            'INSERT INTO "LabVersion" ("labId", version, "templateRepoUrl", "templateRepoId") '
            "VALUES (:lab, :version, :url, :repo_id) RETURNING id"
        ),
        {"lab": lab_id, "version": version, "url": template_url, "repo_id": repo_id},
    ).scalar_one()


def add_session(
    connection: Connection,
    url: str,
    *,
    status: str = "IN_PROGRESS",
    last_activity: datetime = T0,
    session_id: uuid.UUID | None = None,
    lab_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Insert the way the web app does (IN_PROGRESS, legacy columns only), then move the status.

    Every session gets its own student, so any number of them may be active on one lab.
    """
    session_id = session_id or uuid.uuid4()
    connection.execute(
        text(
            'INSERT INTO "LabSession" (id, "userId", "labId", "userForkUrl", "lastActivityAt") '
            "VALUES (:id, :user, :lab, :url, :at)"
        ),
        {
            "id": session_id,
            "user": add_user(connection),
            "lab": lab_id or add_lab(connection),
            "url": url,
            "at": last_activity,
        },
    )
    if status == "VERIFIED_PASS":
        connection.execute(
            text(
                'INSERT INTO "VerificationLog" (id, "sessionId", "commitSha", "prDiff", "ciOutput") '
                "VALUES (:id, :session, 'abc123', 'diff', 'ok')"
            ),
            {"id": uuid.uuid4(), "session": session_id},
        )
    if status != "IN_PROGRESS":
        connection.execute(
            text('UPDATE "LabSession" SET status = :status WHERE id = :id'),
            {"status": status, "id": session_id},
        )
    return session_id


def add_sessions_bulk(
    connection: Connection, count: int, url_pattern: str, lab_id: uuid.UUID | None = None
) -> None:
    """``count`` IN_PROGRESS sessions, one student each; ``url_pattern`` has ``{i}`` (SQL-side)."""
    lab_id = lab_id or add_lab(connection)
    connection.execute(
        text(
            "INSERT INTO \"User\" (id, email) SELECT md5('u' || i || :salt)::uuid, "
            "'bulk' || i || :salt || '@example.edu' FROM generate_series(1, :n) i"
        ),
        {"n": count, "salt": lab_id.hex},
    )
    connection.execute(
        text(
            'INSERT INTO "LabSession" (id, "userId", "labId", "userForkUrl", "lastActivityAt") '
            "SELECT md5('s' || i || :salt)::uuid, md5('u' || i || :salt)::uuid, :lab, "
            "replace(:pattern, '{i}', i::text), :at + i * interval '1 second' "
            "FROM generate_series(1, :n) i"
        ),
        {"n": count, "salt": lab_id.hex, "lab": lab_id, "pattern": url_pattern, "at": T0},
    )


def add_mapping(
    connection: Connection,
    session_id: uuid.UUID,
    canonical_url: str,
    *,
    repo_id: int | None = None,
    source: str = "CREATED",
) -> uuid.UUID:
    owner, name = canonical_url.rsplit("/", 2)[1:]
    mapping_id = uuid.uuid4()
    connection.execute(
        text(
            'INSERT INTO "GitHubRepoMapping" (id, "labSessionId", "providerRepoId", owner, name, '
            '"canonicalUrl", resolution, source, "htmlUrl") '
            "VALUES (:id, :session, :repo_id, :owner, :name, :url, "
            'CAST(:resolution AS "RepoResolution"), CAST(:source AS "RepoMappingSource"), :html)'
        ),
        {
            "id": mapping_id,
            "session": session_id,
            "repo_id": repo_id,
            "owner": owner,
            "name": name,
            "url": canonical_url,
            "resolution": "RESOLVED" if repo_id is not None else "PENDING",
            "source": source,
            "html": canonical_url if repo_id is not None else None,
        },
    )
    return mapping_id


def mappings_by_session(engine: Engine) -> dict[uuid.UUID, dict]:
    with engine.connect() as connection:
        rows = connection.execute(text('SELECT * FROM "GitHubRepoMapping"')).mappings().all()
    return {row["labSessionId"]: dict(row) for row in rows}


def session_urls(engine: Engine) -> dict[uuid.UUID, str]:
    with engine.connect() as connection:
        return dict(connection.execute(text('SELECT id, "userForkUrl" FROM "LabSession"')).all())


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)
