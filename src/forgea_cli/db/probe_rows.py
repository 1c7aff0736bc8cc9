"""The probes' throwaway rows and statements (verify-constraints, adopt): every SQL they run.

The probes run in one transaction that is always rolled back; these functions only build rows of
their own (marked PROBE_MARK) and attempt the statements whose refusal is being probed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, text

from forgea_cli.lifecycle import Status

PROBE_MARK = "forgea-verify-probe"


def probe_settings(connection: Connection) -> None:
    """Short lock waits: a probe never queues behind the web app's writers for long."""
    connection.execute(text("SET LOCAL lock_timeout = '2s'"))
    connection.execute(text("SET LOCAL statement_timeout = '30s'"))


def is_read_only(connection: Connection) -> bool:
    return bool(
        connection.execute(
            text("SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'")
        ).scalar()
    )


@dataclass(frozen=True)
class ProbeWorld:
    """A student and a lab (current version ``v2``, older ``v1``) plus a second lab, all new."""

    user_id: str
    lab_id: str
    other_lab_id: str
    current_version_id: str | None = None
    old_version_id: str | None = None
    other_lab_version_id: str | None = None


def create_world(connection: Connection, *, lab_versions: bool = True) -> ProbeWorld:
    """Insert the probe's rows; ``lab_versions`` once the LabVersion table exists (0002)."""
    user_id, lab_id, other_lab_id = insert_user(connection), str(uuid.uuid4()), str(uuid.uuid4())
    for lab in (lab_id, other_lab_id):
        connection.execute(
            text(
                'INSERT INTO "Lab" (id, title, epic, "sourceGithubIssueUrl", "repoVersion", "baseRepoUrl", '
                "\"failureClass\", constraints) VALUES (:id, :title, :title, :url, 'v2', :url, "
                "(enum_range(NULL::\"FailureClass\"))[1], '{}'::jsonb)"
            ),
            {"id": lab, "title": PROBE_MARK, "url": f"https://github.com/{PROBE_MARK}/{lab}"},
        )
    if not lab_versions:
        return ProbeWorld(user_id, lab_id, other_lab_id)
    return ProbeWorld(
        user_id,
        lab_id,
        other_lab_id,
        current_version_id=insert_lab_version(connection, lab_id, "v2"),
        old_version_id=insert_lab_version(connection, lab_id, "v1"),
        other_lab_version_id=insert_lab_version(connection, other_lab_id, "v2"),
    )


def insert_user(connection: Connection) -> str:
    user_id = str(uuid.uuid4())
    connection.execute(
        text('INSERT INTO "User" (id, email) VALUES (:id, :email)'),
        {"id": user_id, "email": f"{PROBE_MARK}-{user_id}@invalid"},
    )
    return user_id


def insert_lab_version(connection: Connection, lab_id: str, version: str) -> str:
    version_id = str(uuid.uuid4())
    connection.execute(
        text(
            'INSERT INTO "LabVersion" (id, "labId", version, "templateRepoUrl") '
            "VALUES (:id, :lab, :version, :url)"
        ),
        {"id": version_id, "lab": lab_id, "version": version, "url": f"https://github.com/{PROBE_MARK}/t"},
    )
    return version_id


def insert_session(
    connection: Connection, world: ProbeWorld, *, user_id: str | None = None, status: Status | None = None
) -> str:
    """A session as the web app inserts it: id, userId, labId, userForkUrl only (and a status, to probe)."""
    session_id = str(uuid.uuid4())
    columns, values = ('id, "userId", "labId", "userForkUrl"', ":id, :user, :lab, :url")
    if status is not None:
        columns, values = f"{columns}, status", f'{values}, CAST(:status AS "LabStatus")'
    connection.execute(
        text(f'INSERT INTO "LabSession" ({columns}) VALUES ({values})'),
        {
            "id": session_id,
            "user": user_id or world.user_id,
            "lab": world.lab_id,
            "url": f"https://github.com/{PROBE_MARK}/{session_id}",
            "status": str(status) if status is not None else None,
        },
    )
    return session_id


def record_attempt(connection: Connection, session_id: str, result: str) -> None:
    connection.execute(
        text(
            'INSERT INTO "VerificationAttempt" ("labSessionId", "attemptNumber", "commitSha", result, '
            '"ciOutput") VALUES (:session, next_verification_attempt_number(:session), :sha, '
            'CAST(:result AS "VerificationResult"), :mark)'
        ),
        {"session": session_id, "sha": "0" * 40, "result": result, "mark": PROBE_MARK},
    )


