"""Benchmark of the repo-mapping backfill, id resolution and the webhook lookup (issue 6).

    .venv/bin/python -m bench.backfill [--sessions 1000000] [--batch-size 5000]

On a throwaway embedded PostgreSQL it builds N legacy sessions (Prisma baseline, legacy data,
adopted and upgraded to 0005: expand done, contract not), then times in one run:

(a) `python -m forgea_cli mapping backfill --json` in a child process (wall time, peak RSS);
(b) one hand-written set-based INSERT … SELECT doing the same canonicalisation in SQL (regular
    expressions) and the same winner rule, into a scratch table identical to GitHubRepoMapping
    (same columns, defaults, checks, indexes and foreign key) — and checks (a) and (b) agree;
the rerun of (a) (nothing to do), `resolve-ids` requests per 1,000 repositories against the fake
GitHub (with one rate-limited answer in the middle), and the webhook lookup by repository id
against the legacy `userForkUrl = html_url` string match (medians).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/backfill.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench.common import (
    BenchServer,
    bench_server,
    build_legacy_database,
    median_seconds,
    print_table,
    scratch_database,
    timed,
)
from forgea_cli.urls import RESERVED_FIRST_SEGMENTS

RESERVED = ", ".join(f"'{segment}'" for segment in sorted(RESERVED_FIRST_SEGMENTS))
SCHEME_AND_USER = r"^(?:(?:git\+)?https?|ssh|git\+ssh|ssh\+git|git)://(?:[^/@]*@)?|^[^/@:]+@"
HOST_OWNER_REPO = r"^(?:www\.|ssh\.)?github\.com(?::[0-9]+)?[:/]/*([A-Za-z0-9-]+)/+([A-Za-z0-9._-]+)(?:/.*)?$"

SCRATCH_TABLE = """
DROP TABLE IF EXISTS bench_scratch_mapping;
CREATE TABLE bench_scratch_mapping (LIKE "GitHubRepoMapping" INCLUDING ALL);
ALTER TABLE bench_scratch_mapping ADD FOREIGN KEY ("labSessionId") REFERENCES "LabSession"("id")
    ON DELETE RESTRICT ON UPDATE CASCADE;
"""

# urls.py in SQL: drop query and fragment, then scheme and user info, then match host and the
# first two path segments; validate them like GitHub does; same winner rule as the tool.
SET_BASED_INSERT = f"""
INSERT INTO bench_scratch_mapping ("labSessionId", "owner", "name", "canonicalUrl", "resolution", "source")
SELECT DISTINCT ON (canonical) id, owner, name, canonical, 'PENDING', 'BACKFILL'
FROM (
    SELECT s."id", s."status", s."lastActivityAt", p.owner, p.name,
           lower('https://github.com/' || p.owner || '/' || p.name) AS canonical
    FROM "LabSession" s
    CROSS JOIN LATERAL (
        SELECT m[1] AS owner, regexp_replace(m[2], '\\.git$', '', 'i') AS name
        FROM regexp_match(
            regexp_replace(split_part(split_part(btrim(s."userForkUrl"), '#', 1), '?', 1),
                           '{SCHEME_AND_USER}', '', 'i'),
            '{HOST_OWNER_REPO}', 'i') m
    ) p
    WHERE NOT EXISTS (SELECT 1 FROM "GitHubRepoMapping" g WHERE g."labSessionId" = s."id")
) c
WHERE owner !~ '(^-|-$|--)' AND length(owner) <= 39 AND lower(owner) NOT IN ({RESERVED})
  AND name NOT IN ('', '.', '..') AND length(name) <= 100 AND name !~* '\\.git$'
  AND NOT EXISTS (SELECT 1 FROM "GitHubRepoMapping" g WHERE g."canonicalUrl" = c.canonical)
