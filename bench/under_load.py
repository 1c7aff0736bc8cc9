"""The rollout under the web app's writes (DESIGN §10): pgbench runs the legacy statements while
forgea works, and the writers' latencies are compared with the same writers alone.

pgbench (from the embedded server's own binaries) runs a script of what the web app does: the
compare-and-set touch of a session, an AuditLog insert, and a legacy session insert (a new student
each time, so no duplicate active sessions appear). One run prints, side by side:

- writers' p99 and worst latency alone vs during `forgea backfill all` (default throttle);
- the backfill's duration throttled vs unthrottled (the same data, copied before the first run);
- the replica lag peak during the throttled backfill, with a streaming standby attached;
- writers' worst latency while `forgea migrate upgrade` (expand) runs behind a 15 s reader.

Usage: python -m bench.under_load [--sessions 200000] [--rate 150] [--clients 4]
Targets: p99 ratio <= 1.5 and worst < 1 s during the backfill; lag peak < 1 s; worst < 1 s during
the migration behind the reader.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.common import BenchServer, bench_server, build_legacy_database, print_table, scratch_database

BASELINE = "0001_baseline"
EXPAND_DONE = "0005_f6_session_indexes"
READER_SECONDS = 15.0

WRITER_SCRIPT = """\\set i random(1, {sessions})
\\set l random(1, {labs})
BEGIN;
UPDATE "LabSession" SET "lastActivityAt" = now()
  WHERE id = ('c0000000-0000-4000-8000-' || lpad(to_hex(:i), 12, '0'))::uuid AND status = status;
INSERT INTO "AuditLog" (id, "actorId", action, metadata)
  VALUES (gen_random_uuid(), 'github-webhook', 'LAB_VERIFY_ATTEMPT', '{{"actorType": "SYSTEM"}}');
WITH u AS (INSERT INTO "User" (id, email)
           VALUES (gen_random_uuid(), gen_random_uuid()::text || '@bench.invalid') RETURNING id)
INSERT INTO "LabSession" (id, "userId", "labId", "userForkUrl")
  SELECT gen_random_uuid(), u.id, ('b0000000-0000-4000-8000-' || lpad(to_hex(:l), 12, '0'))::uuid,
         'https://github.com/bench/' || gen_random_uuid() FROM u;
END;
"""


@dataclass
class Latencies:
    seconds: list[float]

    @property
    def p99(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")

    @property
    def worst(self) -> float:
        return max(self.seconds) if self.seconds else float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")


class Writers(threading.Thread):
    """pgbench as the web app's writers, in 5 s runs back to back until stopped (each run ends
    normally, so its per-transaction log is complete); latencies kept with their end time."""

    CHUNK_SECONDS = 5

    def __init__(self, server: BenchServer, dbname: str, sessions: int, clients: int, rate: int) -> None:
        from forgea_cli.db.embedded import binary

        super().__init__(daemon=True)
        self.server, self.dbname, self.clients, self.rate = server, dbname, clients, rate
        self.folder = Path(tempfile.mkdtemp(prefix="forgea-pgbench-"))
        self.script = self.folder / "webapp.sql"
        self.script.write_text(WRITER_SCRIPT.format(sessions=sessions, labs=20))
        self.pgbench = str(binary("pgbench"))
        self.stopping = threading.Event()
        self.done: list[tuple[float, float]] = []  # (end time, latency), seconds
        self.errors: list[str] = []

    def run(self) -> None:
        runs = 0
        while not self.stopping.is_set():
            runs += 1
            prefix = self.folder / f"run{runs}"
            command = [
                self.pgbench,
                "-h", self.server.host, "-p", str(self.server.port), "-U", self.server.user,
                "-n", "-f", str(self.script), "-c", str(self.clients), "-j", str(min(self.clients, 2)),
                "-R", str(self.rate), "-T", str(self.CHUNK_SECONDS), "-l", "--log-prefix", str(prefix),
                self.dbname,
            ]  # fmt: skip
            finished = subprocess.run(command, capture_output=True, text=True, check=False)
            if finished.returncode != 0:
                self.errors.append(finished.stderr.strip()[-300:])
            self._read_logs(prefix)

    def _read_logs(self, prefix: Path) -> None:
        for log in self.folder.glob(f"{prefix.name}.*"):
            for line in log.read_text().splitlines():
                parts = line.split()  # client txn latency_us script epoch_s epoch_us [lag]
                if len(parts) >= 6 and parts[2].isdigit():
                    self.done.append((int(parts[4]) + int(parts[5]) / 1e6, int(parts[2]) / 1e6))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)

    def window(self, start: float, end: float) -> Latencies:
        return Latencies([latency for finished, latency in self.done if start <= finished <= end])


class LagSampler(threading.Thread):
    """The worst replica lag seen, every 100 ms, through forgea's own health monitor."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.peak, self.done = url, 0.0, threading.Event()

    def run(self) -> None:
        from forgea_cli.db.engine import make_engine
        from forgea_cli.db.health import HealthMonitor
        from forgea_cli.db.uow import unit_of_work_factory

        engine = make_engine(self.url)
        try:
            with HealthMonitor(unit_of_work_factory(engine)) as health:
                while not self.done.wait(0.1):
                    self.peak = max(self.peak, health.replication_lag())
        finally:
            engine.dispose()


