"""Ownership (DESIGN §2a) on the database Prisma built: the web app's later migrations leave adopt and
verify-constraints green; a change to something forgea depends on fails, naming the object and why."""

from __future__ import annotations

import hashlib
import json
import uuid

import psycopg
import pytest

from tests.integration.rollout_support import adopt_and_expand, libpq, run_backfills, upgrade_to

# A Prisma-style migration of the web app's own, after forgea's rollout: a new enum and table, a new
# column on User, a renamed label of an enum forgea never reads, new indexes and a foreign key.
WEB_APP_MIGRATION_NAME = "20261201090000_badges"
WEB_APP_MIGRATION = """
-- CreateEnum
CREATE TYPE "BadgeKind" AS ENUM ('BRONZE', 'SILVER', 'GOLD');

-- AlterEnum
ALTER TYPE "FailureClass" RENAME VALUE 'DATA_INTEGRITY' TO 'DATA_CORRUPTION';

-- AlterTable
ALTER TABLE "User" ADD COLUMN     "displayName" TEXT;

-- CreateTable
CREATE TABLE "Badge" (
    "id" UUID NOT NULL,
    "userId" UUID NOT NULL,
    "labSessionId" UUID,
    "kind" "BadgeKind" NOT NULL,
    "awardedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Badge_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Badge_userId_idx" ON "Badge"("userId");

-- CreateIndex
CREATE INDEX "LabSession_previewUrl_idx" ON "LabSession"("previewUrl");

-- AddForeignKey
ALTER TABLE "Badge" ADD CONSTRAINT "Badge_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Badge" ADD CONSTRAINT "Badge_labSessionId_fkey" FOREIGN KEY ("labSessionId") REFERENCES "LabSession"("id") ON DELETE SET NULL ON UPDATE CASCADE;
"""  # noqa: E501 (Prisma writes one statement per line)


def _apply_as_prisma(url: str, sql: str, name: str) -> None:
    """As `prisma migrate deploy` applies one migration: the script, then its _prisma_migrations row."""
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        with conn.transaction():
            conn.execute(sql)
        conn.execute(
            'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, '
            "applied_steps_count) VALUES (%s, %s, now(), %s, 1)",
            (str(uuid.uuid4()), hashlib.sha256(sql.encode()).hexdigest(), name),
        )


def _execute(url: str, *statements: str) -> None:
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _rolled_out(url: str) -> str:
    adopt_and_expand(url)
    run_backfills(url)
    upgrade_to(url, "head")
    return url


def _verify(forgea, url: str, *extra: str) -> tuple[int, dict[str, dict]]:
    result = forgea("verify-constraints", "--json", *extra, url=url)
    document = json.loads(result.stdout)
    return result.exit_code, {c["id"]: c for c in document["checks"]}


def test_the_web_apps_later_migration_leaves_verify_green(forgea, prisma_db):
    _rolled_out(prisma_db)
    _apply_as_prisma(prisma_db, WEB_APP_MIGRATION, WEB_APP_MIGRATION_NAME)

    code, checks = _verify(forgea, prisma_db, "--fail-on", "warn")

    assert code == 0, [c["message"] for c in checks.values() if c["status"] in ("fail", "warn")]
    for check_id in (
        "catalog.table.Badge",
        "catalog.enum.BadgeKind",
        "catalog.column.User.displayName",
        "catalog.index.LabSession_previewUrl_idx",
        "catalog.constraint.Badge_labSessionId_fkey",
    ):
        assert (checks[check_id]["status"], checks[check_id]["kind"]) == ("info", "webapp"), check_id
    assert (
        checks["catalog.enum.FailureClass"]["status"] == "info"
    )  # its renamed label is not forgea's concern
    assert checks["catalog.enum.LabStatus"]["kind"] == "depended"
    assert checks["catalog.table.GitHubRepoMapping"]["kind"] == "owned"


def test_the_web_apps_later_migration_before_adoption_leaves_adopt_green(forgea, prisma_db):
    _apply_as_prisma(prisma_db, WEB_APP_MIGRATION, WEB_APP_MIGRATION_NAME)

    result = forgea("migrate", "adopt", "--json", url=prisma_db)

    assert result.exit_code == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["action"] == "stamped"
    assert document["prismaMigrations"][-1] == WEB_APP_MIGRATION_NAME
    kinds = {c["id"]: c["kind"] for c in document["checks"] if c["group"] == "catalog"}
    assert kinds["catalog.table.Badge"] == "webapp" and kinds["catalog.table.LabSession"] == "depended"


