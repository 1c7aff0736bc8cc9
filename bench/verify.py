"""Wall time of `forgea verify-constraints` on N sessions at head, next to an empty head database.

Usage: python -m bench.verify [--sessions 1000000] [--repeat 3]
Target: under 10 s for the whole command at 1,000,000 sessions.

The big database is legacy data generated on a Prisma replica, adopted, expanded (0005), brought
to the contract's preconditions with set-based SQL equivalent to the backfills (labVersionId from
the lab's current version, completedAt = lastActivityAt for VERIFIED_PASS, PASS attempts for the
legacy VerificationLog rows, all but the most recently active duplicate deferred, one repository
mapping per canonical URL), then upgraded to head. Each run is a fresh `forgea` process.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time

import psycopg

from bench.common import EXPAND_DONE, bench_server, build_legacy_database, print_table, scratch_database

GROUPS = ("migrations", "catalog", "probes", "data")

# What `forgea backfill lab-versions / completed-at / verification-attempts / resolve-duplicates`
# leave behind, written in one pass each. Triggers are off (replica role): the bench owns the data.
TO_CONTRACT_READY = (
    """INSERT INTO "LabVersion" ("labId", version, "templateRepoUrl")
       SELECT id, "repoVersion", "baseRepoUrl" FROM "Lab" ON CONFLICT ("labId", version) DO NOTHING""",
    """UPDATE "LabSession" s
       SET "labVersionId" = v.id,
           "completedAt" = CASE WHEN s.status = 'VERIFIED_PASS' THEN s."lastActivityAt" END
       FROM "Lab" l JOIN "LabVersion" v ON v."labId" = l.id AND v.version = l."repoVersion"
       WHERE l.id = s."labId" """,
    """INSERT INTO "VerificationAttempt" ("labSessionId", "attemptNumber", "commitSha", result, "ciOutput",
                                         "prDiff", "legacyVerificationLogId", "createdAt")
       SELECT "sessionId", 1, "commitSha", 'PASS', "ciOutput", "prDiff", id, "verifiedAt"
       FROM "VerificationLog" """,
    """UPDATE "LabSession" s SET status = 'DEFERRED'
       FROM (SELECT id, row_number() OVER (PARTITION BY "userId", "labId"
                                          ORDER BY "lastActivityAt" DESC, "startedAt" DESC, id DESC) AS rank
             FROM "LabSession" WHERE status IN ('IN_PROGRESS', 'STUCK')) r
       WHERE r.id = s.id AND r.rank > 1""",
)
# Every 50th mapping is still PENDING and every 200th NOT_FOUND, as while `mapping resolve-ids` runs.
MAPPING_COLUMNS = (
    '"labSessionId", "providerRepoId", owner, name, "canonicalUrl", "htmlUrl", resolution, source'
)


def upgrade_to_head(url: str) -> None:
    from forgea_cli.db import migrations
    from forgea_cli.db.engine import make_engine

    engine = make_engine(url)
    try:
        migrations.upgrade(engine, "head")
    finally:
        engine.dispose()


def bring_to_head(server, name: str) -> dict[str, float]:
    """Expanded legacy database -> head, timing each step."""
    seconds = {}
    with psycopg.connect(server.dsn(name)) as conn:
        conn.execute("SET session_replication_role = replica")
        started = time.perf_counter()
        for statement in TO_CONTRACT_READY:
            conn.execute(statement)
        conn.commit()
        seconds["backfill-equivalent SQL"] = time.perf_counter() - started
        started = time.perf_counter()
        mapped = insert_mappings(conn)
        conn.commit()
        seconds[f"{mapped:,} repository mappings"] = time.perf_counter() - started
    with psycopg.connect(server.dsn(name), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    started = time.perf_counter()
    upgrade_to_head(server.url(name))
    seconds["contract (upgrade head)"] = time.perf_counter() - started
    return seconds


def insert_mappings(conn: psycopg.Connection) -> int:
    """One mapping per canonical URL (first session wins); invalid URLs stay unmapped."""
    from forgea_cli.errors import InvalidInput
    from forgea_cli.urls import parse_repo_url

    rows, seen = io.StringIO(), set()
    with conn.cursor(name="sessions") as cursor:
        cursor.itersize = 20_000
        cursor.execute('SELECT id, "userForkUrl" FROM "LabSession" ORDER BY id')
        for number, (session_id, url) in enumerate(cursor, start=1):
            try:
                ref = parse_repo_url(url)
            except InvalidInput:
                continue
            if ref.canonical_url in seen:
                continue
            seen.add(ref.canonical_url)
            resolution = "NOT_FOUND" if number % 200 == 0 else "PENDING" if number % 50 == 0 else "RESOLVED"
            repo_id = str(number) if resolution == "RESOLVED" else r"\N"
            fields = (session_id, repo_id, ref.owner, ref.name, ref.canonical_url, url.strip(), resolution)
            rows.write("\t".join(str(f) for f in fields) + "\tBACKFILL\n")
    with conn.cursor().copy(f'COPY "GitHubRepoMapping" ({MAPPING_COLUMNS}) FROM STDIN') as copy:
        copy.write(rows.getvalue())
    return len(seen)


def run_verify(url: str) -> tuple[float, dict]:
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "forgea_cli", "verify-constraints", "--json"],
        env={**os.environ, "FORGEA_DATABASE_URL": url},
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode not in (0, 1):
        raise SystemExit(f"verify-constraints exited {completed.returncode}: {completed.stderr.strip()}")
    return elapsed, json.loads(completed.stdout)


def measure(url: str, repeat: int) -> tuple[float, dict]:
    runs = [run_verify(url) for _ in range(repeat)]
    return statistics.median(seconds for seconds, _ in runs), runs[-1][1]


def describe(document: dict) -> str:
    summary = document["summary"]
    return (
        f"exit {document['exit_code']}: {summary['fail']} failed, {summary['warn']} warnings, "
        f"{summary['pass']} passed"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per database (the median is shown)")
    args = parser.parse_args()
    with (
        bench_server() as server,
        scratch_database(server, "verify_big") as big,
        scratch_database(server, "verify_empty") as empty,
    ):
        started = time.perf_counter()
        build_legacy_database(server, big, args.sessions, EXPAND_DONE)
        setup = {f"legacy data + expand ({args.sessions:,} sessions)": time.perf_counter() - started}
        setup.update(bring_to_head(server, big))
        upgrade_to_head(server.url(empty))
        print_table("setup", [(label, f"{s:.1f} s", "") for label, s in setup.items()])

        big_seconds, big_doc = measure(server.url(big), args.repeat)
        empty_seconds, empty_doc = measure(server.url(empty), args.repeat)

    rows = [
        ("", f"{args.sessions:,} sessions", "empty"),
        ("verify-constraints (median wall)", f"{big_seconds:.2f} s", f"{empty_seconds:.2f} s"),
        *[
            (f"  {group}", f"{big_doc['seconds'][group]:.2f} s", f"{empty_doc['seconds'][group]:.2f} s")
            for group in GROUPS
        ],
        ("result", describe(big_doc), describe(empty_doc)),
        ("ratio big / empty", f"{big_seconds / empty_seconds:.1f}x", "target: big < 10 s"),
    ]
    print_table(f"forgea verify-constraints, {args.repeat} runs each", rows)
    return 0 if big_seconds < 10 and big_doc["ok"] and empty_doc["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
