"""Building (or reusing) the demo database and the optional local fake GitHub."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import make_url

from forgea_cli.db.fixtures import legacy_data, prisma_baseline_sql
from forgea_cli.demo.plan import DemoWorld

DEMO_DATABASE = "forgea_demo"
DEMO_SESSIONS = 450  # enough for every URL spelling, invalid URLs, duplicates and all statuses


def demo_urls(embedded_url: str) -> tuple[str, str]:
    """(SQLAlchemy URL, libpq DSN) of the demo database on the embedded server."""
    url = make_url(embedded_url).set(database=DEMO_DATABASE)
    rendered = url.render_as_string(hide_password=False)
    return rendered, rendered.replace("postgresql+psycopg://", "postgresql://", 1)


def prepare(embedded_url: str, *, reset: bool) -> tuple[str, bool]:
    """Create the demo database (dropping it first with `reset`); True when it was built now."""
    admin = make_url(embedded_url).set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DEMO_DATABASE,)).fetchone()
        if exists and not reset:
            return demo_urls(embedded_url)[0], False
        conn.execute(f'DROP DATABASE IF EXISTS "{DEMO_DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DEMO_DATABASE}"')
    url, dsn = demo_urls(embedded_url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(prisma_baseline_sql())
    legacy_data.generate(dsn, legacy_data.LegacySize(sessions=DEMO_SESSIONS, users=150, labs=4))
    return url, True


ONLY_ACTIVE_SESSION = """
SELECT s.id::text FROM "LabSession" s
WHERE s.status = 'IN_PROGRESS' AND NOT EXISTS (
    SELECT 1 FROM "LabSession" o WHERE o."userId" = s."userId" AND o."labId" = s."labId" AND o.id <> s.id
      AND o.status IN ('IN_PROGRESS', 'STUCK'))
ORDER BY s.id LIMIT 1
"""


def describe(url: str, fork_url: str | None, *, fresh: bool) -> DemoWorld:
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn) as conn:
        email, lab_id = conn.execute(
            # Judged on the generated (legacy) sessions only, so a rerun picks the same student and the
            # demo's `session create` is a replay rather than a second session.
            'SELECT u.email, l.id::text FROM "User" u CROSS JOIN "Lab" l '
            'WHERE NOT EXISTS (SELECT 1 FROM "LabSession" s WHERE s."userId" = u.id AND s."labId" = l.id '
            f"AND s.id::text LIKE '{legacy_data.SESSION_ID_PREFIX}%' "
            "AND s.status IN ('IN_PROGRESS', 'STUCK')) "
            "ORDER BY u.email, l.id LIMIT 1"
        ).fetchone()
        messy = conn.execute(
            """SELECT "userForkUrl" FROM "LabSession" WHERE "userForkUrl" LIKE 'git@%' ORDER BY id LIMIT 1"""
        ).fetchone()[0]
        active = conn.execute(ONLY_ACTIVE_SESSION).fetchone()[0]
    return DemoWorld(email, lab_id, messy, active, fork_url, fresh)


@contextmanager
def local_fake_github(repo: str) -> Iterator[str | None]:
    """The package's fake GitHub on 127.0.0.1, in its own process (None if it did not start)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "forgea_cli.testing.github_server", "--port", "0", "--repo", repo],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        yield line.rsplit(" ", 1)[-1].strip() if "listening on" in line else None
    finally:
        process.terminate()
        process.wait(timeout=10)