ORDER BY canonical, ("status" IN ('IN_PROGRESS', 'STUCK')) DESC, "lastActivityAt" DESC, id
"""

DIFFERENCES = """
SELECT (SELECT count(*) FROM (SELECT "labSessionId", "canonicalUrl", owner, name FROM "GitHubRepoMapping"
                              EXCEPT SELECT "labSessionId", "canonicalUrl", owner, name
                              FROM bench_scratch_mapping) a),
       (SELECT count(*) FROM (SELECT "labSessionId", "canonicalUrl", owner, name FROM bench_scratch_mapping
                              EXCEPT SELECT "labSessionId", "canonicalUrl", owner, name
                              FROM "GitHubRepoMapping") b)
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000, help="legacy sessions (default 1,000,000)")
    parser.add_argument("--batch-size", type=int, default=5000, help="backfill batch size")
    parser.add_argument("--resolve", type=int, default=1000, help="repositories resolved against the fake")
    args = parser.parse_args(argv)
    with bench_server() as server, scratch_database(server, "bench_backfill") as dbname:
        print(f"building {args.sessions:,} legacy sessions …", flush=True)
        build_seconds = timed(lambda: build_legacy_database(server, dbname, args.sessions))
        print(f"built in {build_seconds:.1f}s; timing (b) set-based INSERT … SELECT …", flush=True)
        set_based_seconds, set_based_rows = _set_based(server, dbname)
        print(f"(b) {set_based_seconds:.1f}s; timing (a) forgea mapping backfill …", flush=True)
        tool = _run_backfill(server.url(dbname), args.batch_size)
        missing, extra = _differences(server, dbname)
        print(f"(a) {tool['seconds']:.1f}s; rerun …", flush=True)
        rerun = _run_backfill(server.url(dbname), args.batch_size)
        print("resolve-ids against the fake GitHub …", flush=True)
        resolve = _resolve(server.url(dbname), args.resolve)
        print("lookups …", flush=True)
        lookups = _lookups(server.url(dbname), resolve["repo_ids"])
    _report(
        args, build_seconds, set_based_seconds, set_based_rows, tool, rerun, missing, extra, resolve, lookups
    )


def _set_based(server: BenchServer, dbname: str) -> tuple[float, int]:
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        conn.execute(SCRATCH_TABLE)
        conn.execute("SET work_mem = '64MB'")  # what the tool sets for its own sessions
        conn.execute('SELECT count(*) FROM "LabSession"')  # same warm cache for (a) and (b)
        conn.execute("CHECKPOINT")
        started = time.perf_counter()
        rows = conn.execute(SET_BASED_INSERT).rowcount
        seconds = time.perf_counter() - started
        conn.execute("CHECKPOINT")
    return seconds, rows


def _differences(server: BenchServer, dbname: str) -> tuple[int, int]:
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        missing, extra = conn.execute(DIFFERENCES).fetchone()  # type: ignore[misc]
        conn.execute("DROP TABLE bench_scratch_mapping")
        conn.execute("CHECKPOINT")
    return int(missing), int(extra)


# -- (a) and its rerun -------------------------------------------------------------------------------------


def _run_backfill(url: str, batch_size: int) -> dict[str, Any]:
    """The tool as an operator runs it, in a child process: wall time, peak RSS, its JSON report."""
    command = [
        sys.executable,
        "-m",
        "forgea_cli",
        "mapping",
        "backfill",
        "--json",
        "--batch-size",
        str(batch_size),
    ]
    with (
        tempfile.TemporaryDirectory() as scratch,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        env = {**os.environ, "FORGEA_DATABASE_URL": url, "FORGEA_DATA_DIR": scratch}
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"backfill failed ({child.returncode}): {err.read().decode(errors='replace')}")
        report = json.loads(out.read())
    return {"seconds": seconds, "rss_mb": usage.ru_maxrss / 1024, "report": report}


# -- resolve-ids -------------------------------------------------------------------------------------------


class _RateLimitedOnce:
    """Delegates to the real gateway; the fake answers one request in the middle with a rate limit."""

    def __init__(self, gateway: Any, fake: Any, at_call: int) -> None:
        self._gateway, self._fake, self._at = gateway, fake, at_call
        self.calls = 0

    def lookup_many(self, full_names: list[str]) -> Any:
        self.calls += 1
        if self.calls == self._at:
            self._fake.primary_rate_limit_next("graphql", reset_in=1, as_graphql_error=True)
        return self._gateway.lookup_many(full_names)


