"""`forgea verify-constraints` end to end: JSON, JUnit, groups, exit codes, rendering."""

from __future__ import annotations

import json
import subprocess
import sys
from xml.etree import ElementTree as ET

from sqlalchemy import text

from forgea_cli.cli import verify_cmd
from forgea_cli.db.engine import connect
from forgea_cli.db.migrations import head_revision

CHECK_KEYS = {"id", "group", "object", "status", "message", "expected", "found", "hint", "kind", "diff"}


def _document(result) -> dict:
    return json.loads(result.stdout)


def test_json_is_one_document_with_a_summary(forgea, migrated_db):
    result = forgea("verify-constraints", "--json", url=migrated_db)

    assert result.exit_code == 0, result.stderr
    document = _document(result)
    assert document["ok"] is True and document["exitCode"] == 0
    assert document["database"] == {"revision": head_revision(), "head": head_revision()}
    assert document["options"] == {
        "groups": ["migrations", "catalog", "probes", "data"],
        "probes": True,
        "failOn": "error",
    }
    checks = document["checks"]
    assert all(set(c) == CHECK_KEYS for c in checks)
    assert len({c["id"] for c in checks}) == len(checks), "ids are unique"
    summary = document["summary"]
    assert (
        summary["total"]
        == len(checks)
        == summary["pass"] + summary["fail"] + summary["warn"] + summary["skip"] + summary["info"]
    )
    kinds = {c["kind"] for c in checks if c["group"] == "catalog"}
    assert kinds == {"owned", "depended", "webapp"}
    assert list(summary["groups"]) == ["migrations", "catalog", "probes", "data"]
    assert set(document["seconds"]) == {"migrations", "catalog", "probes", "data"}
    assert result.stderr == ""


def test_junit_has_a_suite_per_group_and_failures_with_expected_and_found(
    forgea, migrated_db, engine_for, tmp_path
):
    with connect(engine_for(migrated_db)) as connection:
        connection.execute(text('ALTER TABLE "User" ALTER COLUMN email DROP NOT NULL'))
        connection.commit()
    report = tmp_path / "verify.xml"

    result = forgea("verify-constraints", "--junit", str(report), url=migrated_db)

    assert result.exit_code == 1
    assert f"JUnit report written to {report}" in result.stderr
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites" and root.get("failures") == "1"
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert list(suites) == ["migrations", "catalog", "probes", "data"]
    catalog = suites["catalog"]
    assert int(catalog.get("tests")) == len(catalog.findall("testcase")) > 100
    failing = [case for case in root.iter("testcase") if case.find("failure") is not None]
    assert [case.get("name") for case in failing] == ["catalog.column.User.email"]
    failure = failing[0].find("failure")
    assert failure.get("message").startswith("User.email: column User.email is no longer what forgea needs")
    assert '"nullable": false' in failure.text and '"nullable": true' in failure.text
    assert "expected:" in failure.text and "found:" in failure.text


def test_only_and_no_probes_choose_the_groups(forgea, migrated_db):
    only = _document(
        forgea("verify-constraints", "--json", "--only", "data", "--only", "migrations", url=migrated_db)
    )
    assert {c["group"] for c in only["checks"]} == {"migrations", "data"}
    assert only["options"]["groups"] == ["migrations", "data"]

    no_probes = _document(forgea("verify-constraints", "--json", "--no-probes", url=migrated_db))
    assert "probes" not in {c["group"] for c in no_probes["checks"]}
    assert no_probes["options"]["probes"] is False


def test_bad_group_combinations_are_usage_errors(forgea, migrated_db):
    nothing_left = forgea("verify-constraints", "--only", "probes", "--no-probes", url=migrated_db)
    assert nothing_left.exit_code == 2
    assert "no check group left to run" in nothing_left.stderr

    unknown = forgea("verify-constraints", "--only", "triggers", url=migrated_db)
    assert unknown.exit_code == 2

    bad_level = forgea("verify-constraints", "--fail-on", "info", url=migrated_db)
    assert bad_level.exit_code == 2

    nowhere = forgea("verify-constraints", "--junit", "/nonexistent-folder/verify.xml", url=migrated_db)
    assert nowhere.exit_code == 2
    assert "/nonexistent-folder does not exist" in nowhere.stderr


def test_an_unreachable_database_exits_6_with_the_password_masked(forgea):
    url = "postgresql://forgea:s3cret-pw@127.0.0.1:1/forgea"

    result = forgea("verify-constraints", "--json", url=url)

    assert result.exit_code == 6
    assert "database unreachable at postgresql://forgea:***@127.0.0.1:1/forgea" in result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr
    assert json.loads(result.stdout)["error"]["code"] == "DATABASE_UNREACHABLE"  # one error document


def test_a_database_without_a_revision_fails_and_skips_the_rest(forgea, empty_db):
    result = forgea("verify-constraints", "--json", url=empty_db)

    assert result.exit_code == 1
    statuses = {c["id"]: c["status"] for c in _document(result)["checks"]}
    assert statuses["migrations.known_revision"] == "fail"
    assert statuses["migrations.at_head"] == "fail"
    assert {statuses[f"{g}.revision"] for g in ("catalog", "probes", "data")} == {"skip"}


def test_an_unknown_revision_fails_the_migrations_group(forgea, migrated_db, engine_for):
    with connect(engine_for(migrated_db)) as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
        connection.commit()

    result = forgea(
        "verify-constraints", "--json", "--only", "migrations", "--only", "catalog", url=migrated_db
    )

    failures = {c["id"] for c in _document(result)["checks"] if c["status"] == "fail"}
    assert failures == {"migrations.known_revision", "migrations.at_head", "catalog.snapshot"}


def test_plain_output_lists_failures_first_in_each_group(forgea, migrated_db, engine_for):
    with connect(engine_for(migrated_db)) as connection:
        connection.execute(text('ALTER TABLE "LabSession" DISABLE TRIGGER labsession_fill_version'))
        connection.commit()

    result = forgea("verify-constraints", "--verbose", url=migrated_db)

    lines = result.stdout.splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("== ")]
    assert [lines[i].split(":")[0] for i in headers] == [
        "== migrations",
        "== catalog",
        "== probes",
        "== data",
    ]
    catalog = [line[:4] for line in lines[headers[1] + 1 : headers[2]] if not line.startswith(" ")]
    assert catalog[0] == "FAIL" and "FAIL" not in catalog[catalog.index("ok  ") :]
    assert lines[-1].startswith("verify-constraints: ") and "failed" in lines[-1]


def test_on_a_terminal_the_report_is_a_table_per_group(forgea, migrated_db, monkeypatch):
    monkeypatch.setattr(verify_cmd, "_stdout_is_terminal", lambda: True)

    result = forgea("verify-constraints", url=migrated_db, env={"COLUMNS": "150"})

    assert result.exit_code == 0
    titles = [line.strip().split(" — ")[0] for line in result.stdout.splitlines() if " — " in line]
    assert titles == ["migrations", "catalog", "probes", "data"]
    assert "passed (--verbose lists them)" in result.stdout


def test_help_imports_nothing_heavy():
    probe = (
        "import sys\n"
        "from forgea_cli.cli.app import app\n"
        "try:\n    app(['verify-constraints', '--help'], prog_name='forgea')\n"
        "except SystemExit:\n    pass\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "heavy = {'sqlalchemy', 'alembic', 'psycopg', 'pydantic_settings'} & loaded\n"
        "print('HEAVY=' + ','.join(sorted(heavy)))\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert completed.stdout.strip().splitlines()[-1] == "HEAVY="
