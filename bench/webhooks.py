"""Benchmark of the webhook path (issue 14): the lookup by repository id vs the legacy string match,
and replay throughput.

    .venv/bin/python -m bench.webhooks [--sessions 1000000] [--deliveries 2000] [--runs 25]

On a throwaway embedded PostgreSQL it builds N legacy sessions, takes them through the runbook with
the CLI (expand, `backfill all`, `backfill resolve-duplicates`, contract and the ledger revision),
binds every mapping's providerRepoId (as `mapping resolve-ids` would), then measures:

(a) the server-side execution time (EXPLAIN ANALYZE, median over ``--runs`` repositories picked at
    random) of the webhook lookup by repository id (rule 1: the GitHubRepoMapping providerRepoId
    index, joined to its session) against the web app's legacy match
    `findFirst({userForkUrl: html_url, status in (IN_PROGRESS, STUCK)})` (LIMIT 1, no index);
(b) replay throughput: ``--deliveries`` signed push deliveries saved as raw bodies, each for a
    different bound repository, replayed by one `forgea webhook replay FILE… --secret-env` process
    (signatures checked, lookup, ledger claim, audit rows and transition per delivery), and the same
    files again (every one a duplicate).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/webhooks.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench.common import (
    BenchServer,
    bench_server,
    build_legacy_database,
    print_table,
    scratch_database,
    timed,
)

SECRET = "bench-webhook-secret"
FIRST_REPO_ID = 500_000_001
RUNBOOK = (
    ["backfill", "all", "--batch-size", "20000"],
    ["backfill", "resolve-duplicates"],
    ["migrate", "upgrade", "head"],
)
BIND_IDS = f"""
UPDATE "GitHubRepoMapping" m
SET "providerRepoId" = {FIRST_REPO_ID - 1} + n.rank, resolution = 'RESOLVED', "htmlUrl" = n."userForkUrl",
    "resolvedAt" = LOCALTIMESTAMP
FROM (SELECT m2.id, s."userForkUrl", row_number() OVER (ORDER BY m2.id) AS rank
      FROM "GitHubRepoMapping" m2 JOIN "LabSession" s ON s.id = m2."labSessionId") n
WHERE m.id = n.id
"""
BY_ID = """
SELECT m.*, s.id, s."userId", s."labId", s.status, s."userForkUrl", s."lastActivityAt"
FROM "GitHubRepoMapping" m JOIN "LabSession" s ON s.id = m."labSessionId"
WHERE m."providerRepoId" = %s
"""
LEGACY = """
SELECT * FROM "LabSession" WHERE "userForkUrl" = %s AND status IN ('IN_PROGRESS', 'STUCK') LIMIT 1
"""
SAMPLE = """
SELECT m."providerRepoId", s."userForkUrl", m.owner, m.name
FROM "GitHubRepoMapping" m JOIN "LabSession" s ON s.id = m."labSessionId"
WHERE s.status IN ('IN_PROGRESS', 'STUCK') AND m."providerRepoId" IS NOT NULL
ORDER BY md5(m.id::text || %s) LIMIT %s
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000, help="legacy sessions (default 1,000,000)")
    parser.add_argument("--deliveries", type=int, default=2000, help="saved deliveries replayed")
    parser.add_argument("--runs", type=int, default=25, help="repositories timed by each lookup")
    args = parser.parse_args(argv)
    with bench_server() as server, scratch_database(server, "bench_webhooks") as dbname:
        print(f"building {args.sessions:,} legacy sessions …", flush=True)
        build = timed(lambda: build_legacy_database(server, dbname, args.sessions))
        print(f"built in {build:.1f}s; the runbook with the CLI …", flush=True)
        runbook = timed(lambda: _runbook(server, dbname))
        print(f"runbook {runbook:.1f}s; binding repository ids …", flush=True)
        bound = _bind(server.dsn(dbname))
        print(f"{bound:,} mappings bound; lookups …", flush=True)
        lookups = _lookups(server.dsn(dbname), args.runs)
        print("replay …", flush=True)
        replay = _replay(server, dbname, args.deliveries)
    _report(args, bound, lookups, replay)


def _forgea(server: BenchServer, dbname: str, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "forgea_cli", *args],
        env={**os.environ, "FORGEA_DATABASE_URL": server.url(dbname), **(env or {})},
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _runbook(server: BenchServer, dbname: str) -> None:
    for step in RUNBOOK:
        _forgea(server, dbname, *step)


