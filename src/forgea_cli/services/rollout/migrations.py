"""Schema revisions: where the database stands, upgrade/downgrade, and the SQL they would run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from forgea_cli.db import migrations, readiness
from forgea_cli.db.uow import UnitOfWorkFactory
from forgea_cli.errors import SchemaNotReady

BASELINE = "0001_baseline"
EXPAND = "0005_f6_session_indexes"  # the runbook's expand: what the backfills and the mapping need
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

    def to_json(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "head": self.head,
            "atHead": self.at_head,
            "unknownRevision": self.unknown,
            "pending": [r.revision for r in self.pending],
        }


def status(uow: UnitOfWorkFactory) -> MigrationStatus:
    current = migrations.current_revision_of(uow)
    order = migrations.history()
    names = [r.revision for r in order]
    unknown = current is not None and current not in names
    start = 0 if current is None or unknown else names.index(current) + 1
    return MigrationStatus(current, migrations.head_revision(), [] if unknown else order[start:], unknown)


def require_expanded(uow: UnitOfWorkFactory, what: str) -> None:
    """Refuse (SchemaNotReady, exit 1) before ``what`` runs on a database the expand has not
    reached, naming the command that gets it there; a revision this build does not know passes."""
    current = migrations.current_revision_of(uow)
    names = [r.revision for r in migrations.history()]
    if current is not None and (current not in names or names.index(current) >= names.index(EXPAND)):
        return
    if current is None and migrations.prisma_built(uow):
        raise SchemaNotReady(
            f"{what} needs the expand ({EXPAND}), and this database Prisma built was never adopted "
            "(nothing was changed)",
            hint=f"`forgea migrate adopt`, then `forgea migrate upgrade {EXPAND}` (each --dry-run first)",
        )
    raise SchemaNotReady(
        f"{what} needs the expand ({EXPAND}); the database is at {current or 'no revision'} "
        "(nothing was changed)",
        hint=f"`forgea migrate upgrade {EXPAND}` (its --dry-run shows the SQL)",
    )


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


@dataclass(frozen=True)
class UpgradePreview:
    """What `migrate upgrade` would do: the SQL it would run and, when a revision on the way would
    refuse, that refusal (the SQL then stops where the real run would stop)."""

    sql: str
    refusal: readiness.Refusal | None = None


def upgrade_preview(uow: UnitOfWorkFactory, target: str, timeouts: Timeouts = Timeouts()) -> UpgradePreview:
    """The dry run of `upgrade`: the same refusals (`db.readiness`, which the revisions call
    themselves) judged on the data now, then the SQL up to the revision that would refuse."""
    current = migrations.current_revision_of(uow)
    path = upgrade_path(current, target)
    with uow(read_only=True) as work:
        refusal = readiness.refusal_on_the_way(work.connection, path, current)
    if refusal is None:
        return UpgradePreview(migrations.render_sql(current, target, timeouts=timeouts))
    last = refusal.applied_before
    sql = migrations.render_sql(current, last, timeouts=timeouts) if last and last != current else ""
    return UpgradePreview(sql, refusal)


def upgrade_sql(uow: UnitOfWorkFactory, target: str, timeouts: Timeouts = Timeouts()) -> str:
    """The SQL `upgrade` would run; raises as the real run would when a revision would refuse."""
    preview = upgrade_preview(uow, target, timeouts)
    if preview.refusal is not None:
        raise preview.refusal.error
    return preview.sql


def upgrade_path(current: str | None, target: str) -> list[str]:
    """The revisions an upgrade from ``current`` to ``target`` applies, oldest first ([] when the
    target is not one this build names plainly; Alembic then judges it as the real run would)."""
    names = [r.revision for r in migrations.history()]
    if target == "head":
        target = names[-1]
    matches = [name for name in names if name == target or name.startswith(target)]
    if len(matches) != 1 or (current is not None and current not in names):
        return []
    start = 0 if current is None else names.index(current) + 1
    return names[start : names.index(matches[0]) + 1]


def downgrade_sql(uow: UnitOfWorkFactory, target: str, timeouts: Timeouts = Timeouts()) -> str:
    return migrations.render_sql(
        migrations.current_revision_of(uow), target, downgrade_to=True, timeouts=timeouts
    )
