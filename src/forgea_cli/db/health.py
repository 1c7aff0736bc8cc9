"""What the primary says about its health while forgea works on it: replication lag, active
connections, sessions waiting on a lock forgea holds (read by the backfill throttle), and who holds
the lock a migration waits for.

Watches poll from a connection of their own, in a thread, because the interesting moment (a web-app
session queued behind forgea's lock) is over by the time the busy connection could ask.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from forgea_cli.db.uow import UnitOfWorkFactory


def backend_pid(connection: Connection) -> int:
    return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def lsn(value: str | None) -> int | None:
    """A pg_lsn ('16/B374D848') as a number, for comparisons in Python."""
    if not value:
        return None
    high, _, low = str(value).partition("/")
    return (int(high, 16) << 32) + int(low, 16)


_REPLICAS = text(
    """SELECT application_name, replay_lsn::text AS replay_lsn,
              extract(epoch FROM replay_lag)::float8 AS replay_lag
       FROM pg_stat_replication"""
)
_CURRENT_LSN = text("SELECT pg_current_wal_lsn()::text")
_ACTIVE = text(
    """SELECT count(*) FROM pg_stat_activity
       WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()"""
)


class HealthMonitor:
    """One monitoring connection (autocommit) for a backfill run; figures on demand."""

    def __init__(self, uow: UnitOfWorkFactory, clock=time.monotonic, history: int = 600) -> None:
        self._work = uow(autocommit=True)
        self._connection: Connection | None = None
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque(maxlen=history)  # (when, primary's WAL position)

    def __enter__(self) -> HealthMonitor:
        self._connection = self._work.__enter__().connection
        return self

    def __exit__(self, *exc: Any) -> None:
        self._work.__exit__(None, None, None)

    @property
    def connection(self) -> Connection:
        assert self._connection is not None, "use HealthMonitor as a context manager"
        return self._connection

    def replication_lag(self) -> float:
        """Seconds the slowest streaming replica is behind (0 without replicas).

        ``replay_lag`` alone goes stale when replay stops (it is measured when WAL is applied), so a
        replica behind the primary is also charged the time since the primary first had WAL it has
        not replayed, from this monitor's own samples of the primary's WAL position.
        """
        now = self._clock()
        current = lsn(self.connection.execute(_CURRENT_LSN).scalar_one())
        if current is not None:
            self._samples.append((now, current))
        worst = 0.0
        for row in self.connection.execute(_REPLICAS).mappings():
            worst = max(worst, row["replay_lag"] or 0.0, self._unreplayed_for(now, lsn(row["replay_lsn"])))
        return round(worst, 3)

    def _unreplayed_for(self, now: float, replayed: int | None) -> float:
        if replayed is None:
            return 0.0
        first_ahead = next((when for when, position in self._samples if position > replayed), None)
        return 0.0 if first_ahead is None else now - first_ahead

    def active_connections(self) -> int:
        return int(self.connection.execute(_ACTIVE).scalar_one())


class Watch:
    """Polls one query from its own connection in a thread until the block ends."""

    query: Any

    def __init__(self, engine: Engine | UnitOfWorkFactory, pid: int, interval: float = 0.1) -> None:
        self._engine = engine if isinstance(engine, Engine) else engine.engine
        self._pid, self._interval = pid, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            with self._engine.connect() as connection:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                while not self._stop.wait(self._interval):
                    self.seen(list(connection.execute(self.query, {"pid": self._pid}).mappings()))
        except DBAPIError:  # best effort: a refused connection only loses what the watch would tell
            return

    def seen(self, rows: list[Any]) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Blocker:
    """A session holding a lock a revision waited for (pg_blocking_pids of the migration's backend)."""

    pid: int
    application_name: str
    state: str
    query_start: str
    query: str

    def describe(self) -> str:
        app = self.application_name or "no application_name"
        return f"pid {self.pid} ({app}, {self.state}, query started {self.query_start}): {self.query}"


class BlockerWatch(Watch):
    """Who blocks the watched backend; the last non-empty answer is kept."""

    query = text(
        """SELECT a.pid, coalesce(a.application_name, '') AS application_name,
                  coalesce(a.state, '') AS state,
                  coalesce(to_char(a.query_start, 'YYYY-MM-DD HH24:MI:SS TZ'), '') AS query_start,
                  left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 120) AS query
           FROM pg_stat_activity a WHERE a.pid = ANY(pg_blocking_pids(:pid)) ORDER BY a.pid"""
    )

    def __init__(self, engine: Engine | UnitOfWorkFactory, pid: int, interval: float = 0.05) -> None:
        super().__init__(engine, pid, interval)
        self.last_seen: tuple[Blocker, ...] = ()

    def seen(self, rows: list[Any]) -> None:
        if rows:
            self.last_seen = tuple(Blocker(**row) for row in rows)


class WaitersWatch(Watch):
    """How many sessions wait on a lock the watched backend holds; the most since the last `take()`."""

    query = text("SELECT count(*) AS waiting FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")

    def __init__(self, engine: Engine | UnitOfWorkFactory, pid: int, interval: float = 0.1) -> None:
        super().__init__(engine, pid, interval)
        self._most = 0
        self._lock = threading.Lock()

    def seen(self, rows: list[Any]) -> None:
        with self._lock:
            self._most = max(self._most, int(rows[0]["waiting"]))

    def take(self) -> int:
        with self._lock:
            most, self._most = self._most, 0
        return most
