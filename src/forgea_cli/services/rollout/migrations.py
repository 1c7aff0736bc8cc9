"""Schema revisions: where the database stands, upgrade/downgrade, and the SQL they would run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from forgea_cli.db import migrations
from forgea_cli.db.uow import UnitOfWorkFactory

BASELINE = "0001_baseline"
Timeouts = migrations.Timeouts
LockRetry = migrations.LockRetry
OnRetry = Callable[[LockRetry], None] | None


@dataclass(frozen=True)
class MigrationStatus:
    current: str | None
    head: str
    pending: list[migrations.Revision]
    unknown: bool  # the database names a revision this build does not know

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def status(uow: UnitOfWorkFactory) -> MigrationStatus:
    current = migrations.current_revision_of(uow)
    order = migrations.history()
    names = [r.revision for r in order]
    unknown = current is not None and current not in names
    start = 0 if current is None or unknown else names.index(current) + 1
    return MigrationStatus(current, migrations.head_revision(), [] if unknown else order[start:], unknown)


def history() -> list[migrations.Revision]:
    return migrations.history()


def upgrade(
    uow: UnitOfWorkFactory, target: str, timeouts: Timeouts, *, on_retry: OnRetry = None
) -> tuple[str | None, str]:
    return migrations.upgrade(uow, target, timeouts, on_retry=on_retry)


def downgrade(
    uow: UnitOfWorkFactory, target: str, timeouts: Timeouts, *, on_retry: OnRetry = None
) -> tuple[str | None, str]:
    return migrations.downgrade(uow, target, timeouts, on_retry=on_retry)


def upgrade_sql(uow: UnitOfWorkFactory, target: str, timeouts: Timeouts = Timeouts()) -> str:
    return migrations.render_sql(migrations.current_revision_of(uow), target, timeouts=timeouts)


def downgrade_sql(uow: UnitOfWorkFactory, target: str, timeouts: Timeouts = Timeouts()) -> str:
    return migrations.render_sql(
        migrations.current_revision_of(uow), target, downgrade_to=True, timeouts=timeouts
    )