DEPENDENCY_BREAKS = {
    "LabStatus label added": (
        ["ALTER TYPE \"LabStatus\" ADD VALUE 'ARCHIVED'"],
        "catalog.enum.LabStatus",
        "label(s) added: ARCHIVED",
    ),
    "LabStatus label renamed": (
        ["ALTER TYPE \"LabStatus\" RENAME VALUE 'DEFERRED' TO 'PAUSED'"],
        "catalog.enum.LabStatus",
        "label(s) added: PAUSED; label(s) removed: DEFERRED",
    ),
    "userForkUrl dropped": (
        ['ALTER TABLE "LabSession" DROP COLUMN "userForkUrl"'],
        "catalog.column.LabSession.userForkUrl",
        "is missing; forgea needs it",
    ),
    "userForkUrl retyped": (
        ['ALTER TABLE "LabSession" ALTER COLUMN "userForkUrl" TYPE VARCHAR(300)'],
        "catalog.column.LabSession.userForkUrl",
        "type 'text' -> 'character varying(300)'",
    ),
    "append-only trigger disabled": (
        ['ALTER TABLE "AuditLog" DISABLE TRIGGER auditlog_no_update'],
        "catalog.trigger.auditlog_no_update",
        "enabled 'enabled' -> 'disabled'",
    ),
    "VerificationLog gone": (
        ['DROP TABLE "VerificationLog" CASCADE'],
        "catalog.table.VerificationLog",
        "table VerificationLog is missing; forgea needs it",
    ),
}


@pytest.mark.parametrize(
    "statements, check_id, detail", DEPENDENCY_BREAKS.values(), ids=DEPENDENCY_BREAKS.keys()
)
def test_a_change_to_what_forgea_depends_on_fails_naming_it(forgea, prisma_db, statements, check_id, detail):
    _rolled_out(prisma_db)
    _execute(prisma_db, *statements)

    code, checks = _verify(forgea, prisma_db)

    assert code == 1
    failure = checks[check_id]
    assert (failure["status"], failure["kind"]) == ("fail", "depended")
    assert detail in failure["message"], failure["message"]
    why = (
        failure["message"].rsplit(": ", 1)[-1]
        if "needs it:" not in failure["message"]
        else failure["message"]
    )
    assert len(why) > 20  # says what forgea needs the object for


def test_adopt_reports_text_differences_and_records_what_it_adopted(forgea, prisma_db):
    dry = forgea("migrate", "adopt", "--dry-run", "--json", url=prisma_db)
    assert dry.exit_code == 0, dry.stdout + dry.stderr
    preview = json.loads(dry.stdout)
    assert preview["action"] == "would-stamp"
    assert 'INSERT INTO "ForgeaAdoptedObject"' in preview["sql"]

    verbose = forgea("migrate", "adopt", "--verbose", url=prisma_db)
    assert verbose.exit_code == 0, verbose.stderr
    with psycopg.connect(libpq(prisma_db)) as conn:
        recorded = dict(
            conn.execute("SELECT kind || ' ' || name, fingerprint FROM \"ForgeaAdoptedObject\"").fetchall()
        )
    assert {
        "function enforce_lab_session_status_transition",
        "function prevent_destructive_action",
        "function prevent_auditlog_mutations",
        "trigger labsession_lifecycle_guard",
        "trigger auditlog_no_update",
    } <= recorded.keys()
    if preview["textDifferences"]:  # the real migrations: their function text is not forgea's replica
        names = {d["object"] for d in preview["textDifferences"]}
        assert names == {
            "enforce_lab_session_status_transition",
            "prevent_destructive_action",
            "prevent_auditlog_mutations",
        }
        assert all(d["diff"].startswith("--- forgea baseline\n+++ live") for d in preview["textDifferences"])
        assert "--- forgea baseline" in verbose.stderr

    code, checks = _verify(forgea, prisma_db, "--only", "catalog")
    assert code == 0
    assert not [c for c in checks.values() if c["status"] == "warn"]


def test_a_function_the_web_app_rewrote_is_a_diff_then_a_failure_when_it_behaves_otherwise(forgea, prisma_db):
    assert forgea("migrate", "adopt", url=prisma_db).exit_code == 0
    _execute(
        prisma_db,
        "CREATE OR REPLACE FUNCTION prevent_destructive_action() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'append-only (rewritten by the web app)'; END; $$ LANGUAGE plpgsql",
    )
    code, checks = _verify(forgea, prisma_db, "--only", "catalog", "--only", "probes")
    assert code == 0
    text_change = checks["catalog.function.prevent_destructive_action.text"]
    assert text_change["status"] == "warn" and "changed since it was adopted" in text_change["message"]
    assert (
        "+AS $function$ BEGIN RAISE EXCEPTION 'append-only (rewritten by the web app)'" in text_change["diff"]
    )

    _execute(
        prisma_db,
        "CREATE OR REPLACE FUNCTION prevent_destructive_action() RETURNS trigger AS $$ BEGIN "
        "RETURN NEW; END; $$ LANGUAGE plpgsql",
    )
    code, checks = _verify(forgea, prisma_db, "--only", "catalog", "--only", "probes")
    assert code == 1
    assert checks["probes.append_only.VerificationLog.update"]["status"] == "fail"
    assert checks["probes.function.prevent_destructive_action.update"]["status"] == "fail"