def set_status(connection: Connection, session_id: str, status: Status):
    return connection.execute(
        text(
            'UPDATE "LabSession" SET status = CAST(:status AS "LabStatus") WHERE id = :id '
            'RETURNING "completedAt"'
        ),
        {"status": str(status), "id": session_id},
    ).one()


def guarded_temp_table(connection: Connection, function: str) -> None:
    """A one-row temporary table guarded by ``function`` (dropped with the probe's savepoint)."""
    connection.execute(text("CREATE TEMPORARY TABLE forgea_probe_guard (id integer)"))
    connection.execute(text("INSERT INTO forgea_probe_guard VALUES (1)"))
    connection.execute(
        text(
            "CREATE TRIGGER forgea_probe_guard BEFORE UPDATE OR DELETE ON forgea_probe_guard "
            f"FOR EACH ROW EXECUTE FUNCTION public.{function}()"
        )
    )


def mutate_temp_table(connection: Connection, verb: str) -> None:
    sql = "UPDATE forgea_probe_guard SET id = 2" if verb == "update" else "DELETE FROM forgea_probe_guard"
    connection.execute(text(sql))


def set_status_only(connection: Connection, session_id: str, status: Status) -> None:
    connection.execute(
        text('UPDATE "LabSession" SET status = CAST(:status AS "LabStatus") WHERE id = :id'),
        {"status": str(status), "id": session_id},
    )


def insert_audit_row(connection: Connection) -> str:
    row_id = str(uuid.uuid4())
    connection.execute(
        text('INSERT INTO "AuditLog" (id, "actorId", action) VALUES (:id, :actor, \'ADMIN_OVERRIDE\')'),
        {"id": row_id, "actor": PROBE_MARK},
    )
    return row_id


def insert_verification_log(connection: Connection, world: ProbeWorld) -> str:
    row_id = str(uuid.uuid4())
    connection.execute(
        text(
            'INSERT INTO "VerificationLog" (id, "sessionId", "commitSha", "prDiff", "ciOutput") '
            "VALUES (:id, :session, :sha, '', :mark)"
        ),
        {"id": row_id, "session": insert_session(connection, world), "sha": "0" * 40, "mark": PROBE_MARK},
    )
    return row_id


def insert_resume_bullet(connection: Connection, world: ProbeWorld) -> str:
    row_id = str(uuid.uuid4())
    connection.execute(
        text('INSERT INTO "ResumeBullet" (id, "sessionId", "bulletText") VALUES (:id, :session, :mark)'),
        {"id": row_id, "session": insert_session(connection, world), "mark": PROBE_MARK},
    )
    return row_id


def insert_attempt_row(connection: Connection, world: ProbeWorld) -> str:
    session_id = insert_session(connection, world)
    record_attempt(connection, session_id, "FAIL")
    return str(
        connection.execute(
            text('SELECT id FROM "VerificationAttempt" WHERE "labSessionId" = :s'), {"s": session_id}
        ).scalar_one()
    )


def mutate_row(connection: Connection, table: str, column: str, verb: str, row_id: str) -> int:
    """UPDATE (a no-op assignment) or DELETE one row of an append-only table: the rows changed."""
    if verb == "update":
        sql = f'UPDATE "{table}" SET "{column}" = "{column}" WHERE id = :id'
    else:
        sql = f'DELETE FROM "{table}" WHERE id = :id'
    return connection.execute(text(sql), {"id": row_id}).rowcount


def change_lab_version(connection: Connection, verb: str, version_id: str) -> int:
    if verb == "update":
        sql = """UPDATE "LabVersion" SET version = version || '-x' WHERE id = :id"""
    else:
        sql = 'DELETE FROM "LabVersion" WHERE id = :id'
    return connection.execute(text(sql), {"id": version_id}).rowcount


def fill_template_repo_id(connection: Connection, version_id: str, repo_id: int) -> None:
    connection.execute(
        text('UPDATE "LabVersion" SET "templateRepoId" = :repo WHERE id = :id'),
        {"repo": repo_id, "id": version_id},
    )


def insert_session_with_version(connection: Connection, world: ProbeWorld, version_id: str) -> None:
    connection.execute(
        text(
            'INSERT INTO "LabSession" (id, "userId", "labId", "labVersionId", "userForkUrl") '
            "VALUES (:id, :user, :lab, :version, :url)"
        ),
        {
            "id": str(uuid.uuid4()),
            "user": world.user_id,
            "lab": world.lab_id,
            "version": version_id,
            "url": f"https://github.com/{PROBE_MARK}/fk",
        },
    )


def version_of_session(connection: Connection, session_id: str) -> str | None:
    version = connection.execute(
        text('SELECT "labVersionId" FROM "LabSession" WHERE id = :id'), {"id": session_id}
    ).scalar()
    return None if version is None else str(version)
