"""`forgea backfill …` through the CLI: dry run counts, a real run, an idempotent rerun."""

from __future__ import annotations

import json

import psycopg

from tests.integration.rollout_support import adopt_and_expand, libpq, load_legacy


def test_backfill_all_dry_run_then_run_then_nothing_to_do(forgea, prisma_db):
    load_legacy(prisma_db, 450)
    adopt_and_expand(prisma_db)

    dry = forgea("backfill", "all", "--dry-run", "--json", url=prisma_db)
    assert dry.exit_code == 0, dry.stderr
    planned = {r["backfill"]: r for r in json.loads(dry.stdout)["backfills"]}
    assert planned["completed-at"]["pending"] == 90  # 2 in 10 sessions are VERIFIED_PASS
    assert all(r["dryRun"] for r in planned.values())
    with psycopg.connect(libpq(prisma_db)) as conn:
        assert (
            conn.execute('SELECT count(*) FROM "LabSession" WHERE "labVersionId" IS NOT NULL').fetchone()[0]
            == 0
        )

    run = forgea("backfill", "all", "--batch-size", "100", "--json", url=prisma_db)
    assert run.exit_code == 0, run.stderr
    done = {r["backfill"]: r for r in json.loads(run.stdout)["backfills"]}
    assert done["completed-at"]["changed"] == 90
    assert done["verification-attempts"]["changed"] == 90
    assert done["repo-mappings"]["changed"] > 0

    again = forgea("backfill", "all", url=prisma_db)
    assert again.exit_code == 0
    assert again.stdout.count("nothing to do") == 4, again.stdout  # the answer: stdout


def test_resolve_duplicates_dry_run_lists_then_defers_with_audit(forgea, prisma_db):
    load_legacy(prisma_db, 450)
    adopt_and_expand(prisma_db)
    dry = json.loads(forgea("backfill", "resolve-duplicates", "--dry-run", "--json", url=prisma_db).stdout)
    assert dry["sessionsToDefer"] >= dry["studentsWithDuplicates"] >= 1
    assert dry["deferred"] == []
    run = forgea("backfill", "resolve-duplicates", "--json", url=prisma_db)
    assert run.exit_code == 0, run.stderr
    deferred = json.loads(run.stdout)["deferred"]
    assert len(deferred) == dry["sessionsToDefer"]
    with psycopg.connect(libpq(prisma_db)) as conn:
        audits = conn.execute(
            """SELECT count(*) FROM "AuditLog" WHERE action = 'LAB_STATUS_TRANSITION'
               AND metadata->>'toStatus' = 'DEFERRED'
               AND metadata->>'reason' LIKE 'duplicate active session%'"""
        ).fetchone()[0]
    assert audits == len(deferred)
    rerun = forgea("backfill", "resolve-duplicates", url=prisma_db)
    assert "nothing to do" in rerun.stdout
