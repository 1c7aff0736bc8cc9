"""The backfill throttle's policy, on a fake clock: batch sizing, the nice ratio, pauses and stops."""

from __future__ import annotations

import pytest

from forgea_cli.services.rollout.throttle import BackfillStopped, BatchSizer, Gauge, Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_batches_grow_toward_the_target_duration_and_shrink_when_slow():
    sizer = BatchSizer(1000, target=0.5, maximum=100_000)
    sizer.aim = sizer.target  # a run that has earned its target (see the slow-start test)
    sizes = [sizer.after(sizer.size, 0.05) for _ in range(6)]  # 10x faster than the target
    assert sizes == sorted(sizes) and sizes[0] == 2000  # never more than doubles in one step
    assert sizes[-1] > 10_000
    fast = sizer.size
    assert fast // 2 <= sizer.after(fast, 5.0) < fast  # 10x too slow: shrinks, by half at most at once


def test_batch_size_respects_its_bounds():
    sizer = BatchSizer(10, target=0.5, maximum=50, minimum=5)
    for _ in range(10):
        sizer.after(sizer.size, 0.001)
    assert sizer.size == 50
    for _ in range(10):
        sizer.after(sizer.size, 100.0)
    assert sizer.size == 5


def _throttle(
    clock: Clock, *gauges: Gauge, nice: float = 0.0, max_pause: float = 300.0
) -> tuple[Throttle, list]:
    said: list[str] = []
    throttle = Throttle(
        BatchSizer(100),
        list(gauges),
        nice=nice,
        max_pause=max_pause,
        notify=said.append,
        sleep=clock.sleep,
        clock=clock,
    )
    return throttle, said


def test_the_nice_ratio_sleeps_in_proportion_to_the_work():
    clock = Clock()
    throttle, _ = _throttle(clock, nice=2.0)
    throttle.between_batches(100, 0.25)
    assert clock.sleeps == [0.5]


def test_above_a_threshold_it_pauses_says_why_and_resumes_when_healthy():
    clock = Clock()
    lag = iter([3.0, 2.5, 1.5, 0.2])
    throttle, said = _throttle(clock, Gauge("replication lag", lambda: next(lag), 1.0, 30.0, " s"))

    throttle.between_batches(100, 0.5)

    assert said[0] == "pausing: replication lag 3 s is above 1 s"
    assert said[-1].startswith("resuming after 3.0 s")
    assert throttle.summary()["pauses"] == [{"reason": "replication lag 3 s is above 1 s", "seconds": 3.0}]


def test_above_a_critical_level_it_stops_at_the_batch_boundary():
    clock = Clock()
    throttle, _ = _throttle(clock, Gauge("replication lag", lambda: 45.0, 1.0, 30.0, " s"))
    with pytest.raises(BackfillStopped, match="replication lag 45 s is above the critical 30 s"):
        throttle.between_batches(100, 0.5)


def test_pausing_longer_than_max_pause_stops_cleanly():
    clock = Clock()
    throttle, said = _throttle(clock, Gauge("active connections", lambda: 80, 64, 256), max_pause=5.0)
    with pytest.raises(BackfillStopped, match=r"after pausing 6 s \(--max-pause\): active connections 80"):
        throttle.between_batches(100, 0.5)
    assert said == ["pausing: active connections 80 is above 64"]
    assert throttle.summary()["pauses"][0]["seconds"] == 6.0


def test_healthy_gauges_cost_no_pause():
    clock = Clock()
    throttle, said = _throttle(
        clock, Gauge("sessions waiting on the backfill's locks", lambda: 0, 0, float("inf"))
    )
    assert throttle.between_batches(100, 0.5) > 0
    assert said == [] and clock.sleeps == []


def test_a_fixed_pause_is_slept_on_top_of_the_nice_ratio():
    clock = Clock()
    throttle = Throttle(BatchSizer(100), [], nice=1.0, pause=0.2, sleep=clock.sleep, clock=clock)
    throttle.between_batches(100, 0.5)
    assert clock.sleeps == [0.7]


def test_a_run_starts_with_short_batches_and_earns_its_target_while_nobody_waits():
    sizer = BatchSizer(1000, target=0.5, maximum=100_000)
    assert sizer.aim == 0.02  # slow start: the first batches hold their row locks briefly
    sizer.after(1000, 0.02)
    assert sizer.aim == pytest.approx(0.03)  # a clean batch gives back 2 % of --batch-time
    for _ in range(100):
        sizer.after(sizer.size, sizer.aim)
    assert sizer.aim == 0.5  # the operator's target, never above it
    assert sizer.size > 1000  # and the batches grew with it


def test_batches_that_make_others_wait_aim_at_half_the_duration_down_to_the_floor():
    sizer = BatchSizer(4000, target=0.5, maximum=100_000)
    sizer.aim = 0.5
    sizer.after(4000, 0.5, contended=True)  # web-app sessions queued on this batch's row locks
    assert sizer.aim == 0.25 and sizer.size == 2000  # half the duration, the size cut at once
    for _ in range(10):
        sizer.after(sizer.size, sizer.aim, contended=True)
    assert sizer.aim == 0.02 and sizer.size >= 1


def test_waiters_on_the_backfills_locks_shorten_the_next_batch():
    clock = Clock()
    waiting = iter([3, 0])
    throttle, said = _throttle(
        clock,
        Gauge(
            "sessions waiting on the backfill's locks",
            lambda: next(waiting),
            0,
            float("inf"),
            contention=True,
        ),
    )
    throttle.sizer.aim = 0.5
    size = throttle.between_batches(100, 0.5)
    assert size == 50 and throttle.sizer.aim == 0.25
    assert said[0] == "pausing: sessions waiting on the backfill's locks 3 is above 0"
    assert throttle.summary()["batch_time"] == 0.25


def test_other_indicators_pause_without_shortening_batches():
    clock = Clock()
    lag = iter([3.0, 0.2])
    throttle, _ = _throttle(clock, Gauge("replication lag", lambda: next(lag), 1.0, 30.0, " s"))
    throttle.between_batches(100, 0.5)
    assert throttle.sizer.aim == pytest.approx(0.03)  # paused, but the batch made nobody wait
