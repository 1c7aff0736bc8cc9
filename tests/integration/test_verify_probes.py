"""Behaviour probes: what they find, what they skip before a revision, and that they leave no trace."""

from __future__ import annotations

from sqlalchemy import text

from forgea_cli.db import migrations
from forgea_cli.db.engine import connect
from forgea_cli.db.uow import UnitOfWork, unit_of_work_factory
from forgea_cli.services.verify import VerifyOptions, verify_constraints
from forgea_cli.services.verify import lifecycle_probe as lp
from forgea_cli.services.verify.migrations import applied_revisions
from forgea_cli.services.verify.probes import probe_all
from tests.conftest import migrate_to

PROBES = VerifyOptions(groups=("probes",))
TABLES = (
    "User",
    "Lab",
    "LabVersion",
    "LabSession",
    "VerificationLog",
    "VerificationAttempt",
    "AuditLog",
    "ResumeBullet",
)


STATUSES = ("IN_PROGRESS", "STUCK", "VERIFIED_PASS", "DEFERRED")
VERBS = ("update", "delete")


def probe_all_rolled_back(engine, revisions):
    with UnitOfWork(engine) as uow, lp.probe_transaction(uow):
        return probe_all(uow, revisions)


def _probe(engine) -> dict[str, object]:
    return {r.id: r for r in verify_constraints(unit_of_work_factory(engine), PROBES).results}


def _row_counts(engine) -> dict[str, int]:
    with connect(engine) as connection:
        return {t: connection.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in TABLES}


def test_every_probe_passes_at_head(migrated_db, engine_for):
    results = _probe(engine_for(migrated_db))

    assert {i: r.message for i, r in results.items() if str(r.status) != "pass"} == {}
    assert len([i for i in results if i.startswith("probes.lifecycle.") and ".insert." not in i]) == 16
    assert {i for i in results if i.startswith("probes.lifecycle.insert.")} == {
        f"probes.lifecycle.insert.{status}"
        for status in ("IN_PROGRESS", "STUCK", "VERIFIED_PASS", "DEFERRED")
    }
    assert {i for i in results if i.startswith("probes.function.")} == {
        f"probes.function.{function}.{verb}"
        for function in ("prevent_destructive_action", "prevent_auditlog_mutations")
        for verb in ("update", "delete")
    }
    assert {i for i in results if i.startswith("probes.append_only.")} == {
        f"probes.append_only.{table}.{verb}"
        for table in ("AuditLog", "VerificationLog", "ResumeBullet", "VerificationAttempt")
        for verb in ("update", "delete")
    }
    assert {
        "probes.lab_version.update",
        "probes.lab_version.delete",
        "probes.lab_version.fill_once",
        "probes.version_fk.other_lab",
        "probes.active_session.unique",
        "probes.fill_version.current",
    } <= results.keys()


def test_probes_leave_no_row_behind(migrated_db, engine_for):
    engine = engine_for(migrated_db)
    before = _row_counts(engine)

    _probe(engine)

    assert _row_counts(engine) == before


def test_probes_read_only_their_own_rows_on_a_big_table(migrated_db, engine_for):
    engine = engine_for(migrated_db)
    with connect(engine) as connection:
        connection.execute(
            text(
                """
                INSERT INTO "User" (id, email) SELECT gen_random_uuid(), 'u' || i || '@example.edu'
                FROM generate_series(1, 20000) i;
                INSERT INTO "Lab" (id, title, epic, "sourceGithubIssueUrl", "repoVersion", "baseRepoUrl",
                                   "failureClass", constraints)
                VALUES (gen_random_uuid(), 'Lab', 'e', 'https://github.com/f/l/issues/1', 'v1',
                        'https://github.com/f/t', 'DATA_INTEGRITY', '{}');
                INSERT INTO "LabSession" (id, "userId", "labId", "userForkUrl")
                SELECT gen_random_uuid(), u.id, l.id, 'https://github.com/s/' || u.id
                FROM "User" u CROSS JOIN "Lab" l;
                """
            )
        )
        connection.commit()
        connection.execute(text("ANALYZE"))
        connection.commit()
        revisions = applied_revisions(migrations.current_revision(connection))
        connection.rollback()
    with UnitOfWork(engine) as uow, lp.probe_transaction(uow):
        results = probe_all(uow, revisions)
        scans = dict(
            uow.connection.execute(
                text(
                    "SELECT relname, seq_scan FROM pg_stat_xact_user_tables "
                    "WHERE relname IN ('LabSession', 'User')"
                )
            ).all()
        )

    assert all(str(r.status) == "pass" for r in results), [
        r.message for r in results if str(r.status) != "pass"
    ]
    assert scans == {"LabSession": 0, "User": 0}


def test_before_the_unique_index_its_probe_is_not_applicable(empty_db, engine_for):
    migrate_to(empty_db, "0005_f6_session_indexes")

    results = _probe(engine_for(empty_db))

    skipped = results["probes.active_session.unique"]
    assert str(skipped.status) == "skip"
    assert skipped.message.startswith("not applicable before 0008_f6_contract_active_session")
    assert all(str(r.status) == "pass" for i, r in results.items() if i != "probes.active_session.unique")


