"""The web app's own code (../shared/corpus/forgea) against the real database, before and after the rollout.

Forgea's seed, `transitionLabSession`, its webhook route (`POST`, a signed push) and plain Prisma
reads and writes run through the real Prisma 7 client and @prisma/adapter-pg; the database is
built from the web app's six real migrations (tests/real_forgea.py) and rolled out with the forgea
CLI as docs/runbook.md says.
"""

from __future__ import annotations

import hashlib

from tests.interop.checks import (
    LEGACY_TABLES,
    SEED_EMAIL,
    SEED_FORK_URL,
    SEED_LAB_TITLE,
    check_writers,
    table_counts,
    transitions,
)
from tests.interop.support import sql
from tests.real_forgea import forgea_migrations_dir

FORGEA_TABLES = ("LabVersion", "VerificationAttempt", "GitHubRepoMapping", "IdempotencyKey")
WEBAPP_FUNCTIONS = (
    "enforce_lab_session_status_transition",
    "prevent_destructive_action",
    "prevent_auditlog_mutations",
)


def _prisma_migrations(url: str) -> list[dict]:
    return sql(
        url,
        "SELECT id, checksum, migration_name, finished_at, rolled_back_at, logs, started_at, "
        'applied_steps_count FROM "_prisma_migrations" ORDER BY started_at, migration_name',
    )


def _function_definitions(url: str) -> dict[str, str]:
    rows = sql(
        url,
        "SELECT p.proname, pg_get_functiondef(p.oid) AS definition FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.proname = ANY(%s)",
        (list(WEBAPP_FUNCTIONS),),
    )
    return {r["proname"]: r["definition"] for r in rows}


def _triggers(url: str) -> set[tuple[str, str, str]]:
    rows = sql(
        url,
        "SELECT c.relname, t.tgname, p.proname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal AND c.relname = ANY(%s)",
        (list(LEGACY_TABLES),),
    )
    return {(r["relname"], r["tgname"], r["proname"]) for r in rows}


def _tables(url: str) -> set[str]:
    rows = sql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r["tablename"] for r in rows}


def _columns(url: str, table: str) -> list[str]:
    rows = sql(
        url,
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = %s ORDER BY ordinal_position",
        (table,),
    )
    return [r["column_name"] for r in rows]


def _seed_rows(url: str) -> dict:
    [user] = sql(url, 'SELECT id::text FROM "User" WHERE email = %s', (SEED_EMAIL,))
    [lab] = sql(url, 'SELECT id::text FROM "Lab" WHERE title = %s', (SEED_LAB_TITLE,))
    [session] = sql(
        url,
        'SELECT id::text, status::text FROM "LabSession" WHERE "userForkUrl" = %s AND "userId" = %s::uuid',
        (SEED_FORK_URL, user["id"]),
    )
    return {"user": user["id"], "lab": lab["id"], "session": session["id"], "status": session["status"]}


def _version_id(url: str, lab_id: str, version: str = "v1") -> str:
    [row] = sql(
        url,
        'SELECT id::text, "templateRepoUrl" FROM "LabVersion" WHERE "labId" = %s::uuid AND version = %s',
        (lab_id, version),
    )
    return row["id"]


# -- 1. the database as production has it --------------------------------------------------------------


def test_real_database_is_recorded_as_prisma_migrate_deploy_records_it(real_template, clone, corpus):
    url = clone(real_template)
    folders = sorted(p for p in forgea_migrations_dir(corpus).iterdir() if p.is_dir())
    rows = _prisma_migrations(url)
    assert [r["migration_name"] for r in rows] == [p.name for p in folders]
    assert len(rows) == 6
    for row, folder in zip(rows, folders, strict=True):
        assert row["checksum"] == hashlib.sha256((folder / "migration.sql").read_bytes()).hexdigest()
        assert len(row["id"]) == 36 and row["applied_steps_count"] == 1
        assert row["finished_at"] is not None and row["finished_at"] >= row["started_at"]
        assert row["rolled_back_at"] is None and row["logs"] is None
    assert _tables(url) == {*LEGACY_TABLES, "_prisma_migrations"}
    assert _columns(url, "AuditLog") == ["id", "userId", "action", "metadata", "createdAt", "actorId"]
    assert set(_function_definitions(url)) == set(WEBAPP_FUNCTIONS)
    assert len(_triggers(url)) == 6


def test_webapp_code_on_the_real_database_before_the_rollout(legacy_template, clone):
    url = clone(legacy_template.template)
    seed = _seed_rows(url)
    assert seed["status"] == "STUCK"  # the seed moves its session to STUCK with transitionLabSession
    assert transitions(url, seed["session"]) == [
        {
            "actorId": "seed",
            "userId": seed["user"],
            "actorType": "SYSTEM",
            "from": "IN_PROGRESS",
            "to": "STUCK",
            "reason": "seed_data",
        }
    ]
    check_writers(legacy_template.pre, url, active_session_unique=False, original_guard=True)
    assert legacy_template.pre["labs"]["seed"] == seed["lab"]