def _bind(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        bound = conn.execute(BIND_IDS).rowcount
        conn.execute('VACUUM ANALYZE "GitHubRepoMapping"')
        conn.execute('VACUUM ANALYZE "LabSession"')
    return bound


def _execution_ms(conn: psycopg.Connection, query: str, value: object) -> float:
    plan = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", (value,)).fetchone()[0]
    return float(plan[0]["Execution Time"])


def _lookups(dsn: str, runs: int) -> dict[str, float]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        sample = conn.execute(SAMPLE, (str(random.random()), runs)).fetchall()
        for repo_id, url, *_ in sample[:3]:  # warm the caches both ways
            _execution_ms(conn, BY_ID, repo_id)
            _execution_ms(conn, LEGACY, url)
        by_id = [_execution_ms(conn, BY_ID, repo_id) for repo_id, *_ in sample]
        legacy = [_execution_ms(conn, LEGACY, url) for _, url, *_ in sample]
    return {
        "by_id": statistics.median(by_id),
        "legacy": statistics.median(legacy),
        "by_id_max": max(by_id),
        "legacy_min": min(legacy),
        "runs": len(sample),
    }


def _payload(repo_id: int, owner: str, name: str, index: int) -> dict:
    full_name = f"{owner}/{name}"
    return {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": hashlib.sha1(f"commit {index}".encode()).hexdigest(),
        "created": False,
        "deleted": False,
        "forced": False,
        "compare": f"https://github.com/{full_name}/compare/0000000...{index:07x}",
        "commits": [],
        "repository": {
            "id": repo_id,
            "name": name,
            "full_name": full_name,
            "private": True,
            "owner": {"login": owner, "type": "Organization"},
            "html_url": f"https://github.com/{full_name}",
            "default_branch": "main",
        },
        "pusher": {"name": "student", "email": "student@example.edu"},
        "sender": {"login": "student", "type": "User"},
    }


def _replay(server: BenchServer, dbname: str, count: int) -> dict[str, float]:
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        sample = conn.execute(SAMPLE, ("replay", count)).fetchall()
    with tempfile.TemporaryDirectory(prefix="forgea-bench-deliveries-") as folder:
        files = []
        for index, (repo_id, _url, owner, name) in enumerate(sample):
            body = json.dumps(_payload(int(repo_id), owner, name, index)).encode()
            path = Path(folder) / f"{index:06d}.json"
            path.write_bytes(body)
            files.append((path, hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()))
        env = {"FORGEA_BENCH_WEBHOOK_SECRET": SECRET}

        def one_process() -> None:
            # --delivery-id/--signature name one delivery: a delivery object per file carries its own.
            objects = []
            for index, (path, _digest) in enumerate(files):
                document = {
                    "guid": f"bench-{index:06d}",
                    "event": "push",
                    "request": {
                        "headers": {"X-GitHub-Delivery": f"bench-{index:06d}", "X-GitHub-Event": "push"},
                        "payload": json.loads(path.read_bytes()),
                    },
                }
                target = path.with_suffix(".delivery.json")
                target.write_text(json.dumps(document))
                objects.append(str(target))
            started = time.perf_counter()
            _forgea(server, dbname, "webhook", "replay", *objects, "--json")
            timings["objects"] = time.perf_counter() - started

        timings: dict[str, float] = {}
        signed = _signed_replay(server, dbname, files[:20], env)
        one_process()
        started = time.perf_counter()
        _forgea(server, dbname, "webhook", "replay", *(str(p) for p in _object_files(folder)), "--json")
        timings["duplicates"] = time.perf_counter() - started
    return {
        "deliveries": float(len(files)),
        "per_second": len(files) / timings["objects"],
        "duplicates_per_second": len(files) / timings["duplicates"],
        "signed_per_second": signed,
    }


def _object_files(folder: str) -> list[Path]:
    return sorted(Path(folder).glob("*.delivery.json"))


def _signed_replay(server: BenchServer, dbname: str, files: list, env: dict[str, str]) -> float:
    """Raw bodies with their signatures checked: one FILE per `--signature`, so one process each;
    reported per delivery including the process start (the figure a cron job would see)."""
    started = time.perf_counter()
    for index, (path, digest) in enumerate(files):
        _forgea(
            server, dbname, "webhook", "replay", str(path), "--event", "push",
            "--delivery-id", f"signed-{index:06d}", "--signature", f"sha256={digest}",
            "--secret-env", "FORGEA_BENCH_WEBHOOK_SECRET", env=env,
        )  # fmt: skip
    return len(files) / (time.perf_counter() - started)


def _report(args, bound: int, lookups: dict[str, float], replay: dict[str, float]) -> None:
    ratio = lookups["legacy"] / lookups["by_id"]
    print_table(
        f"webhooks at {args.sessions:,} sessions ({bound:,} mappings bound)",
        [
            ("lookup by repository id, server-side (median)", f"{lookups['by_id']:.3f} ms",
             f"EXPLAIN ANALYZE over {lookups['runs']} repositories (worst {lookups['by_id_max']:.3f} ms)"),
            ("legacy userForkUrl = html_url (median)", f"{lookups['legacy']:.1f} ms",
             f"the web app's findFirst, LIMIT 1 (best {lookups['legacy_min']:.1f} ms)"),
            ("legacy / by id", f"{ratio:,.0f}×", "target ≥ 100×"),
            ("replay, one process (delivery objects)", f"{replay['per_second']:,.0f}/s",
             f"{replay['deliveries']:,.0f} pushes applied: lookup, ledger, 2 audit rows, transition"),
            ("replay again (all duplicates)", f"{replay['duplicates_per_second']:,.0f}/s", "nothing written"),
            ("signed raw body, one process per file", f"{replay['signed_per_second']:,.1f}/s",
             "HMAC checked; dominated by the process start"),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
