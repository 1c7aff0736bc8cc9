"""The F6 rollout on N legacy sessions: wall time per stage, and the longest ACCESS EXCLUSIVE lock on
"LabSession" (sampled every 2 ms from pg_locks by a second connection while each stage runs).

Usage: python -m bench.rollout [--sessions 200000]
Target: longest ACCESS EXCLUSIVE hold on LabSession under 1 s, whatever N.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time

import psycopg

from bench.common import EXPAND_DONE, bench_server, print_table, scratch_database

STAGES = (
    ("adopt", ["migrate", "adopt"]),
    ("expand (upgrade to 0005)", ["migrate", "upgrade", EXPAND_DONE]),
    ("backfill all", ["backfill", "all", "--batch-size", "5000"]),
    ("resolve duplicates", ["backfill", "resolve-duplicates"]),
    ("contract (upgrade head)", ["migrate", "upgrade", "head"]),
    (
        "schema matches the models (verify-constraints)",
        ["verify-constraints", "--only", "catalog", "--only", "migrations"],
    ),
)
LEGACY_TABLES = ("User", "Lab", "LabSession", "VerificationLog", "AuditLog")
EXCLUSIVE_ON_SESSIONS = """
SELECT count(*) FROM pg_locks
WHERE relation = '"LabSession"'::regclass AND mode = 'AccessExclusiveLock' AND granted
"""


class ExclusiveLockWatch(threading.Thread):
    """Longest continuous interval in which someone held ACCESS EXCLUSIVE on LabSession."""

    def __init__(self, dsn: str) -> None:
        super().__init__(daemon=True)
        self.dsn, self.stop, self.longest, self.samples = dsn, threading.Event(), 0.0, 0

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            held_since = None
            while not self.stop.is_set():
                held = conn.execute(EXCLUSIVE_ON_SESSIONS).fetchone()[0] > 0
                now = time.perf_counter()
                self.samples += 1
                if held and held_since is None:
                    held_since = now
                elif not held and held_since is not None:
                    self.longest = max(self.longest, now - held_since)
                    held_since = None
                time.sleep(0.002)
            if held_since is not None:
                self.longest = max(self.longest, time.perf_counter() - held_since)


def counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in LEGACY_TABLES}


def run_stage(url: str, dsn: str, args: list[str]) -> tuple[float, float]:
    watch = ExclusiveLockWatch(dsn)
    watch.start()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "forgea_cli", *args],
        env={**os.environ, "FORGEA_DATABASE_URL": url},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    watch.stop.set()
    watch.join()
    return elapsed, watch.longest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200_000)
    args = parser.parse_args()
    from forgea_cli.db.fixtures import legacy_data, load_prisma_baseline

    with bench_server() as server, scratch_database(server, "rollout") as name:
        dsn, url = server.dsn(name), server.url(name)
        load_prisma_baseline(dsn)
        started = time.perf_counter()
        legacy_data.generate(dsn, legacy_data.LegacySize(sessions=args.sessions))
        print(f"generated {args.sessions:,} legacy sessions in {time.perf_counter() - started:.1f} s")
        before = counts(dsn)
        rows, longest_overall = [], 0.0
        for label, command in STAGES:
            elapsed, longest = run_stage(url, dsn, command)
            longest_overall = max(longest_overall, longest)
            rows.append(
                (label, f"{elapsed:.2f} s", f"longest ACCESS EXCLUSIVE on LabSession {longest * 1000:.0f} ms")
            )
        after = counts(dsn)
        lost = {t: before[t] - after[t] for t in LEGACY_TABLES if after[t] < before[t]}
        rows.append(
            ("longest ACCESS EXCLUSIVE (all stages)", f"{longest_overall * 1000:.0f} ms", "target < 1000 ms")
        )
        rows.append(("legacy rows lost", str(sum(lost.values())), f"{lost or 'none'} (target 0)"))
        print_table(f"rollout of {args.sessions:,} legacy sessions", rows)
        return 0 if not lost and longest_overall < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