def test_adopt_refuses_a_lifecycle_guard_that_behaves_otherwise_naming_the_probe(forgea, prisma_db):
    _execute(
        prisma_db,
        "CREATE OR REPLACE FUNCTION enforce_lab_session_status_transition() RETURNS trigger AS $$ BEGIN "
        "IF TG_OP = 'UPDATE' AND OLD.status = 'VERIFIED_PASS' AND NEW.status = 'IN_PROGRESS' "
        "THEN RETURN NEW; END IF; "
        "IF TG_OP = 'INSERT' AND NEW.status <> 'IN_PROGRESS' THEN RAISE EXCEPTION 'no'; END IF; "
        "IF TG_OP = 'UPDATE' AND NEW.status <> OLD.status AND OLD.status = 'VERIFIED_PASS' THEN "
        "RAISE EXCEPTION 'terminal'; END IF; RETURN NEW; END; $$ LANGUAGE plpgsql",
    )

    result = forgea("migrate", "adopt", "--json", url=prisma_db)

    assert result.exit_code == 1
    error = json.loads(result.stdout)
    assert error["error"]["exitCode"] == 1  # one error document, carrying what adopt found
    document = error["result"]
    assert document["action"] == "refused"
    failing = {c["id"] for c in document["failures"]}
    assert "probes.lifecycle.VERIFIED_PASS->IN_PROGRESS" in failing
    assert "probes.lifecycle.DEFERRED->STUCK" in failing  # the rewrite allows it; the legacy guard did not
    with psycopg.connect(libpq(prisma_db)) as conn:
        assert conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None
        assert conn.execute("SELECT to_regclass('\"ForgeaAdoptedObject\"')").fetchone()[0] is None


def test_a_downgrade_to_the_baseline_restores_the_adopted_lifecycle_guard(forgea, prisma_db):
    _rolled_out(prisma_db)
    with psycopg.connect(libpq(prisma_db)) as conn:
        recorded = conn.execute(
            'SELECT definition FROM "ForgeaAdoptedObject" '
            "WHERE name = 'enforce_lab_session_status_transition'"
        ).fetchone()[0]

    assert forgea("migrate", "downgrade", "0001_baseline", "--yes", url=prisma_db).exit_code == 0

    with psycopg.connect(libpq(prisma_db)) as conn:
        live = conn.execute(
            "SELECT pg_get_functiondef('enforce_lab_session_status_transition'::regproc)"
        ).fetchone()[0]
    assert live.replace("public.", "") == recorded
    code, checks = _verify(forgea, prisma_db, "--only", "catalog", "--only", "probes")
    assert code == 0
    assert not [c for c in checks.values() if c["status"] == "warn"]


def test_refresh_accepts_a_rewrite_that_still_behaves(forgea, prisma_db):
    assert forgea("migrate", "adopt", url=prisma_db).exit_code == 0
    _execute(
        prisma_db,
        "CREATE OR REPLACE FUNCTION prevent_destructive_action() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'append-only (rewritten by the web app)'; END; $$ LANGUAGE plpgsql",
    )

    preview = forgea("migrate", "adopt", "--refresh", "--dry-run", "--json", url=prisma_db)
    assert preview.exit_code == 0, preview.stdout + preview.stderr
    assert [d["object"] for d in json.loads(preview.stdout)["textDifferences"]] == [
        "prevent_destructive_action"
    ]
    assert _verify(forgea, prisma_db, "--only", "catalog")[1][
        "catalog.function.prevent_destructive_action.text"
    ]

    accepted = forgea("migrate", "adopt", "--refresh", url=prisma_db)
    assert accepted.exit_code == 0, accepted.stderr
    assert "accepted 1 changed definition as" in accepted.stdout
    code, checks = _verify(forgea, prisma_db, "--only", "catalog")
    assert code == 0 and "catalog.function.prevent_destructive_action.text" not in checks


def test_refresh_refuses_a_rewrite_that_behaves_otherwise(forgea, prisma_db):
    assert forgea("migrate", "adopt", url=prisma_db).exit_code == 0
    _execute(
        prisma_db,
        "CREATE OR REPLACE FUNCTION prevent_auditlog_mutations() RETURNS trigger AS $$ BEGIN "
        "RAISE EXCEPTION 'nope'; END; $$ LANGUAGE plpgsql",
    )

    result = forgea("migrate", "adopt", "--refresh", url=prisma_db)

    assert result.exit_code == 1
    assert "probes.function.prevent_auditlog_mutations" not in result.stderr or "42501" in result.stderr
    assert "not refreshed" in result.stderr
