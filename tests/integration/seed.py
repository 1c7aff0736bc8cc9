"""Small, explicit seed data for integration tests (plain SQL through psycopg)."""

from __future__ import annotations

import uuid

import psycopg

from forgea_cli.db.engine import sqlalchemy_url

# Legal walk from IN_PROGRESS (the only status an insert may have) to each status.
WALKS = {
    "IN_PROGRESS": [],
    "STUCK": ["STUCK"],
    "DEFERRED": ["DEFERRED"],
    "VERIFIED_PASS": ["VERIFIED_PASS"],
}


def libpq(url: str) -> str:
    return sqlalchemy_url(url).replace("postgresql+psycopg://", "postgresql://")


def connect(url: str) -> psycopg.Connection:
    return psycopg.connect(libpq(url), autocommit=True)


def add_user(conn: psycopg.Connection, email: str | None = None) -> uuid.UUID:
    user_id = uuid.uuid4()
    conn.execute(
        'INSERT INTO "User" (id, email) VALUES (%s, %s)', (user_id, email or f"{user_id.hex[:10]}@test")
    )
    return user_id


def add_lab(conn: psycopg.Connection, template: str = "https://github.com/forgea-labs/template") -> uuid.UUID:
    lab_id = uuid.uuid4()
    conn.execute(
        'INSERT INTO "Lab" (id, title, epic, "sourceGithubIssueUrl", "repoVersion", "baseRepoUrl", '
        '"failureClass", constraints) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
        (
            lab_id,
            "Leaky cache",
            "e1",
            "https://github.com/forgea/labs/issues/1",
            "v1",
            template,
            "RESOURCE_LEAK",
            "{}",
        ),
    )
    return lab_id


def add_pass_attempt(conn: psycopg.Connection, session_id: uuid.UUID) -> None:
    conn.execute(
        'INSERT INTO "VerificationAttempt" ("labSessionId", "attemptNumber", "commitSha", result, '
        '"ciOutput") '
        "VALUES (%s, next_verification_attempt_number(%s), 'abc', 'PASS', 'ok')",
        (session_id, session_id),
    )


def add_session(
    conn: psycopg.Connection, user_id: uuid.UUID, lab_id: uuid.UUID, status: str = "IN_PROGRESS"
) -> uuid.UUID:
    session_id = uuid.uuid4()
    conn.execute(
        'INSERT INTO "LabSession" (id, "userId", "labId", "userForkUrl") VALUES (%s, %s, %s, %s)',
        (session_id, user_id, lab_id, f"https://github.com/student/{session_id.hex[:12]}"),
    )
    for step in WALKS[status]:
        if step == "VERIFIED_PASS":
            add_pass_attempt(conn, session_id)
        conn.execute('UPDATE "LabSession" SET status = %s WHERE id = %s', (step, session_id))
    return session_id


def status_of(conn: psycopg.Connection, session_id: uuid.UUID) -> str:
    return conn.execute('SELECT status FROM "LabSession" WHERE id = %s', (session_id,)).fetchone()[0]


def audit_rows(conn: psycopg.Connection, session_id: uuid.UUID) -> list[tuple]:
    return conn.execute(
        'SELECT action, "actorId", metadata FROM "AuditLog" WHERE metadata->>\'labSessionId\' = %s '
        'ORDER BY "createdAt", id',
        (str(session_id),),
    ).fetchall()