def forgea(server: BenchServer, dbname: str, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "FORGEA_DATABASE_URL": server.url(dbname), "FORGEA_ACTOR": "bench:under-load"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "forgea_cli", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"forgea {' '.join(args)} failed: {done.stderr.strip()[-800:]}")
    return time.perf_counter() - started, done


def copy_database(server: BenchServer, source: str, name: str) -> None:
    with server.admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')


def settle(server: BenchServer, dbname: str) -> None:
    """Vacuumed and checkpointed, so neither autovacuum of the fresh tables nor a checkpoint lands
    in one window and not the other: the writers' baseline is the steady state."""
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")


def migration_behind_a_reader(server: BenchServer, dbname: str, writers: Writers) -> tuple[Latencies, int]:
    """Expand (ADD COLUMN on LabSession needs ACCESS EXCLUSIVE) while a reader holds ACCESS SHARE."""
    started = time.time()
    reader = psycopg.connect(server.dsn(dbname))
    reader.execute('SELECT count(*) FROM "LabSession"')
    release = threading.Timer(READER_SECONDS, reader.rollback)
    release.start()
    _, upgrade = forgea(server, dbname, "migrate", "upgrade", EXPAND_DONE)
    release.join()
    reader.close()
    return writers.window(started, time.time()), upgrade.stderr.count("retry ")


def backfill_under_load(server: BenchServer, dbname: str, writers: Writers, *flags: str):
    """Writers' latencies during `backfill all`, its duration, and the replica lag peak."""
    sampler = LagSampler(server.url(dbname))
    sampler.start()
    started = time.time()
    seconds, _ = forgea(server, dbname, "backfill", "all", *flags)
    window = writers.window(started, time.time())
    sampler.done.set()
    sampler.join()
    return window, seconds, sampler.peak


THROTTLED = tuple(os.environ.get("FORGEA_BENCH_THROTTLE", "").split())  # e.g. "--nice 1" to compare
UNTHROTTLED = (
    "--batch-time", "60", "--max-batch-size", "5000", "--max-lag", "1000000", "--critical-lag", "1000000",
    "--max-active", "100000", "--max-waiters", "1000000",
)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=150, help="writer transactions per second")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--alone-seconds", type=float, default=30.0)
    args = parser.parse_args()
    from forgea_cli.db.embedded import start_standby, stop_standby

    with bench_server() as server, scratch_database(server, "underload") as name:
        build_legacy_database(server, name, args.sessions, revision=BASELINE)
        copy = f"{name}_unthrottled"
        writers = Writers(server, name, args.sessions, args.clients, args.rate)
        writers.start()
        standby_dir = Path(tempfile.mkdtemp(prefix="forgea-bench-standby-")) / "pgdata"
        try:
            time.sleep(3)
            during_migration, retries = migration_behind_a_reader(server, name, writers)
            writers.stop()
            copy_database(server, name, copy)
            settle(server, name)
            settle(server, copy)
            writers = Writers(server, name, args.sessions, args.clients, args.rate)
            writers.start()
            started = time.time()
            time.sleep(args.alone_seconds)
            alone = writers.window(started, time.time())
            start_standby(server.host, server.port, standby_dir)
            during, throttled_seconds, lag_peak = backfill_under_load(server, name, writers, *THROTTLED)
            writers.stop()
            writers = Writers(server, copy, args.sessions, args.clients, args.rate)
            writers.start()
            time.sleep(2)
            during_flat, flat_seconds, flat_lag = backfill_under_load(server, copy, writers, *UNTHROTTLED)
        finally:
            writers.stop()
            stop_standby(standby_dir)
            with server.admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        if writers.errors:
            print(f"pgbench reported errors: {writers.errors[:3]}", file=sys.stderr)

    ms = 1000.0
    rows = [
        (
            "writers alone: p99 / worst",
            f"{alone.p99 * ms:.1f} / {alone.worst * ms:.1f} ms",
            f"{len(alone.seconds)} txns",
        ),
        (
            "writers during backfill all: p99 / worst",
            f"{during.p99 * ms:.1f} / {during.worst * ms:.1f} ms",
            f"p99 ratio {during.p99 / alone.p99:.2f} (target <= 1.5); worst < 1 s",
        ),
        (
            "writers during unthrottled backfill: p99 / worst",
            f"{during_flat.p99 * ms:.1f} / {during_flat.worst * ms:.1f} ms",
            f"p99 ratio {during_flat.p99 / alone.p99:.2f}",
        ),
        (
            "backfill all: throttled vs unthrottled",
            f"{throttled_seconds:.1f} s vs {flat_seconds:.1f} s",
            f"ratio {throttled_seconds / flat_seconds:.2f}",
        ),
        ("replica lag peak: throttled / unthrottled", f"{lag_peak:.2f} / {flat_lag:.2f} s", "target < 1 s"),
        (
            f"writers while migrate upgrade waits behind a {READER_SECONDS:.0f} s reader: worst",
            f"{during_migration.worst * ms:.1f} ms",
            f"target < 1 s; the revision retried {retries} times",
        ),
    ]
    print_table(f"the rollout under the web app's writes ({args.sessions:,} sessions, {args.rate} tps)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
