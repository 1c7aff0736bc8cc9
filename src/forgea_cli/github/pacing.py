"""Client-side pacing of content-creating requests under GitHub's secondary rate limit.

GitHub allows about 80 content-creating requests per minute and 500 per hour; going over earns a
403 that can last minutes, so bulk creation waits for a free slot instead of being refused.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MINUTE = 60.0
HOUR = 3600.0


class CreationPacer:
    """Thread-safe sliding-window limiter honouring a per-minute and a per-hour budget.

    ``acquire()`` blocks (through the injected ``sleep``) until both windows have a free slot and
    then takes it. A test clock must advance when the injected sleep is called.
    """

    def __init__(
        self,
        per_minute: int = 80,
        per_hour: int = 500,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 1 or per_hour < 1:
            raise ValueError("per_minute and per_hour must be at least 1")
        self.per_minute = per_minute
        self.per_hour = per_hour
        self._clock = clock
        self._sleep = sleep
        self._granted: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take a slot, waiting as long as needed; returns the seconds spent waiting."""
        waited = 0.0
        while True:
            with self._lock:
                delay = self._delay_or_take(self._clock())
            if delay <= 0:
                return waited
            # Sleep outside the lock so other threads can still compute their own delay.
            self._sleep(delay)
            waited += delay

    def in_flight(self) -> tuple[int, int]:
        """Slots used in the current minute and hour windows (for progress reports)."""
        with self._lock:
            now = self._clock()
            self._forget_older_than(now - HOUR)
            return self._count_since(now - MINUTE), len(self._granted)

    def _delay_or_take(self, now: float) -> float:
        self._forget_older_than(now - HOUR)
        delay = max(
            self._window_delay(now, MINUTE, self.per_minute),
            self._window_delay(now, HOUR, self.per_hour),
        )
        if delay <= 0:
            self._granted.append(now)
        return delay

    def _window_delay(self, now: float, window: float, budget: int) -> float:
        in_window = [t for t in self._granted if t > now - window]
        if len(in_window) < budget:
            return 0.0
        # The slot frees when the oldest grant that keeps us at the budget leaves the window.
        frees_at = in_window[len(in_window) - budget] + window
        return max(frees_at - now, 1e-3)

    def _forget_older_than(self, cutoff: float) -> None:
        while self._granted and self._granted[0] <= cutoff:
            self._granted.popleft()

    def _count_since(self, cutoff: float) -> int:
        return sum(1 for t in self._granted if t > cutoff)