def test_at_the_baseline_the_legacy_guards_are_probed_by_behaviour(prisma_db, forgea, engine_for):
    assert forgea("migrate", "adopt", url=prisma_db).exit_code == 0

    results = _probe(engine_for(prisma_db))

    passing = {i for i, r in results.items() if str(r.status) == "pass"}
    assert passing == {
        *(
            f"probes.append_only.{t}.{v}"
            for t in ("AuditLog", "VerificationLog", "ResumeBullet")
            for v in VERBS
        ),
        *(f"probes.lifecycle.{a}->{b}" for a in STATUSES for b in STATUSES),
        *(f"probes.lifecycle.insert.{s}" for s in STATUSES),
        *(
            f"probes.function.{f}.{v}"
            for f in ("prevent_destructive_action", "prevent_auditlog_mutations")
            for v in VERBS
        ),
    }
    assert results["probes.lifecycle.VERIFIED_PASS->IN_PROGRESS"].expected == "ILLEGAL"
    assert results["probes.lifecycle.IN_PROGRESS->VERIFIED_PASS"].found == "ALLOWED"  # no preconditions yet
    assert "needs revision 0002_f6_expand" in results["probes.append_only.VerificationAttempt.update"].message


def test_a_legacy_guard_that_allows_a_terminal_exit_is_named(prisma_db, engine_for):
    engine = engine_for(prisma_db)
    with connect(engine) as connection:
        connection.execute(
            text(
                "CREATE OR REPLACE FUNCTION enforce_lab_session_status_transition() RETURNS trigger AS $$ "
                "BEGIN RETURN NEW; END; $$ LANGUAGE plpgsql"
            )
        )
        connection.commit()
        results = {r.id: r for r in probe_all_rolled_back(engine, applied_revisions("0001_baseline"))}

    failing = {i for i, r in results.items() if str(r.status) == "fail"}
    assert "probes.lifecycle.VERIFIED_PASS->IN_PROGRESS" in failing
    assert "probes.lifecycle.insert.STUCK" in failing
    assert "probes.lifecycle.IN_PROGRESS->STUCK" not in failing


def test_a_table_that_lost_its_append_only_guard_fails(migrated_db, engine_for):
    engine = engine_for(migrated_db)
    with connect(engine) as connection:
        connection.execute(text('ALTER TABLE "AuditLog" DISABLE TRIGGER auditlog_immutable'))
        connection.execute(text('ALTER TABLE "AuditLog" DISABLE TRIGGER auditlog_no_update'))
        connection.commit()

    results = _probe(engine)

    update = results["probes.append_only.AuditLog.update"]
    assert str(update.status) == "fail" and "UPDATE on AuditLog went through" in update.message
    assert str(results["probes.append_only.AuditLog.delete"].status) == "pass"  # auditlog_no_delete holds


def test_a_lab_version_guard_that_was_dropped_fails(migrated_db, engine_for):
    engine = engine_for(migrated_db)
    with connect(engine) as connection:
        connection.execute(text('DROP TRIGGER labversion_immutable ON "LabVersion"'))
        connection.commit()

    results = _probe(engine)

    assert {i for i, r in results.items() if str(r.status) == "fail"} == {
        "probes.lab_version.update",
        "probes.lab_version.delete",
        "probes.lab_version.fill_once",
    }


def test_a_version_filling_trigger_that_picks_the_wrong_version_fails(migrated_db, engine_for):
    engine = engine_for(migrated_db)
    with connect(engine) as connection:
        connection.execute(text('ALTER TABLE "LabSession" DISABLE TRIGGER labsession_fill_version'))
        connection.execute(
            text(
                """CREATE FUNCTION oldest_version() RETURNS trigger AS $$ BEGIN
                     SELECT id INTO NEW."labVersionId" FROM "LabVersion" WHERE "labId" = NEW."labId"
                     ORDER BY version LIMIT 1; RETURN NEW; END $$ LANGUAGE plpgsql;
                   CREATE TRIGGER labsession_fill_oldest BEFORE INSERT ON "LabSession"
                     FOR EACH ROW EXECUTE FUNCTION oldest_version();"""
            )
        )
        connection.commit()

    result = _probe(engine)["probes.fill_version.current"]

    assert str(result.status) == "fail"
    assert result.found == "the old version (v1)"


def test_on_a_read_only_database_probes_are_skipped_with_a_warning(migrated_db, engine_for, forgea):
    engine = engine_for(migrated_db)
    name = engine.url.database
    with connect(engine) as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        connection.commit()

    result = forgea("verify-constraints", url=migrated_db)

    assert result.exit_code == 0, result.stdout
    assert "WARN  probes.setup  probes skipped: the database is read-only" in result.stdout
    assert forgea("verify-constraints", "--no-probes", "--fail-on", "warn", url=migrated_db).exit_code == 0
