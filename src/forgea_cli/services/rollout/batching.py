"""Running keyset backfills: one transaction per primary-key range, resumable by construction.

A backfill names the rows that still need work (`pending`); each batch takes the next `batch_size`
of them in primary-key order and changes them in its own transaction. A killed run loses at most
its current batch; a rerun finds only what is still pending, so it never does work twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from forgea_cli.db import keyset
from forgea_cli.db.health import HealthMonitor, WaitersWatch, backend_pid
from forgea_cli.db.keyset import KeysetJob
from forgea_cli.db.uow import UnitOfWork, UnitOfWorkFactory
from forgea_cli.documents import camel_keys, plural
from forgea_cli.progress import NoProgress, Progress
from forgea_cli.services.rollout.throttle import (
    BackfillStopped,
    BatchSizer,
    Throttle,
    ThrottleOptions,
    health_gauges,
)

T = TypeVar("T")


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

    def to_json(self) -> dict[str, Any]:
        return camel_keys(
            {
                "backfill": self.name,
                "dryRun": self.dry_run,
                "pending": self.pending,
                "changed": self.changed,
                "batches": self.batches,
                "nothingToDo": self.nothing_to_do,
                **self.details,
            }
        )

    def committed(self) -> str:
        """What a stopped or interrupted run kept: ``lab-versions committed 5,000 rows in 1 batch``."""
        return f"{self.name} committed {plural(self.changed, 'row')} in {plural(self.batches, 'batch')}"


class BackfillInterrupted(KeyboardInterrupt):
    """Ctrl-C during a backfill's batches: a KeyboardInterrupt (exit 130) that carries the report
    of what was committed before it; the batch in flight was rolled back, a rerun resumes."""

    hint = "rerun the same command: it resumes with what is still pending and never repeats work"

    def __init__(self, report: BackfillReport) -> None:
        super().__init__(f"interrupted: {report.committed()}; the batch in flight was rolled back")
        self.report = report

    @property
    def message(self) -> str:
        return str(self.args[0])


def run_keyset(
    uow: UnitOfWorkFactory,
    job: KeysetJob,
    *,
    batch_size: int,
    dry_run: bool,
    progress: Progress | None = None,
    throttle: ThrottleOptions = ThrottleOptions(),
    notify: Callable[[str], None] = lambda message: None,
) -> BackfillReport:
    """Batches sized to ``throttle.batch_time``, slept by its nice ratio (plus its fixed pause), and
    held while the primary is unhealthy; stops cleanly at a batch boundary past a critical level."""
    progress = progress or NoProgress()
    report = BackfillReport(job.name, dry_run)
    with uow() as work:
        connection = work.connection
        report.pending = keyset.count_pending(connection, job)
        work.commit()
        if dry_run or report.pending == 0:
            report.changed = report.pending if dry_run else 0
            return report
        with throttled(uow, work, batch_size, throttle, notify) as control:
            _batches(work, job, control, report, progress)
    return report


@contextmanager
def throttled(
    uow: UnitOfWorkFactory,
    work: UnitOfWork,
    batch_size: int,
    options: ThrottleOptions,
    notify: Callable[[str], None],
) -> Iterator[Throttle]:
    """The throttle of one backfill run: health read on a monitoring connection of its own, waiters
    on the locks of ``work``'s connection watched while batches run."""
    with HealthMonitor(uow) as health, WaitersWatch(uow, backend_pid(work.connection)) as waiters:
        yield Throttle(
            BatchSizer(batch_size, options.batch_time, max(options.max_batch_size, 1)),
            health_gauges(health, waiters, options),
            nice=options.nice,
            max_pause=options.max_pause,
            pause=options.pause,
            notify=notify,
        )


def _batches(
    work: UnitOfWork,
    job: KeysetJob,
    control: Throttle,
    report: BackfillReport,
    progress: Progress,
) -> None:
    low, size = None, control.sizer.size
    with batches_of(control, report, progress, job.name, report.pending):
        while (high := keyset.next_high(work.connection, job, low, size)) is not None:
            changed, worked = committed_batch(work, job.apply, work.connection, low, high)
            report.changed += changed
            report.batches += 1
            progress.advance(changed)
            low = high
            size = control.between_batches(max(changed, 1), worked)


@contextmanager
def batches_of(
    control: Throttle, report: BackfillReport, progress: Progress, title: str, total: int | None
) -> Iterator[None]:
    """The frame of every backfill's write loop: progress, the throttle's summary in the report, and
    a stop or a Ctrl-C carrying what was committed (a rerun resumes from there)."""
    progress.start(title, total)
    try:
        yield
    except BackfillStopped as stopped:
        stopped.report = report
        raise
    except KeyboardInterrupt as interrupt:
        raise BackfillInterrupted(report) from interrupt
    finally:
        report.details["throttle"] = control.summary()
        progress.finish()


def committed_batch(work: UnitOfWork, apply: Callable[..., T], *args: Any) -> tuple[T, float]:
    """One batch in its own transaction: what ``apply(*args)`` returned, and the seconds it took."""
    started = time.perf_counter()
    result = apply(*args)
    work.commit()
    return result, time.perf_counter() - started
