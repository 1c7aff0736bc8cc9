"""Engines and connections, with an unreachable database turned into one clear error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from forgea_cli.errors import InvalidInput
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


URL_SHAPE = "postgresql://USER@HOST:5432/DATABASE (the password after USER:)"


def checked_url(url: str, setting: str = "FORGEA_DATABASE_URL") -> str:
    """``url`` for SQLAlchemy, or InvalidInput (exit 2) when it is no URL or names another database."""
    candidate = sqlalchemy_url(url.strip())
    try:
        parsed = make_url(candidate)
        parsed.port  # noqa: B018 - a port that is not a number raises here
    except (ArgumentError, ValueError) as exc:
        raise InvalidInput(
            f"{setting} is not a database URL: {mask_url(url)!r} ({exc})", hint=f"{setting}={URL_SHAPE}"
        ) from None
    if parsed.get_backend_name() != "postgresql":
        raise InvalidInput(
            f"{setting} names a {parsed.get_backend_name()!r} database ({mask_url(url)}); forgea "
            "operates PostgreSQL only",
            hint=f"{setting}={URL_SHAPE}",
        )
    return candidate


def resolve_database_url(settings: Settings) -> str:
    """The configured URL, or the embedded database (started on first use)."""
    configured = settings.database_url_value()
    if configured:
        return checked_url(configured)
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
    event.listen(engine, "connect", _utc_session)
    return engine


def _utc_session(dbapi_connection, _record) -> None:
    """TIMESTAMP(3) columns hold UTC without a zone (Prisma's convention): forgea's own writes
    (LOCALTIMESTAMP, column defaults) and its comparisons use UTC whatever the server's TimeZone,
    and output renders them with +00:00 (forgea_cli.documents)."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        dbapi_connection.execute("SET TIME ZONE 'UTC'")
    finally:
        dbapi_connection.autocommit = autocommit


def open_connection(engine: Engine) -> Connection:
    """``engine.connect()``, a refusal turned into the error that says why (db.errors.connection_error):
    a missing database, refused credentials, or no server answering."""
    try:
        return engine.connect()
    except DBAPIError as exc:
        from forgea_cli.db.errors import connection_error

        raise connection_error(exc, shown_url(engine.url.render_as_string(hide_password=False))) from exc


def shown_url(url: str) -> str:
    """A URL as an operator would write it: libpq form, password masked, query not %-encoded."""
    from urllib.parse import unquote

    return mask_url(unquote(libpq_dsn(url)))


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    connection = open_connection(engine)
    from forgea_cli.db.errors import translated

    with connection, translated():
        yield connection


def engine_from_settings(settings: Settings) -> Engine:
    return make_engine(resolve_database_url(settings))


def replica_engine_from_settings(settings: Settings) -> Engine | None:
    """The read replica's engine (FORGEA_REPLICA_URL), or None when none is configured."""
    url = settings.replica_url_value()
    return make_engine(checked_url(url, "FORGEA_REPLICA_URL"), pool_size=2) if url else None