def _resolve(url: str, count: int) -> dict[str, Any]:
    from forgea_cli.db.engine import make_engine
    from forgea_cli.db.mapping_queries import pending_page
    from forgea_cli.db.uow import unit_of_work_factory
    from forgea_cli.github.pygithub_gateway import PyGithubGateway
    from forgea_cli.services.mapping import resolve_repo_ids
    from forgea_cli.testing.github_server import FakeGitHub

    engine = make_engine(url)
    waits: list[float] = []
    try:
        with engine.connect() as connection:
            pending = pending_page(connection, None, count)
        with FakeGitHub(token="bench-token") as fake:
            for index, mapping in enumerate(pending):
                if index % 20 != 19:  # every 20th repository is gone: NOT_FOUND
                    fake.add_repo(mapping.full_name)
            real = PyGithubGateway(fake.url, "bench-token", sleep=waits.append)
            gateway = _RateLimitedOnce(real, fake, at_call=max(1, len(pending) // 200))
            started = time.perf_counter()
            report = resolve_repo_ids(unit_of_work_factory(engine), gateway, limit=count)  # type: ignore[arg-type]
            seconds = time.perf_counter() - started
            requests = fake.request_count("graphql")
            real.close()
        with engine.connect() as connection:
            repo_ids = [
                row[0]
                for row in connection.exec_driver_sql(
                    'SELECT "providerRepoId" FROM "GitHubRepoMapping" WHERE "providerRepoId" IS NOT NULL'
                )
            ]
    finally:
        engine.dispose()
    return {
        "looked_up": report.pending,
        "requests": requests,
        "retries": len(waits),
        "per_thousand": requests * 1000 / max(report.pending, 1),
        "resolved": report.details["resolved"],
        "not_found": report.details["not_found"],
        "seconds": seconds,
        "repo_ids": repo_ids,
    }


# -- lookups -----------------------------------------------------------------------------------------------


def _lookups(url: str, repo_ids: list[int]) -> dict[str, float]:
    from forgea_cli.db.engine import make_engine
    from forgea_cli.db.uow import unit_of_work_factory
    from forgea_cli.services.mapping import lookup_repo

    engine = make_engine(url)
    uow = unit_of_work_factory(engine)
    try:
        with engine.connect() as connection:
            urls = [
                row[0]
                for row in connection.exec_driver_sql(
                    'SELECT s."userForkUrl" FROM "GitHubRepoMapping" m JOIN "LabSession" s '
                    'ON s.id = m."labSessionId" WHERE m."providerRepoId" IS NOT NULL LIMIT 25'
                )
            ]
        ids = iter(repo_ids * 10)
        by_id = median_seconds(
            lambda: lookup_repo(uow, repo_id=next(ids)), repeat=min(200, len(repo_ids) * 10)
        )
        by_url = iter(urls * 10)

        def legacy() -> None:
            with engine.connect() as connection:
                connection.exec_driver_sql(
                    'SELECT * FROM "LabSession" WHERE "userForkUrl" = %(u)s', {"u": next(by_url)}
                ).all()

        by_string = median_seconds(legacy, repeat=len(urls))
    finally:
        engine.dispose()
    return {"by_id": by_id, "by_string": by_string}


# -- output ------------------------------------------------------------------------------------------------


def _report(args, build, set_based, set_based_rows, tool, rerun, missing, extra, resolve, lookups) -> None:
    report = tool["report"]
    ratio = tool["seconds"] / set_based
    rows = [
        ("sessions", f"{args.sessions:,}", f"legacy data built in {build:.1f}s"),
        (
            "(a) forgea mapping backfill",
            f"{tool['seconds']:.1f} s",
            f"{report['changed']:,} mapped, "
            f"{report['duplicate_url']:,} DUPLICATE_URL, {report['invalid_url']:,} INVALID_URL, "
            f"{report['batches']} batches of {args.batch_size}",
        ),
        ("(b) set-based INSERT … SELECT", f"{set_based:.1f} s", f"{set_based_rows:,} rows"),
        ("(a)/(b)", f"{ratio:.2f}", "target ≤ 1.3"),
        (
            "(a) and (b) agree",
            "yes" if missing == extra == 0 else "NO",
            f"{missing} only in (a), {extra} only in (b)",
        ),
        (
            "rerun (nothing to do)",
            f"{rerun['seconds']:.2f} s",
            f"target < 2 s; nothing_to_do={rerun['report']['nothing_to_do']}, "
            f"changed={rerun['report']['changed']}",
        ),
        (
            "peak RSS of the tool",
            f"{tool['rss_mb']:.0f} MB",
            f"target < 250 MB; rerun {rerun['rss_mb']:.0f} MB",
        ),
        ("lookup by repository id (median)", f"{lookups['by_id'] * 1000:.2f} ms", "rule 1, service call"),
        (
            "legacy userForkUrl = html_url (median)",
            f"{lookups['by_string'] * 1000:.1f} ms",
            "sequential scan",
        ),
        ("legacy / by id", f"{lookups['by_string'] / lookups['by_id']:.0f}×", ""),
        (
            "resolve-ids requests per 1,000 repos",
            f"{resolve['per_thousand']:.1f}",
            f"target ≤ 10 + retries; {resolve['requests']} requests for {resolve['looked_up']:,} "
            f"repositories incl. {resolve['retries']} rate-limited retry, {resolve['resolved']} RESOLVED, "
            f"{resolve['not_found']} NOT_FOUND",
        ),
    ]
    command = f"python -m bench.backfill --sessions {args.sessions} --batch-size {args.batch_size}"
    print_table(f"repo-mapping backfill benchmark ({command})", rows)


if __name__ == "__main__":
    main()
