"""Running keyset backfills: one transaction per primary-key range, resumable by construction.

A backfill names the rows that still need work (`pending`); each batch takes the next `batch_size`
of them in primary-key order and changes them in its own transaction. A killed run loses at most
its current batch; a rerun finds only what is still pending, so it never does work twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from forgea_cli.db import keyset
from forgea_cli.db.keyset import KeysetJob
from forgea_cli.db.uow import UnitOfWorkFactory
from forgea_cli.progress import NoProgress, Progress


@dataclass
class BackfillReport:
    name: str
    dry_run: bool
    pending: int = 0  # rows that needed work when the run started
    changed: int = 0  # rows written (or, in a dry run, that would be)
    batches: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def nothing_to_do(self) -> bool:
        return self.pending == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "backfill": self.name,
            "dry_run": self.dry_run,
            "pending": self.pending,
            "changed": self.changed,
            "batches": self.batches,
            "nothing_to_do": self.nothing_to_do,
            **self.details,
        }


def run_keyset(
    uow: UnitOfWorkFactory,
    job: KeysetJob,
    *,
    batch_size: int,
    dry_run: bool,
    progress: Progress | None = None,
    pause: float = 0.0,
) -> BackfillReport:
    """`pause` seconds between batches lets an operator throttle a backfill on a busy primary."""
    progress = progress or NoProgress()
    report = BackfillReport(job.name, dry_run)
    with uow() as work:
        connection = work.connection
        report.pending = keyset.count_pending(connection, job)
        work.commit()
        if dry_run or report.pending == 0:
            report.changed = report.pending if dry_run else 0
            return report
        progress.start(job.name, report.pending)
        low = None
        try:
            while (high := keyset.next_high(connection, job, low, batch_size)) is not None:
                changed = job.apply(connection, low, high)
                work.commit()
                report.changed += changed
                report.batches += 1
                progress.advance(changed)
                low = high
                if pause:
                    time.sleep(pause)
        finally:
            progress.finish()
    return report
