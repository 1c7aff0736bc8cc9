"""Schema migration services: status, upgrade/downgrade (or their SQL), and adopting a Prisma database."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, text

from forgea_cli.db import migrations
from forgea_cli.db.catalog import snapshot
from forgea_cli.db.engine import connect
from forgea_cli.db.snapshots import load_snapshot
from forgea_cli.errors import OperationFailed
from forgea_cli.services.schema_diff import Difference, diff_snapshots

BASELINE = "0001_baseline"


@dataclass(frozen=True)
class MigrationStatus:
    current: str | None
    head: str
    pending: list[migrations.Revision]
    unknown: bool  # the database names a revision this build does not know

    @property
    def at_head(self) -> bool:
        return self.current == self.head


@dataclass(frozen=True)
class AdoptResult:
    action: str  # stamped | already-adopted | would-stamp
    revision: str
    prisma_migrations: list[str] = field(default_factory=list)
    sql: str = ""


class AdoptRefused(OperationFailed):
    def __init__(self, message: str, differences: list[Difference] | None = None) -> None:
        super().__init__(message)
        self.differences = differences or []


def status(engine: Engine) -> MigrationStatus:
    with connect(engine) as connection:
        current = migrations.current_revision(connection)
    return _status_of(current)


def _status_of(current: str | None) -> MigrationStatus:
    order = migrations.history()
    names = [r.revision for r in order]
    unknown = current is not None and current not in names
    start = 0 if current is None or unknown else names.index(current) + 1
    return MigrationStatus(current, migrations.head_revision(), [] if unknown else order[start:], unknown)


def current(engine: Engine) -> str | None:
    with connect(engine) as connection:
        return migrations.current_revision(connection)


def prisma_migration_names(connection: Connection) -> list[str] | None:
    """Finished Prisma migrations, or None when the table does not exist. Read-only."""
    if not connection.execute(
        text("SELECT to_regclass('public.\"_prisma_migrations\"') IS NOT NULL")
    ).scalar():
        return None
    rows = connection.execute(
        text(
            "SELECT migration_name, finished_at IS NOT NULL AND rolled_back_at IS NULL AS done "
            'FROM "_prisma_migrations" ORDER BY started_at, migration_name'
        )
    ).all()
    unfinished = [name for name, done in rows if not done]
    if unfinished:
        raise AdoptRefused(f"Prisma migrations not finished or rolled back: {', '.join(unfinished)}")
    return [name for name, _ in rows]


def adopt(
    engine: Engine, *, dry_run: bool = False, timeouts: migrations.Timeouts = migrations.Timeouts()
) -> AdoptResult:
    with connect(engine) as connection:
        existing = migrations.current_revision(connection)
        if existing is not None:
            return AdoptResult("already-adopted", existing)
        names = _check_prisma_database(connection)
        connection.rollback()
    if dry_run:
        sql = f"INSERT INTO alembic_version (version_num) VALUES ('{BASELINE}');"
        return AdoptResult("would-stamp", BASELINE, names, sql)
    with migrations.locked_connection(engine, timeouts) as connection:
        if migrations.current_revision(connection) is None:
            migrations.stamp(connection, BASELINE)
    return AdoptResult("stamped", BASELINE, names)


def _check_prisma_database(connection: Connection) -> list[str]:
    names = prisma_migration_names(connection)
    if names is None:
        refusal = AdoptRefused("not a Prisma-built database: there is no _prisma_migrations table")
        refusal.hint = "an empty database is set up with `forgea migrate upgrade` instead"
        raise refusal
    differences = diff_snapshots(load_snapshot(BASELINE), snapshot(connection))
    if differences:
        raise AdoptRefused(
            f"the database differs from the Forgea baseline in {len(differences)} place(s); "
            "nothing was stamped",
            differences,
        )
    return names


def upgrade(engine: Engine, target: str, timeouts: migrations.Timeouts) -> tuple[str | None, str]:
    return migrations.upgrade(engine, target, timeouts)


def downgrade(engine: Engine, target: str, timeouts: migrations.Timeouts) -> tuple[str | None, str]:
    return migrations.downgrade(engine, target, timeouts)


def upgrade_sql(engine: Engine, target: str) -> str:
    return migrations.render_sql(current(engine), target)


def downgrade_sql(engine: Engine, target: str) -> str:
    return migrations.render_sql(current(engine), target, downgrade_to=True)


def default_timeouts() -> migrations.Timeouts:
    return migrations.Timeouts()
