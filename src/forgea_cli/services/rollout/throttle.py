"""Backfills that yield to the web app (DESIGN §10): batch sizes tuned to a target duration, a nice
ratio, and health indicators checked between batches (GitLab's batched background migrations,
gh-ost's --max-lag-millis / --max-load / --critical-load / --nice-ratio).

Small pieces, one job each: `BatchSizer` (the optimizer), the `Indicator`s (one `check()` each,
their figures read through the callables db/health.py provides), and `Throttle`, the controller a
backfill run owns. Pure: the clock and sleep are injected, so the policy is tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from forgea_cli.errors import OperationFailed

DEFAULT_BATCH_TIME = 0.5  # seconds of work per batch (pt-online-schema-change's --chunk-time)
DEFAULT_NICE = 0.0  # seconds slept per second worked
DEFAULT_MAX_BATCH_SIZE = 50_000
DEFAULT_MAX_LAG = 1.0
DEFAULT_CRITICAL_LAG = 30.0
DEFAULT_MAX_ACTIVE = 64
CRITICAL_ACTIVE_FACTOR = 4  # stop when active connections reach this many times --max-active
DEFAULT_MAX_WAITERS = 0  # any web-app session waiting on the backfill's locks pauses it
DEFAULT_MAX_PAUSE = 300.0
POLL_SECONDS = 1.0
# A run starts aiming at this floor and earns --batch-time: each batch that made nobody wait adds
# this share of it; a batch that web-app sessions queued behind halves the aim (AIMD, TCP's slow
# start and backoff: a batch holding row locks for 0.5 s stalls every writer touching one of its rows
# for up to 0.5 s, so the first batches must not be the big ones).
MIN_BATCH_TIME = 0.02
RECOVERY_SHARE = 0.02


class BackfillStopped(OperationFailed):
    """The backfill stopped cleanly at a batch boundary (exit 1); a rerun resumes where it stopped."""

    report: Any = None  # what was committed before it stopped (a BackfillReport)

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(
            message, hint=hint or "rerun the same command when the database is healthy: it resumes"
        )


@dataclass
class BatchSizer:
    """The next batch size from the measured time of the last one, aiming at ``target`` seconds, or
    at less while batches make other sessions wait on their locks (`aim`)."""

    size: int
    target: float = DEFAULT_BATCH_TIME
    maximum: int = DEFAULT_MAX_BATCH_SIZE
    minimum: int = 1
    smoothing: float = 0.5  # how far to move toward the ideal size in one step
    aim: float = field(init=False)  # the duration aimed at now: target, less under contention

    def __post_init__(self) -> None:
        self.size = max(self.minimum, min(self.size, self.maximum))
        self.aim = self.floor

    @property
    def floor(self) -> float:
        return min(MIN_BATCH_TIME, self.target)

    def after(self, rows: int, seconds: float, *, contended: bool = False) -> int:
        if contended:
            self.aim = max(self.floor, self.aim / 2)
        else:
            self.aim = min(self.target, self.aim + RECOVERY_SHARE * self.target)
        if rows <= 0 or seconds <= 0:
            return self.size
        ideal = rows * self.aim / seconds
        moved = ideal if contended else self.size + self.smoothing * (ideal - self.size)
        # Never more than double or less than halve in one step: one odd batch must not swing it.
        bounded = min(max(moved, self.size / 2), self.size * 2)
        self.size = max(self.minimum, min(int(bounded), self.maximum))
        return self.size


@dataclass(frozen=True)
class Reading:
    name: str
    value: float
    threshold: float
    critical: float
    unit: str = ""
    contention: bool = False  # above its threshold, the batches were too long for the web app

    @property
    def above(self) -> bool:
        return self.value > self.threshold

    @property
    def critical_breached(self) -> bool:
        return self.value > self.critical

    def describe(self) -> str:
        return (
            f"{self.name} {self.value:g}{self.unit} is above {self.threshold:g}{self.unit}"
            if self.above
            else f"{self.name} {self.value:g}{self.unit}"
        )


class Indicator(Protocol):
    def check(self) -> Reading: ...


@dataclass
class Gauge:
    """One health figure with its thresholds: `read` returns the current value."""

    name: str
    read: Callable[[], float]
    threshold: float
    critical: float
    unit: str = ""
    contention: bool = False

    def check(self) -> Reading:
        return Reading(
            self.name, float(self.read()), self.threshold, self.critical, self.unit, self.contention
        )


@dataclass(frozen=True)
class ThrottleOptions:
    batch_time: float = DEFAULT_BATCH_TIME
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    nice: float = DEFAULT_NICE
    max_pause: float = DEFAULT_MAX_PAUSE
    pause: float = 0.0  # fixed seconds slept between batches, on top of the nice ratio (--pause)
    max_lag: float = DEFAULT_MAX_LAG
    critical_lag: float = DEFAULT_CRITICAL_LAG
    max_active: int = DEFAULT_MAX_ACTIVE
    critical_active: int | None = None  # None: CRITICAL_ACTIVE_FACTOR × max_active
    max_waiters: int = DEFAULT_MAX_WAITERS


def health_gauges(health: Any, waiters: Any, options: ThrottleOptions) -> list[Indicator]:
    """The indicators every backfill checks; ``health`` is a db.health.HealthMonitor, ``waiters`` a
    db.health.WaitersWatch on the backfill's own connection."""
    return [
        Gauge("replication lag", health.replication_lag, options.max_lag, options.critical_lag, " s"),
        Gauge(
            "active connections",
            health.active_connections,
            options.max_active,
            options.critical_active or CRITICAL_ACTIVE_FACTOR * options.max_active,
        ),
        Gauge(
            "sessions waiting on the backfill's locks",
            waiters.take,
            options.max_waiters,
            float("inf"),
            contention=True,
        ),
    ]


