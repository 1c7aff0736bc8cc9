"""`session list` filters are served by indexes (EXPLAIN on a 100,000-session table)."""

from __future__ import annotations

import datetime
import re

import pytest
from sqlalchemy.dialects import postgresql

from forgea_cli.db.session_listing import SessionFilters, listing_query
from tests.integration import seed

SESSIONS, USERS, LABS = 100_000, 20_000, 10


@pytest.fixture(scope="module")
def big_db(pg, head_template):
    from tests.pg import unique_name

    name = unique_name("plans")
    with pg.janitor(name, template=head_template):
        url = pg.url(name)
        with seed.connect(url) as conn:
            _fill(conn)
        yield url


def _fill(conn) -> None:
    # Bulk load with triggers off (session_replication_role = replica); constraints still apply.
    conn.execute("SET session_replication_role = replica")
    conn.execute(
        f"""INSERT INTO "User" (id, email) SELECT md5('u' || u)::uuid, 'u' || u || '@t'
            FROM generate_series(0, {USERS - 1}) u"""
    )
    conn.execute(
        f"""INSERT INTO "Lab" (id, title, epic, "sourceGithubIssueUrl", "repoVersion", "baseRepoUrl",
                               "failureClass", constraints)
            SELECT md5('l' || l)::uuid, 'lab ' || l, 'e', 'x', 'v1', 'https://github.com/o/t',
                   'RESOURCE_LEAK', '{{}}'
            FROM generate_series(0, {LABS - 1}) l"""
    )
    conn.execute(
        """INSERT INTO "LabVersion" (id, "labId", version, "templateRepoUrl")
           SELECT md5('v' || id::text)::uuid, id, 'v1', 'https://github.com/o/t' FROM "Lab" """
    )
    conn.execute(
        f"""INSERT INTO "LabSession" (id, "userId", "labId", "labVersionId", status, "userForkUrl",
                                      "lastActivityAt", "completedAt")
            SELECT md5('s' || i)::uuid, md5('u' || (i % {USERS}))::uuid, md5('l' || (i % {LABS}))::uuid,
                   md5('v' || md5('l' || (i % {LABS}))::uuid::text)::uuid,
                   s.status::"LabStatus", 'https://github.com/s/' || i, ts,
                   CASE WHEN s.status = 'VERIFIED_PASS' THEN ts END
            FROM generate_series(0, {SESSIONS - 1}) i,
                 LATERAL (SELECT CASE i / {USERS}
                                     WHEN 0 THEN (CASE WHEN i % 2 = 0 THEN 'IN_PROGRESS' ELSE 'STUCK' END)
                                 WHEN 1 THEN 'DEFERRED' ELSE 'VERIFIED_PASS' END AS status,
                                 timestamp '2026-01-01' + (i % 5000) * interval '1 hour' AS ts) s"""
    )
    conn.execute("SET session_replication_role = DEFAULT")
    conn.execute('ANALYZE "LabSession"')


def _plan(conn, filters: SessionFilters) -> str:
    compiled = listing_query(filters).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    return "\n".join(row[0] for row in conn.execute(f"EXPLAIN {compiled}").fetchall())


def _session_indexes(plan: str) -> set[str]:
    """The indexes of "LabSession" the plan reads (index, index-only and bitmap scans)."""
    return set(re.findall(r'(?:using|Bitmap Index Scan on) "(LabSession_\w+)"', plan))


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        (
            SessionFilters(statuses=("STUCK",), idle_for=datetime.timedelta(days=7)),
            "LabSession_status_lastActivityAt_idx",
        ),
        # Most recent first, LIMIT 50, a fifth of the rows active: walking lastActivityAt backwards and
        # filtering on status beats reading two status ranges and sorting them.
        (SessionFilters(statuses=("IN_PROGRESS", "STUCK")), "LabSession_lastActivityAt_idx"),
        (
            SessionFilters(lab_id=None, user_id=None, idle_for=datetime.timedelta(days=30)),
            "LabSession_lastActivityAt_idx",
        ),
        (SessionFilters(), "LabSession_lastActivityAt_idx"),
    ],
    ids=["status+idle", "statuses", "idle", "no-filter"],
)
def test_list_filters_use_indexes(big_db, filters, index):
    with seed.connect(big_db) as conn:
        plan = _plan(conn, filters)
    assert _session_indexes(plan) == {index}, plan  # that index, never the primary key or another
    assert 'Seq Scan on "LabSession"' not in plan, plan


def test_lab_and_user_filters_use_indexes(big_db):
    with seed.connect(big_db) as conn:
        lab_id = conn.execute("SELECT md5('l3')::uuid").fetchone()[0]
        user_id = conn.execute("SELECT md5('u42')::uuid").fetchone()[0]
        by_lab = _plan(conn, SessionFilters(lab_id=lab_id, statuses=("STUCK",)))
        by_user = _plan(conn, SessionFilters(user_id=user_id))
    assert "LabSession_labId_status_idx" in by_lab or "LabSession_status_lastActivityAt_idx" in by_lab, by_lab
    assert 'Seq Scan on "LabSession"' not in by_lab, by_lab
    assert "LabSession_userId" in by_user, by_user
    assert 'Seq Scan on "LabSession"' not in by_user, by_user