# -- 2. the rollout, as the runbook says ------------------------------------------------------------------


def test_runbook_rollout_on_the_real_database(rolled_out, corpus):
    rolled = rolled_out.require()
    steps = {" ".join(step.args): step for step in rolled.steps}
    pre = rolled.legacy.pre

    dry = steps["migrate adopt --dry-run"]
    assert "0001_baseline" in dry.output
    adopted = rolled.steps[1].json()
    assert adopted["action"] == "stamped" and adopted["revision"] == "0001_baseline"
    folders = sorted(p.name for p in forgea_migrations_dir(corpus).iterdir() if p.is_dir())
    assert adopted["prismaMigrations"] == folders
    assert rolled.steps[2].json()["action"] == "already-adopted"

    backfills = {b["backfill"]: b for b in steps["backfill all --json"].json()["backfills"]}
    planned = {b["backfill"]: b for b in steps["backfill all --dry-run --json"].json()["backfills"]}
    assert {name: b["pending"] for name, b in planned.items()} == {
        name: b["changed"] for name, b in backfills.items()
    }
    # Two labs (the seed's, the writers'), four sessions (seed, pushed, its duplicate, verified).
    assert backfills["lab-versions"]["versionsCreated"] == 2
    assert backfills["lab-versions"]["sessionsLinked"] == 4
    assert backfills["completed-at"]["changed"] == 1  # the "pre" VERIFIED_PASS session
    assert backfills["verification-attempts"]["changed"] == 1  # its VerificationLog row
    mappings = backfills["repo-mappings"]
    assert mappings["changed"] == 3 and mappings["templateUrl"] == 1
    [problem] = mappings["problems"]
    assert problem["problem"] == "TEMPLATE_URL" and problem["url"] == SEED_FORK_URL

    # The web app let ada have two active sessions on the seed lab; the older one is deferred.
    planned_deferral = steps["backfill resolve-duplicates --dry-run --json"].json()
    assert planned_deferral["sessionsToDefer"] == 1
    resolved = steps["backfill resolve-duplicates --json"].json()
    assert resolved["deferred"] == [pre["duplicate"]["ok"]]
    [group] = resolved["groups"]
    assert group["keep"] == pre["sessions"]["pushed"] and group["userId"] == pre["users"]["ada"]

    assert steps["migrate status --check --json"].json()["atHead"] is True
    verify = steps["verify-constraints --json"].json()
    assert not [c for c in verify["checks"] if c["status"] == "fail"]


# -- 3. the web app's writers after the rollout -------------------------------------------------------------


