"""The rollout: adopt the Prisma database, migrate (expand → contract), the batched backfills and the
duplicate resolution. The verbs the CLI may call; each takes a unit-of-work factory."""

from forgea_cli.services.rollout.adopt import (
    AdoptRefused,
    AdoptResult,
    RefreshResult,
    adopt,
    adoption_records,
    refresh_adoption,
)
from forgea_cli.services.rollout.backfills import (
    BACKFILLS,
    BackfillOptions,
    DuplicateResolution,
    resolve_duplicates,
    run_all,
)
from forgea_cli.services.rollout.batching import BackfillReport
from forgea_cli.services.rollout.migrations import (
    BASELINE,
    MigrationStatus,
    Timeouts,
    downgrade,
    downgrade_sql,
    history,
    status,
    upgrade,
    upgrade_sql,
)

__all__ = [
    "BACKFILLS",
    "BASELINE",
    "AdoptRefused",
    "AdoptResult",
    "BackfillOptions",
    "BackfillReport",
    "DuplicateResolution",
    "MigrationStatus",
    "RefreshResult",
    "Timeouts",
    "adopt",
    "adoption_records",
    "downgrade",
    "downgrade_sql",
    "history",
    "refresh_adoption",
    "resolve_duplicates",
    "run_all",
    "status",
    "upgrade",
    "upgrade_sql",
]