@dataclass
class Pause:
    reason: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "seconds": round(self.seconds, 3)}


@dataclass
class Throttle:
    """What a backfill run does between two batches: sleep by the nice ratio, then wait while any
    indicator is above its threshold (saying why), and stop cleanly past a critical one."""

    sizer: BatchSizer
    indicators: list[Indicator]
    nice: float = DEFAULT_NICE
    max_pause: float = DEFAULT_MAX_PAUSE
    pause: float = 0.0
    notify: Callable[[str], None] = lambda message: None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    pauses: list[Pause] = field(default_factory=list)
    slept: float = 0.0

    def between_batches(self, rows: int, seconds: float) -> int:
        """The size of the next batch, once it is healthy to run it; raises BackfillStopped."""
        if self.nice > 0 or self.pause > 0:
            self._sleep(self.pause + self.nice * seconds)
        first = self._wait_until_healthy()
        contended = any(r.contention and r.above for r in first)
        return self.sizer.after(rows, seconds, contended=contended)

    def _sleep(self, seconds: float) -> None:
        self.sleep(seconds)
        self.slept += seconds

    def _wait_until_healthy(self) -> list[Reading]:
        """Waits while any indicator is above its threshold; returns the first readings."""
        started: float | None = None
        reason = ""
        first: list[Reading] | None = None
        while True:
            readings = [indicator.check() for indicator in self.indicators]
            first = readings if first is None else first
            critical = [r for r in readings if r.critical_breached]
            if critical:
                self._end_pause(started, reason, resuming=False)
                raise BackfillStopped(
                    "stopped at a batch boundary: "
                    + "; ".join(
                        f"{r.name} {r.value:g}{r.unit} is above the critical {r.critical:g}{r.unit}"
                        for r in critical
                    )
                )
            above = [r for r in readings if r.above]
            if not above:
                self._end_pause(started, reason)
                return first
            now = self.clock()
            if started is None:
                started, reason = now, "; ".join(r.describe() for r in above)
                self.notify(f"pausing: {reason}")
            elif now - started > self.max_pause:
                self._end_pause(started, reason, resuming=False)
                raise BackfillStopped(
                    f"stopped at a batch boundary after pausing {now - started:.0f} s (--max-pause): "
                    + "; ".join(r.describe() for r in above)
                )
            self._sleep(POLL_SECONDS)

    def _end_pause(self, started: float | None, reason: str, *, resuming: bool = True) -> None:
        if started is None:
            return
        seconds = self.clock() - started
        self.pauses.append(Pause(reason, seconds))
        if resuming:
            self.notify(f"resuming after {seconds:.1f} s ({reason})")

    def summary(self) -> dict[str, Any]:
        return {
            "batch_size": self.sizer.size,
            "batch_time": round(self.sizer.aim, 3),
            "slept_seconds": round(self.slept, 3),
            "pauses": [p.to_json() for p in self.pauses],
        }
