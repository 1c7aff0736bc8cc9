"""The rollout: adopt the Prisma database, migrate (expand → contract), the batched backfills that
yield to the web app, and the duplicate resolution. The verbs the CLI may call; each takes a
unit-of-work factory. Imported on first use (`forgea backfill --help` loads no database driver).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forgea_cli.services.lazy import lazy_exports

if TYPE_CHECKING:
    from forgea_cli.services.rollout.adoption import (
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
    from forgea_cli.services.rollout.batching import BackfillInterrupted, BackfillReport
    from forgea_cli.services.rollout.checklist import RolloutStatus, rollout_status
    from forgea_cli.services.rollout.migrations import (
        BASELINE,
        LockRetry,
        MigrationStatus,
        Timeouts,
        UpgradePreview,
        downgrade,
        downgrade_sql,
        history,
        status,
        upgrade,
        upgrade_preview,
        upgrade_sql,
    )
    from forgea_cli.services.rollout.throttle import BackfillStopped, ThrottleOptions

_HOMES = {
    **dict.fromkeys(
        ("AdoptRefused", "AdoptResult", "RefreshResult", "adopt", "adoption_records", "refresh_adoption"),
        "adoption",
    ),
    **dict.fromkeys(
        ("BACKFILLS", "BackfillOptions", "DuplicateResolution", "resolve_duplicates", "run_all"), "backfills"
    ),
    "BackfillReport": "batching",
    "BackfillInterrupted": "batching",
    **dict.fromkeys(
        (
            "BASELINE",
            "LockRetry",
            "MigrationStatus",
            "Timeouts",
            "downgrade",
            "downgrade_sql",
            "history",
            "status",
            "UpgradePreview",
            "upgrade",
            "upgrade_preview",
            "upgrade_sql",
        ),
        "migrations",
    ),
    # not `status`: that name is the revision verb above (a submodule would shadow it once imported)
    **dict.fromkeys(("RolloutStatus", "rollout_status"), "checklist"),
    **dict.fromkeys(("BackfillStopped", "ThrottleOptions"), "throttle"),
}
__all__ = [
    "BACKFILLS",
    "BASELINE",
    "AdoptRefused",
    "AdoptResult",
    "BackfillInterrupted",
    "BackfillOptions",
    "BackfillReport",
    "BackfillStopped",
    "DuplicateResolution",
    "LockRetry",
    "MigrationStatus",
    "RefreshResult",
    "RolloutStatus",
    "ThrottleOptions",
    "Timeouts",
    "UpgradePreview",
    "adopt",
    "adoption_records",
    "downgrade",
    "downgrade_sql",
    "history",
    "refresh_adoption",
    "resolve_duplicates",
    "rollout_status",
    "run_all",
    "status",
    "upgrade",
    "upgrade_preview",
    "upgrade_sql",
]
__getattr__ = lazy_exports(__name__, _HOMES)
