"""Running Alembic for forgea: one advisory lock, session timeouts, SQL rendering for dry runs."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tenacity
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from forgea_cli.db import advisory
from forgea_cli.db.engine import connect
from forgea_cli.db.health import Blocker, BlockerWatch
from forgea_cli.db.uow import UnitOfWorkFactory
from forgea_cli.errors import InvalidInput, OperationFailed

# pg_advisory_lock key shared by every forgea process that changes the schema ('forgea' in hex).
MIGRATION_LOCK_KEY = 0x666F72676561
LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class Timeouts:
    """How long a revision may wait, and how often it tries again (the migration is the victim).

    A statement that cannot get its lock within ``lock_timeout`` gives up, so the web app's writers
    queue behind it for at most that long; the revision is rolled back and retried after an
    exponential backoff with jitter, up to ``lock_retries`` times.
    """

    lock_timeout: str = "300ms"
    statement_timeout: str = "30min"
    lock_wait_seconds: float = 10.0  # the advisory lock between two forgea migrations
    lock_retries: int = 10
    retry_initial: float = 0.5  # seconds before the first retry; doubles, with jitter, up to:
    retry_max: float = 8.0


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


@dataclass(frozen=True)
class LockRetry:
    """Reported before each retry: which revision waited, for whom, and how long until the next try."""

    attempt: int
    retries: int
    wait_seconds: float
    revision: str | None
    blockers: tuple[Blocker, ...]


class LockNotGranted(OperationFailed):
    def __init__(self, message: str, blockers: tuple[Blocker, ...], *, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.blockers = blockers


def _is_lock_timeout(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE


def _explain_database_error(exc: DBAPIError, watch: BlockerWatch | None = None) -> OperationFailed:
    first_line = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    if _is_lock_timeout(exc):
        blockers = watch.last_seen if watch else ()
        held_by = (
            "; ".join(b.describe() for b in blockers)
            or "a session that had let go by the time it was looked up"
        )
        return LockNotGranted(
            f"migration gave up waiting for a table lock ({first_line}); the revision was rolled back and "
            f"not stamped; the lock was held by {held_by}",
            blockers,
            hint="rerun when that transaction has ended, or raise --lock-retries / --lock-timeout",
        )
    return OperationFailed(f"migration failed: {first_line}; the revision was rolled back")


def _run_with_lock_retries(
    connection: Connection,
    timeouts: Timeouts,
    step: Callable[[], None],
    on_retry: Callable[[LockRetry], None] | None,
) -> None:
    """Run ``step`` (one Alembic command), retrying it when a revision's lock wait timed out."""
    pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    connection.commit()
    with BlockerWatch(connection.engine, pid) as watch:

        def report(state: tenacity.RetryCallState) -> None:
            if on_retry is not None:
                wait = state.next_action.sleep if state.next_action else 0.0
                on_retry(
                    LockRetry(
                        state.attempt_number,
                        timeouts.lock_retries,
                        wait,
                        current_revision(connection),
                        watch.last_seen,
                    )
                )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_is_lock_timeout),
            stop=tenacity.stop_after_attempt(timeouts.lock_retries + 1),
            wait=tenacity.wait_exponential(multiplier=timeouts.retry_initial, max=timeouts.retry_max)
            + tenacity.wait_random(0, timeouts.retry_initial),
            before_sleep=report,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if connection.in_transaction():
                        connection.rollback()
                    step()
        except DBAPIError as exc:
            raise _explain_database_error(exc, watch) from exc


@contextmanager
def revision_named_by_operator(target: str) -> Iterator[None]:
    """Alembic refusing the REV an operator typed (unknown, ambiguous, not reachable from here) is
    bad input (exit 2), not a failure of the tool."""
    try:
        yield
    except (CommandError, RevisionError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(
            f"revision {target!r}: {message}",
            hint="`forgea migrate history` lists the revisions this build knows; `forgea migrate status` "
            "says where the database is",
        ) from None


def engine_of(database: Engine | UnitOfWorkFactory) -> Engine:
    """Services hand over their unit-of-work factory; the runner needs its own connection discipline."""
    return database if isinstance(database, Engine) else database.engine


def current_revision_of(database: Engine | UnitOfWorkFactory) -> str | None:
    with connect(engine_of(database)) as connection:
        return current_revision(connection)


def prisma_built(database: Engine | UnitOfWorkFactory) -> bool:
    """Prisma built this database (its `_prisma_migrations` table is there)."""
    from forgea_cli.db.readiness import PRISMA_BUILT

    with connect(engine_of(database)) as connection:
        return bool(connection.execute(text(PRISMA_BUILT)).scalar())


def upgrade(
    engine: Engine | UnitOfWorkFactory,
    target: str = "head",
    timeouts: Timeouts = Timeouts(),
    attributes: dict[str, Any] | None = None,
    on_retry: Callable[[LockRetry], None] | None = None,
) -> tuple[str | None, str]:
    with locked_connection(engine_of(engine), timeouts) as connection:
        before = current_revision(connection)
        connection.commit()  # alembic must start outside a transaction to run one per revision
        config = alembic_config(connection, attributes=attributes)
        with revision_named_by_operator(target):
            _run_with_lock_retries(connection, timeouts, lambda: command.upgrade(config, target), on_retry)
        return before, current_revision(connection) or "base"


def downgrade(
    engine: Engine | UnitOfWorkFactory,
    target: str,
    timeouts: Timeouts = Timeouts(),
    on_retry: Callable[[LockRetry], None] | None = None,
) -> tuple[str | None, str]:
    with locked_connection(engine_of(engine), timeouts) as connection:
        before = current_revision(connection)
        connection.commit()  # alembic must start outside a transaction to run one per revision
        config = alembic_config(connection)
        with revision_named_by_operator(target):
            _run_with_lock_retries(connection, timeouts, lambda: command.downgrade(config, target), on_retry)
        return before, current_revision(connection) or "base"


def stamp(connection: Connection, revision: str) -> None:
    connection.commit()
    command.stamp(alembic_config(connection), revision)
    if connection.in_transaction():
        connection.commit()


def render_sql(
    current: str | None,
    target: str,
    *,
    downgrade_to: bool = False,
    attributes: dict[str, Any] | None = None,
    timeouts: Timeouts = Timeouts(),
) -> str:
    """The SQL an upgrade (or downgrade) would run, rendered offline; nothing is executed."""
    buffer = io.StringIO()
    settings = {"lock_timeout": timeouts.lock_timeout, "statement_timeout": timeouts.statement_timeout}
    config = alembic_config(output=buffer, attributes={**settings, **(attributes or {})})
    with revision_named_by_operator(target):
        if downgrade_to:
            command.downgrade(config, f"{current or 'base'}:{target}", sql=True)
        elif current:
            command.upgrade(config, f"{current}:{target}", sql=True)
        else:
            command.upgrade(config, target, sql=True)
    return buffer.getvalue()
