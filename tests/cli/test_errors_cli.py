"""The right error for each failure, through the CLI: exit code, one line, and one JSON document
under --json (issue 15, "The right error for each failure" and the error half of the contract)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.rollout_support import libpq

ERROR_KEYS = {"code", "exitCode", "message", "hint"}


def error_of(result) -> dict:
    """The one JSON document a failing --json run prints on stdout."""
    document = json.loads(result.stdout)
    assert set(document) <= {"error", "result"} and set(document["error"]) == ERROR_KEYS, document
    assert document["error"]["exitCode"] == result.exit_code
    return document["error"]


def test_a_failure_under_json_is_one_error_document_on_stdout(forgea, migrated_db):
    result = forgea("session", "show", "not-a-uuid", "--json", url=migrated_db)
    assert result.exit_code == 2
    error = error_of(result)
    assert error["code"] == "INVALID_INPUT" and "not a session id" in error["message"]
    assert "error: not a session id" in result.stderr  # the person still reads it on stderr

    missing = forgea("session", "show", "00000000-0000-0000-0000-000000000001", "--json", url=migrated_db)
    assert missing.exit_code == 3 and error_of(missing)["code"] == "NOT_FOUND"


def test_bad_usage_under_json_is_a_usage_error_document(forgea):
    result = forgea("session", "list", "--limit", "0", "--json")
    assert result.exit_code == 2
    assert error_of(result)["code"] == "USAGE"
    assert "--limit" in result.stderr


def test_without_json_stdout_stays_empty_on_failure(forgea, migrated_db):
    result = forgea("session", "show", "not-a-uuid", url=migrated_db)
    assert result.exit_code == 2 and result.stdout == ""


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url at all", "is not a database URL"),
        ("mysql://ops:hunter2secret@db.internal/forgea", "names a 'mysql' database"),
        ("postgresql://ops:hunter2secret@db.internal:port/forgea", "is not a database URL"),
        ("sqlite:///tmp/forgea.db", "names a 'sqlite' database"),
    ],
)
def test_an_unusable_database_url_is_bad_input(forgea, url, says):
    result = forgea("migrate", "status", "--json", url=url)
    assert result.exit_code == 2, result.stderr
    error = error_of(result)
    assert error["code"] == "INVALID_INPUT" and says in error["message"]
    assert "FORGEA_DATABASE_URL" in error["message"]
    assert "hunter2secret" not in result.stdout + result.stderr
    assert "unexpected" not in result.stderr


def test_an_unusable_replica_url_is_bad_input_naming_the_replica(forgea, migrated_db):
    result = forgea(
        "mapping", "lookup", "--repo-id", "1", url=migrated_db, env={"FORGEA_REPLICA_URL": "nope"}
    )
    assert result.exit_code == 2 and "FORGEA_REPLICA_URL is not a database URL" in result.stderr


def test_a_missing_database_is_not_found_not_unreachable(forgea, pg):
    result = forgea("migrate", "status", "--json", url=pg.url("forgea_no_such_database"))
    assert result.exit_code == 3, result.stderr
    error = error_of(result)
    assert error["code"] == "DATABASE_MISSING"
    assert 'database "forgea_no_such_database" does not exist' in error["message"]
    assert "unreachable" not in result.stderr


def test_an_unknown_role_is_refused_credentials_not_unreachable(forgea, pg):
    url = pg.url("postgres").replace(f"{pg.user}@", "forgea_nobody@", 1)
    result = forgea("migrate", "status", url=url)
    assert result.exit_code == 2, result.stderr
    assert 'role "forgea_nobody" does not exist' in result.stderr and "unreachable" not in result.stderr


@pytest.fixture
def password_role(pg):
    """A role that must log in with a password (scram), through a pg_hba.conf line of its own."""
    role, password = "forgea_pw_probe", "right-horse-battery"
    with pg.admin() as conn:
        hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
        original = hba.read_text()
        hba.write_text(
            f"local all {role} scram-sha-256\nhost all {role} 127.0.0.1/32 scram-sha-256\n{original}"
        )
        conn.execute("SELECT pg_reload_conf()")
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        yield role, password
    finally:
        with pg.admin() as conn:
            hba.write_text(original)
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_a_wrong_password_is_refused_credentials_exit_2(forgea, pg, password_role):
    role, password = password_role
    good = pg.url("postgres").replace(f"{pg.user}@", f"{role}:{password}@", 1)
    assert forgea("migrate", "status", url=good).exit_code == 0  # the role works with its password

    wrong = good.replace(password, "wrong-horse-hunter2")
    result = forgea("migrate", "status", "--json", url=wrong)
    assert result.exit_code == 2, result.stderr
    error = error_of(result)
    assert error["code"] == "DATABASE_AUTH_FAILED"
    assert "the password was refused" in error["message"] and "unreachable" not in error["message"]
    assert "wrong-horse-hunter2" not in result.stdout + result.stderr


def test_an_unreachable_server_stays_exit_6(forgea):
    result = forgea("migrate", "status", "--json", url="postgresql://ops:hunter2secret@127.0.0.1:1/forgea")
    assert result.exit_code == 6
    error = error_of(result)
    assert error["code"] == "DATABASE_UNREACHABLE" and "Connection refused" in error["message"]
    assert "hunter2secret" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["migrate", "upgrade", "0042_no_such_revision"],
        ["migrate", "upgrade", "0042_no_such_revision", "--dry-run"],
        ["migrate", "downgrade", "0042_no_such_revision", "--yes"],
        ["migrate", "downgrade", "0042_no_such_revision", "--dry-run"],
    ],
    ids=lambda a: " ".join(a[1:]),
)
def test_a_bad_revision_is_bad_input(forgea, migrated_db, args):
    result = forgea(*args, url=migrated_db)
    assert result.exit_code == 2, result.stderr
    assert "revision '0042_no_such_revision'" in result.stderr and "forgea migrate history" in result.stderr
    assert "unexpected" not in result.stderr


@pytest.mark.parametrize("value", ["banana", "5 seconds", "-1s", ""])
def test_a_bad_lock_timeout_is_bad_usage_before_anything_runs(forgea, empty_db, value):
    result = forgea("migrate", "upgrade", "--lock-timeout", value, url=empty_db)
    assert result.exit_code == 2, result.stderr
    assert "is not a duration" in result.stderr
    with __import__("psycopg").connect(libpq(empty_db)) as conn:
        assert conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None


def test_lock_timeout_takes_postgres_durations(forgea, empty_db):
    result = forgea("migrate", "upgrade", "0001_baseline", "--dry-run", "--lock-timeout", "2s", url=empty_db)
    assert result.exit_code == 0, result.stderr
    assert "SET lock_timeout = '2s'" in result.stdout


def test_upgrading_a_prisma_database_never_adopted_says_to_adopt(forgea, prisma_db):
    result = forgea("migrate", "upgrade", url=prisma_db)
    assert result.exit_code == 1, result.stderr
    assert "forgea migrate adopt" in result.stderr
    assert "built by Prisma" in result.stderr and "unexpected" not in result.stderr


def test_an_unexpected_exception_exits_70_without_a_traceback(forgea, monkeypatch):
    from forgea_cli.services import mapping

    def broken(urls, web_host):
        raise RuntimeError("the tool itself broke")

    monkeypatch.setattr(mapping, "canonicalize_urls", broken)
    result = forgea("mapping", "canonicalize", "https://github.com/a/b", "--json")
    assert result.exit_code == 70
    error = error_of(result)
    assert error["code"] == "INTERNAL_ERROR"
    assert error["message"] == "unexpected RuntimeError: the tool itself broke"
    assert "Traceback" not in result.stderr and "--debug" in result.stderr

    debugged = forgea("--debug", "mapping", "canonicalize", "https://github.com/a/b")
    assert debugged.exit_code == 70 and "Traceback" in debugged.stderr


def _adopt(url: str) -> None:
    from forgea_cli.db.engine import make_engine
    from forgea_cli.db.uow import unit_of_work_factory
    from forgea_cli.services.rollout import adopt

    engine = make_engine(url)
    try:
        adopt(unit_of_work_factory(engine))
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "args",
    [
        ["backfill", "lab-versions"],
        ["backfill", "completed-at", "--dry-run"],
        ["backfill", "all"],
        ["backfill", "repo-mappings"],
        ["mapping", "backfill", "--dry-run"],
    ],
    ids=" ".join,
)
def test_a_backfill_before_the_expand_names_the_upgrade_to_run(forgea, prisma_db, args):
    never_adopted = forgea(*args, "--json", url=prisma_db)
    assert never_adopted.exit_code == 1, never_adopted.stderr
    error = error_of(never_adopted)
    assert error["code"] == "SCHEMA_NOT_READY" and "was never adopted" in error["message"]
    assert error["hint"].startswith(
        "`forgea migrate adopt`, then `forgea migrate upgrade 0005_f6_session_indexes`"
    )

    _adopt(prisma_db)
    adopted = forgea(*args, url=prisma_db)
    assert adopted.exit_code == 1
    assert "needs the expand (0005_f6_session_indexes); the database is at 0001_baseline" in adopted.stderr
    assert "hint: `forgea migrate upgrade 0005_f6_session_indexes`" in adopted.stderr
    assert "does not exist" not in adopted.stderr


def test_a_report_before_the_expand_says_the_schema_is_behind(forgea, prisma_db):
    _adopt(prisma_db)
    result = forgea("keys", "list", url=prisma_db)
    assert result.exit_code == 1
    assert "hint: the database's schema is older than this build: `forgea migrate status`" in result.stderr