def test_webapp_code_after_the_rollout(rolled_out, webapp, clone, cli):
    rolled = rolled_out.require()
    url = clone(rolled.template)
    post, pre = rolled.post, rolled.legacy.pre
    check_writers(post, url, active_session_unique=True, original_guard=False)

    # What the database filled in for the legacy inserts (they name none of forgea's columns).
    seed = _seed_rows(url)
    sessions = {
        r["id"]: r
        for r in sql(
            url,
            'SELECT id::text, status::text, "labVersionId"::text AS version, "completedAt", "lastActivityAt" '
            'FROM "LabSession"',
        )
    }
    new_lab_version = sql(
        url,
        'SELECT id::text, version, "templateRepoUrl" FROM "LabVersion" WHERE "labId" = %s::uuid',
        (post["labs"]["created"],),
    )
    # A lab created after the rollout: its first session's insert created its current version.
    assert new_lab_version == [
        {
            "id": sessions[post["sessions"]["verified"]]["version"],
            "version": "v1",
            "templateRepoUrl": f"https://github.com/forgea-labs/leaky-cache-{post['tag']}",
        }
    ]
    assert sessions[post["sessions"]["pushed"]]["version"] == _version_id(url, seed["lab"])
    assert sessions[post["sessions"]["pushed"]]["completedAt"] is None
    assert sessions[post["sessions"]["verified"]]["completedAt"] is not None
    assert all(row["version"] is not None for row in sessions.values())

    # The web app's VerificationLog row counts as evidence: mirrored as attempt 1 (PASS).
    attempts = sql(
        url,
        'SELECT "labSessionId"::text AS session, "attemptNumber", result::text, "commitSha", '
        '"legacyVerificationLogId"::text AS log FROM "VerificationAttempt" ORDER BY "createdAt"',
    )
    assert attempts == [
        {
            "session": run["sessions"]["verified"],
            "attemptNumber": 1,
            "result": "PASS",
            "commitSha": run["commitSha"],
            "log": run["verificationLogId"],
        }
        for run in (pre, post)
    ]

    # Legacy rows the backfills touched.
    pre_verified = sessions[pre["sessions"]["verified"]]
    assert pre_verified["completedAt"] == pre_verified["lastActivityAt"]
    assert sessions[pre["duplicate"]["ok"]]["status"] == "DEFERRED"
    assert sessions[seed["session"]]["status"] == "STUCK"
    mapped = {
        r["session"]: r
        for r in sql(
            url,
            'SELECT "labSessionId"::text AS session, "canonicalUrl", resolution::text, source::text '
            'FROM "GitHubRepoMapping"',
        )
    }
    assert set(mapped) == {pre["sessions"]["pushed"], pre["sessions"]["verified"], pre["duplicate"]["ok"]}
    assert {(m["resolution"], m["source"]) for m in mapped.values()} == {("PENDING", "BACKFILL")}

    # The seed again: idempotent, on the rolled-out database too.
    before = table_counts(url, (*LEGACY_TABLES, "LabVersion", "VerificationAttempt", "GitHubRepoMapping"))
    webapp.seed(url)
    assert table_counts(url, tuple(before)) == before

    # The webhook lookup finds what the web app's writers made.
    pushed_url, verified_url = post["forkUrls"]["pushed"], post["forkUrls"]["verified"]
    found = cli("mapping", "lookup", "--url", pushed_url, "--json", url=url)
    assert found.exit_code == 0, found.describe()
    document = found.json()
    assert document["rule"] == 3 and document["candidates"] == 1  # not backfilled yet: userForkUrl
    assert document["session"]["id"] == post["sessions"]["pushed"]
    assert document["session"]["status"] == "IN_PROGRESS"

    passed = cli("mapping", "lookup", "--url", verified_url, "--json", url=url)
    assert passed.exit_code == 3, passed.describe()  # rule 3 is among active sessions only
    assert passed.json()["result"]["matched"] is False and passed.json()["result"]["session"] is None

    respelled = cli(
        "mapping", "lookup", "--url", pre["forkUrls"]["pushed"].upper() + ".git/", "--json", url=url
    )
    assert respelled.exit_code == 0, respelled.describe()
    document = respelled.json()
    assert document["rule"] == 2 and document["wouldBind"] is True
    assert document["session"]["id"] == pre["sessions"]["pushed"]
    assert document["mapping"]["resolution"] == "PENDING" and document["mapping"]["source"] == "BACKFILL"

    template = cli("mapping", "lookup", "--url", SEED_FORK_URL, "--json", url=url)
    assert template.exit_code == 3, template.describe()
    assert template.json()["result"]["session"] is None  # a lab's template is never a student's repository
    assert template.json()["result"]["template"]["labId"] == seed["lab"]

    # Rerunning the mapping backfill picks up the web app's new sessions.
    rerun = cli("backfill", "repo-mappings", "--json", url=url)
    assert rerun.exit_code == 0, rerun.describe()
    assert rerun.json()["changed"] == 2
    passed = cli("mapping", "lookup", "--url", verified_url, "--json", url=url)
    assert passed.exit_code == 0, passed.describe()
    assert passed.json()["rule"] == 2 and passed.json()["session"]["id"] == post["sessions"]["verified"]

    verify = cli("verify-constraints", "--json", url=url)
    assert verify.exit_code == 0, verify.describe()


# -- 4. rolled back: the web app's code still works ----------------------------------------------------------


def test_webapp_code_after_downgrading_to_the_baseline(rolled_out, real_template, webapp, clone, cli):
    rolled = rolled_out.require()
    url = clone(rolled.template)
    pristine = clone(real_template)
    counts = table_counts(url)

    down = cli("migrate", "downgrade", "0001_baseline", "--yes", url=url)
    assert down.exit_code == 0, down.describe()
    status = cli("migrate", "status", "--json", url=url)
    assert status.exit_code == 0 and status.json()["current"] == "0001_baseline", status.describe()

    # Only forgea's objects went; the web app's rows, functions, triggers and Prisma's history stayed.
    assert not _tables(url) & set(FORGEA_TABLES)
    assert _columns(url, "LabSession") == _columns(pristine, "LabSession")
    assert table_counts(url) == counts
    assert _triggers(url) == _triggers(pristine)
    assert _function_definitions(url) == _function_definitions(pristine)
    assert _prisma_migrations(url) == _prisma_migrations(pristine)

    # The web app's seed (idempotent) and its writers, as before the rollout.
    webapp.seed(url)
    assert table_counts(url) == counts
    down_run = webapp.script("webapp_writers.ts", "down", url=url)
    check_writers(down_run, url, active_session_unique=False, original_guard=True)
