"""Running Alembic for forgea: one advisory lock, session timeouts, SQL rendering for dry runs."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from forgea_cli.db import advisory
from forgea_cli.db.engine import connect
from forgea_cli.db.uow import UnitOfWorkFactory
from forgea_cli.errors import OperationFailed

# pg_advisory_lock key shared by every forgea process that changes the schema ('forgea' in hex).
MIGRATION_LOCK_KEY = 0x666F72676561
LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class Timeouts:
    lock_timeout: str = "5s"
    statement_timeout: str = "30min"
    lock_wait_seconds: float = 10.0
    lock_retries: int = 3  # attempts per run when a DDL statement hits lock_timeout
    lock_retry_pause: float = 1.0


@dataclass(frozen=True)
class Revision:
    revision: str
    down_revision: str | None
    title: str


def migrations_dir() -> Path:
    packaged = Path(__file__).resolve().parents[1] / "migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(
    connection: Connection | None = None,
    output: io.StringIO | None = None,
    attributes: dict[str, Any] | None = None,
) -> Config:
    """``attributes`` reach the revisions (``adopted_objects``: the baseline adopts, not builds)."""
    config = Config(output_buffer=output)
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", "postgresql+psycopg://")
    config.attributes.update(attributes or {})
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = script_directory().get_current_head()
    assert head is not None
    return head


def history() -> list[Revision]:
    revisions = reversed(list(script_directory().walk_revisions()))
    return [Revision(r.revision, r.down_revision, (r.doc or "").splitlines()[0]) for r in revisions]


def current_revision(connection: Connection) -> str | None:
    heads = MigrationContext.configure(connection).get_current_heads()
    return heads[0] if heads else None


def migration_lock(connection: Connection, wait_seconds: float):
    """Held for a whole run: it survives the per-revision transactions."""
    return advisory.held(
        connection,
        MIGRATION_LOCK_KEY,
        wait_seconds=wait_seconds,
        busy="another forgea migration is running on this database (advisory lock held)",
        hint="wait for it to finish, then run the command again",
    )


def _set_timeouts(connection: Connection, timeouts: Timeouts) -> None:
    connection.execute(text("SELECT set_config('lock_timeout', :v, false)"), {"v": timeouts.lock_timeout})
    connection.execute(
        text("SELECT set_config('statement_timeout', :v, false)"), {"v": timeouts.statement_timeout}
    )
    connection.commit()


@contextmanager
def locked_connection(engine: Engine, timeouts: Timeouts) -> Iterator[Connection]:
    with connect(engine) as connection:
        _set_timeouts(connection, timeouts)
        with migration_lock(connection, timeouts.lock_wait_seconds):
            yield connection


def _explain_database_error(exc: DBAPIError) -> OperationFailed:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    first_line = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    if sqlstate == LOCK_NOT_AVAILABLE:
        return OperationFailed(
            f"migration gave up waiting for a table lock ({first_line}); the revision was rolled back",
            hint="the web app holds long transactions; rerun, or raise --lock-timeout",
        )
    return OperationFailed(f"migration failed: {first_line}; the revision was rolled back")


def engine_of(database: Engine | UnitOfWorkFactory) -> Engine:
    """Services hand over their unit-of-work factory; the runner needs its own connection discipline."""
    return database if isinstance(database, Engine) else database.engine


def current_revision_of(database: Engine | UnitOfWorkFactory) -> str | None:
    with connect(engine_of(database)) as connection:
        return current_revision(connection)


def upgrade(
    engine: Engine | UnitOfWorkFactory,
    target: str = "head",
    timeouts: Timeouts = Timeouts(),
    attributes: dict[str, Any] | None = None,
) -> tuple[str | None, str]:
    with locked_connection(engine_of(engine), timeouts) as connection:
        before = current_revision(connection)
        connection.commit()  # alembic must start outside a transaction to run one per revision
        try:
            command.upgrade(alembic_config(connection, attributes=attributes), target)
        except DBAPIError as exc:
            raise _explain_database_error(exc) from exc
        return before, current_revision(connection) or "base"


def downgrade(
    engine: Engine | UnitOfWorkFactory, target: str, timeouts: Timeouts = Timeouts()
) -> tuple[str | None, str]:
    with locked_connection(engine_of(engine), timeouts) as connection:
        before = current_revision(connection)
        connection.commit()  # alembic must start outside a transaction to run one per revision
        try:
            command.downgrade(alembic_config(connection), target)
        except DBAPIError as exc:
            raise _explain_database_error(exc) from exc
        return before, current_revision(connection) or "base"


def stamp(connection: Connection, revision: str) -> None:
    connection.commit()
    command.stamp(alembic_config(connection), revision)
    if connection.in_transaction():
        connection.commit()


def render_sql(
    current: str | None, target: str, *, downgrade_to: bool = False, attributes: dict[str, Any] | None = None
) -> str:
    """The SQL an upgrade (or downgrade) would run, rendered offline; nothing is executed."""
    buffer = io.StringIO()
    config = alembic_config(output=buffer, attributes=attributes)
    if downgrade_to:
        command.downgrade(config, f"{current or 'base'}:{target}", sql=True)
    elif current:
        command.upgrade(config, f"{current}:{target}", sql=True)
    else:
        command.upgrade(config, target, sql=True)
    return buffer.getvalue()
