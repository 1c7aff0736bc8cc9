"""`forgea migrate` end to end through the CLI, against real PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import text

from forgea_cli.db.engine import connect
from forgea_cli.db.migrations import head_revision
from tests.conftest import prisma_migration_names


def test_adopt_stamps_a_prisma_database_once(forgea, prisma_db, engine_for):
    first = forgea("migrate", "adopt", "--json", url=prisma_db)
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["action"] == "stamped"
    assert json.loads(first.stdout)["prismaMigrations"] == prisma_migration_names()

    second = forgea("migrate", "adopt", url=prisma_db)
    assert second.exit_code == 0
    assert "already adopted" in second.stdout

    with connect(engine_for(prisma_db)) as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001_baseline"
        assert conn.execute(text('SELECT count(*) FROM "_prisma_migrations"')).scalar() == len(
            prisma_migration_names()
        )


def test_adopt_refuses_a_database_that_differs_and_names_the_difference(forgea, prisma_db, engine_for):
    with connect(engine_for(prisma_db)) as conn:
        conn.execute(text('DROP TRIGGER auditlog_no_delete ON "AuditLog"'))
        conn.commit()
    result = forgea("migrate", "adopt", url=prisma_db)
    assert result.exit_code == 1
    assert "trigger auditlog_no_delete on AuditLog is missing" in result.stderr
    assert "nothing was stamped" in result.stderr
    with connect(engine_for(prisma_db)) as conn:
        assert conn.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None


def test_adopt_dry_run_writes_nothing(forgea, prisma_db, engine_for):
    result = forgea("migrate", "adopt", "--dry-run", url=prisma_db)
    assert result.exit_code == 0
    assert "INSERT INTO alembic_version" in result.stdout
    with connect(engine_for(prisma_db)) as conn:
        assert conn.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None


def test_adopt_refuses_an_empty_database(forgea, empty_db):
    result = forgea("migrate", "adopt", url=empty_db)
    assert result.exit_code == 1
    assert "no _prisma_migrations table" in result.stderr


def test_status_check_upgrade_and_history(forgea, empty_db):
    before = forgea("migrate", "status", "--check", "--json", url=empty_db)
    assert before.exit_code == 1
    assert json.loads(before.stdout)["current"] is None

    sql = forgea("migrate", "upgrade", "--dry-run", url=empty_db)
    assert sql.exit_code == 0 and 'CREATE TABLE "LabSession"' in sql.stdout
    assert forgea("migrate", "status", "--json", url=empty_db).exit_code == 0
    assert json.loads(forgea("migrate", "status", "--json", url=empty_db).stdout)["current"] is None

    upgraded = forgea("migrate", "upgrade", url=empty_db)
    assert upgraded.exit_code == 0, upgraded.stderr
    after = forgea("migrate", "status", "--check", "--json", url=empty_db)
    assert after.exit_code == 0
    assert json.loads(after.stdout) == {
        "current": head_revision(),
        "head": head_revision(),
        "atHead": True,
        "unknownRevision": False,
        "pending": [],
    }
    history = json.loads(forgea("migrate", "history", "--json").stdout)
    assert history[0]["revision"] == "0001_baseline" and history[-1]["revision"] == head_revision()


def test_downgrade_needs_yes_without_a_terminal(forgea, migrated_db):
    result = forgea("migrate", "downgrade", "0001_baseline", url=migrated_db)
    assert result.exit_code == 2
    assert "--yes" in result.stderr


def test_baseline_downgrade_refuses_to_drop_a_prisma_database(forgea, prisma_db):
    assert forgea("migrate", "adopt", url=prisma_db).exit_code == 0
    result = forgea("migrate", "downgrade", "base", "--yes", url=prisma_db)
    assert result.exit_code == 1
    assert "built by Prisma" in result.stderr


def test_unreachable_database_is_exit_6_with_masked_password(forgea):
    url = "postgresql://forgea:hunter2secret@127.0.0.1:1/forgea"
    result = forgea("migrate", "status", url=url)
    assert result.exit_code == 6
    assert "hunter2secret" not in result.stderr + result.stdout
    assert "forgea:***@127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback_but_still_masks(forgea):
    url = "postgresql://forgea:hunter2secret@127.0.0.1:1/forgea"
    result = forgea("--debug", "migrate", "status", url=url)
    assert result.exit_code == 6
    assert "Traceback" in result.stderr
    assert "hunter2secret" not in result.stderr + result.stdout
