"""Helpers for rollout tests: legacy data, the web app's statements, table checksums."""

from __future__ import annotations

import uuid

import psycopg

from forgea_cli.db.engine import make_engine, sqlalchemy_url
from forgea_cli.db.fixtures.legacy_data import LegacySize, generate
from forgea_cli.db.migrations import Timeouts, upgrade
from forgea_cli.db.uow import unit_of_work_factory
from forgea_cli.services import rollout as backfills
from forgea_cli.services.rollout import adopt

EXPAND_DONE = "0005_f6_session_indexes"
LEGACY_TABLES = ("User", "Lab", "LabSession", "VerificationLog", "ResumeBullet", "AuditLog")
LEGACY_COLUMNS = {
    "LabSession": '"id", "userId", "labId", "status", "userForkUrl", "previewUrl", "startedAt", '
    '"lastActivityAt"',
}


def libpq(url: str) -> str:
    return sqlalchemy_url(url).replace("postgresql+psycopg://", "postgresql://")


def load_legacy(url: str, sessions: int) -> None:
    generate(libpq(url), LegacySize(sessions=sessions))


def adopt_and_expand(url: str) -> None:
    engine = make_engine(url)
    try:
        adopt(unit_of_work_factory(engine))
        upgrade(engine, EXPAND_DONE, Timeouts())
    finally:
        engine.dispose()


def run_backfills(url: str, *, with_duplicates: bool = True) -> None:
    engine = make_engine(url)
    options = backfills.BackfillOptions(batch_size=500)
    try:
        for name in ("lab-versions", "completed-at", "verification-attempts"):
            backfills.BACKFILLS[name](unit_of_work_factory(engine), options)
        if with_duplicates:
            backfills.resolve_duplicates(unit_of_work_factory(engine), actor_id="test:rollout")
    finally:
        engine.dispose()


def upgrade_to(url: str, revision: str = "head") -> None:
    engine = make_engine(url)
    try:
        upgrade(engine, revision, Timeouts())
    finally:
        engine.dispose()


def checksums(url: str, tables=LEGACY_TABLES) -> dict[str, tuple[int, str]]:
    """Row count and md5 of the rows of each table (legacy columns only), in primary-key order."""
    result = {}
    with psycopg.connect(libpq(url)) as conn:
        for table in tables:
            columns = LEGACY_COLUMNS.get(table, "*")
            row = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), '')) "
                f'FROM (SELECT {columns} FROM "{table}") r'
            ).fetchone()
            result[table] = (row[0], row[1])
    return result


class LegacyWriter:
    """The statements the web app issues (DESIGN §2), each in its own short transaction."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(libpq(url), autocommit=True)
        self.lab_id = self.conn.execute('SELECT id FROM "Lab" ORDER BY id LIMIT 1').fetchone()[0]

    def close(self) -> None:
        self.conn.close()

    def register_student(self) -> uuid.UUID:
        user_id = uuid.uuid4()
        self.conn.execute(
            'INSERT INTO "User" (id, email) VALUES (%s, %s)', (user_id, f"{user_id.hex[:12]}@writer.test")
        )
        return user_id

    def start_session(self, user_id: uuid.UUID, *, preview: bool = False) -> tuple[uuid.UUID, str]:
        session_id, html_url = uuid.uuid4(), f"https://github.com/writer/{uuid.uuid4().hex[:10]}"
        if preview:
            self.conn.execute(
                'INSERT INTO "LabSession" (id, "userId", "labId", "userForkUrl", "previewUrl") '
                "VALUES (%s, %s, %s, %s, %s)",
                (session_id, user_id, self.lab_id, html_url, "https://preview.example/" + session_id.hex),
            )
        else:
            self.conn.execute(
                'INSERT INTO "LabSession" (id, "userId", "labId", "userForkUrl") VALUES (%s, %s, %s, %s)',
                (session_id, user_id, self.lab_id, html_url),
            )
        return session_id, html_url

    def set_status(self, session_id: uuid.UUID, seen: str, target: str) -> int:
        return self.conn.execute(
            'UPDATE "LabSession" SET status = %s, "lastActivityAt" = CURRENT_TIMESTAMP '
            "WHERE id = %s AND status = %s",
            (target, session_id, seen),
        ).rowcount

    def touch(self, session_id: uuid.UUID, status: str) -> int:
        return self.conn.execute(
            'UPDATE "LabSession" SET "lastActivityAt" = CURRENT_TIMESTAMP WHERE id = %s AND status = %s',
            (session_id, status),
        ).rowcount

    def log_verification(self, session_id: uuid.UUID) -> None:
        self.conn.execute(
            'INSERT INTO "VerificationLog" (id, "sessionId", "commitSha", "prDiff", "ciOutput") '
            "VALUES (%s, %s, 'abc123', 'diff', 'ok')",
            (uuid.uuid4(), session_id),
        )

    def audit(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        self.conn.execute(
            'INSERT INTO "AuditLog" (id, "userId", "actorId", action, metadata) '
            "VALUES (%s, %s, %s, 'LAB_START', "
            "jsonb_build_object('labSessionId', %s::text, 'actorType', 'USER'))",
            (uuid.uuid4(), user_id, str(user_id), str(session_id)),
        )

    def find_by_url(self, html_url: str) -> list[uuid.UUID]:
        rows = self.conn.execute('SELECT id FROM "LabSession" WHERE "userForkUrl" = %s', (html_url,))
        return [r[0] for r in rows.fetchall()]

    def replay(self) -> uuid.UUID:
        """One student's whole journey as the web app writes it; returns the session id."""
        user_id = self.register_student()
        session_id, html_url = self.start_session(user_id, preview=True)
        self.audit(user_id, session_id)
        assert self.find_by_url(html_url) == [session_id]
        assert self.set_status(session_id, "IN_PROGRESS", "STUCK") == 1
        assert self.touch(session_id, "STUCK") == 1
        self.log_verification(session_id)
        assert self.set_status(session_id, "STUCK", "VERIFIED_PASS") == 1
        assert self.touch(session_id, "VERIFIED_PASS") == 1
        other_id, _ = self.start_session(self.register_student())
        assert self.set_status(other_id, "IN_PROGRESS", "DEFERRED") == 1
        return session_id
