"""Engines and connections, with an unreachable database turned into one clear error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from forgea_cli.errors import DatabaseUnreachable
from forgea_cli.redaction import mask_url
from forgea_cli.settings import Settings

__all__ = [
    "Connection",
    "Engine",
    "connect",
    "libpq_dsn",
    "make_engine",
    "resolve_database_url",
    "sqlalchemy_url",
    "with_database",
]


def sqlalchemy_url(url: str) -> str:
    """Accept plain libpq-style URLs and point them at psycopg 3."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def libpq_dsn(url: str) -> str:
    """The libpq form of a database URL (what psycopg.connect takes)."""
    return sqlalchemy_url(url).replace("postgresql+psycopg://", "postgresql://", 1)


def with_database(url: str, name: str) -> str:
    """The URL of database `name` on the server `url` points at (password kept)."""
    return make_url(sqlalchemy_url(url)).set(database=name).render_as_string(hide_password=False)


def resolve_database_url(settings: Settings) -> str:
    """The configured URL, or the embedded database (started on first use)."""
    configured = settings.database_url_value()
    if configured:
        return sqlalchemy_url(configured)
    from forgea_cli.db.embedded import EmbeddedDatabase

    return EmbeddedDatabase(settings.data_dir).start()


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    engine = create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        connect_args={"application_name": "forgea", "connect_timeout": 5},
    )
    return engine


def unreachable(url: str) -> DatabaseUnreachable:
    return DatabaseUnreachable(
        f"database unreachable at {mask_url(url)}",
        hint="check FORGEA_DATABASE_URL, or unset it to use the embedded database (`forgea db start`)",
    )


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    try:
        connection = engine.connect()
    except OperationalError as exc:
        raise unreachable(engine.url.render_as_string(hide_password=False)) from exc
    from forgea_cli.db.errors import translated

    with connection, translated():
        yield connection


def engine_from_settings(settings: Settings) -> Engine:
    return make_engine(resolve_database_url(settings))


def replica_engine_from_settings(settings: Settings) -> Engine | None:
    """The read replica's engine (FORGEA_REPLICA_URL), or None when none is configured."""
    url = settings.replica_url_value()
    return make_engine(sqlalchemy_url(url), pool_size=2) if url else None
