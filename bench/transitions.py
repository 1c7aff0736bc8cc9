"""Transitions per second through the service layer vs the same work as raw psycopg statements.

8 workers (threads, each with its own connection) toggle their own sessions IN_PROGRESS <-> STUCK.
Tool: `transition_session` (read, compare-and-set UPDATE, AuditLog INSERT, commit). Baseline: the
same UPDATE … WHERE status = seen RETURNING + INSERT INTO "AuditLog" + COMMIT with psycopg.

Usage: python -m bench.transitions [--workers 8] [--seconds 5]
Target: tool / raw >= 0.6.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid

import psycopg

from bench.common import bench_server, print_table, scratch_database

SESSIONS_PER_WORKER = 20
OTHER = {"IN_PROGRESS": "STUCK", "STUCK": "IN_PROGRESS"}


def seed(dsn: str, workers: int) -> list[list[uuid.UUID]]:
    from tests.integration import seed as seeding

    with psycopg.connect(dsn, autocommit=True) as conn:
        lab_id = seeding.add_lab(conn)
        return [
            [seeding.add_session(conn, seeding.add_user(conn), lab_id) for _ in range(SESSIONS_PER_WORKER)]
            for _ in range(workers)
        ]


def run_for(seconds: float, workers: int, make_worker) -> float:
    stop, counts, threads = threading.Event(), [0] * workers, []
    for index in range(workers):
        threads.append(threading.Thread(target=make_worker(index, stop, counts)))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def tool_worker(url: str, sessions: list[list[uuid.UUID]]):
    from forgea_cli.db.engine import make_engine
    from forgea_cli.db.uow import unit_of_work_factory
    from forgea_cli.lifecycle import Status
    from forgea_cli.services.sessions import TransitionRequest, transition_session

    engine = make_engine(url, pool_size=len(sessions))
    uow = unit_of_work_factory(engine)

    def make(index, stop, counts):
        def work():
            state = dict.fromkeys(sessions[index], "IN_PROGRESS")
            while not stop.is_set():
                for session_id, status in state.items():
                    target = OTHER[status]
                    transition_session(uow, TransitionRequest(session_id, Status(target), "bench:tool"))
                    state[session_id] = target
                    counts[index] += 1

        return work

    return make, engine


def raw_worker(dsn: str, sessions: list[list[uuid.UUID]]):
    def make(index, stop, counts):
        def work():
            state = dict.fromkeys(sessions[index], "IN_PROGRESS")
            with psycopg.connect(dsn) as conn:
                while not stop.is_set():
                    for session_id, status in state.items():
                        target = OTHER[status]
                        row = conn.execute(
                            'UPDATE "LabSession" SET status = %s WHERE id = %s AND status = %s '
                            'RETURNING "userId", "labId"',
                            (target, session_id, status),
                        ).fetchone()
                        metadata = {
                            "actorType": "ADMIN",
                            "labId": str(row[1]),
                            "labSessionId": str(session_id),
                            "fromStatus": status,
                            "toStatus": target,
                            "statusChanged": True,
                        }
                        conn.execute(
                            'INSERT INTO "AuditLog" (id, "userId", "actorId", action, metadata) '
                            "VALUES (%s, %s, 'bench:raw', 'LAB_STATUS_TRANSITION', %s)",
                            (uuid.uuid4(), row[0], json.dumps(metadata)),
                        )
                        conn.commit()
                        state[session_id] = target
                        counts[index] += 1

        return work

    return make


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    from forgea_cli.db import migrations
    from forgea_cli.db.engine import make_engine

    with bench_server() as server, scratch_database(server, "transitions") as name:
        dsn, url = server.dsn(name), server.url(name)
        engine = make_engine(url)
        migrations.upgrade(engine, "head")
        engine.dispose()
        raw_sessions, tool_sessions = seed(dsn, args.workers), seed(dsn, args.workers)
        raw = run_for(args.seconds, args.workers, raw_worker(dsn, raw_sessions))
        make_tool, tool_engine = tool_worker(url, tool_sessions)
        tool = run_for(args.seconds, args.workers, make_tool)
        tool_engine.dispose()
        print_table(
            f"transitions/s with {args.workers} concurrent workers, {args.seconds:.0f} s each",
            [
                ("raw psycopg (UPDATE + INSERT audit)", f"{raw:,.0f}/s", "baseline"),
                ("forgea service layer", f"{tool:,.0f}/s", ""),
                ("ratio tool / raw", f"{tool / raw:.2f}", "target >= 0.6"),
            ],
        )
        return 0 if tool / raw >= 0.6 else 1


if __name__ == "__main__":
    sys.exit(main())
