"""verify-constraints catches schema drift: each tampering fails with the object's name, exit 1."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from forgea_cli.db.engine import connect

LIFECYCLE_FUNCTION = "enforce_lab_session_status_transition"


def _tamper(engine, *statements: str) -> None:
    with connect(engine) as connection:
        for statement in statements:
            connection.execute(text(statement))
        connection.commit()


def _failures(result) -> dict[str, dict]:
    document = json.loads(result.stdout)
    return {c["id"]: c for c in document["checks"] if c["status"] == "fail"}


def test_an_untouched_migrated_database_passes(forgea, migrated_db):
    result = forgea("verify-constraints", url=migrated_db)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert "0 failed" not in result.stdout and "passed" in result.stdout.splitlines()[-1]


TAMPERING = {
    "trigger dropped": (
        ['DROP TRIGGER verificationattempt_immutable ON "VerificationAttempt"'],
        "verificationattempt_immutable",
        {"catalog.trigger.verificationattempt_immutable", "probes.append_only.VerificationAttempt.update"},
    ),
    "trigger disabled": (
        ['ALTER TABLE "LabSession" DISABLE TRIGGER labsession_lifecycle_guard'],
        "labsession_lifecycle_guard",
        {"catalog.trigger.labsession_lifecycle_guard", "probes.lifecycle.VERIFIED_PASS->IN_PROGRESS"},
    ),
    "foreign key dropped": (
        ['ALTER TABLE "LabSession" DROP CONSTRAINT "LabSession_labVersionId_labId_fkey"'],
        "LabSession_labVersionId_labId_fkey",
        {"catalog.constraint.LabSession_labVersionId_labId_fkey", "probes.version_fk.other_lab"},
    ),
    "foreign key changed to cascade": (
        [
            'ALTER TABLE "GitHubRepoMapping" DROP CONSTRAINT "GitHubRepoMapping_labSessionId_fkey"',
            'ALTER TABLE "GitHubRepoMapping" ADD CONSTRAINT "GitHubRepoMapping_labSessionId_fkey" '
            'FOREIGN KEY ("labSessionId") REFERENCES "LabSession"(id) ON DELETE CASCADE ON UPDATE CASCADE',
        ],
        "GitHubRepoMapping_labSessionId_fkey",
        {"catalog.constraint.GitHubRepoMapping_labSessionId_fkey"},
    ),
    "partial index predicate changed": (
        [
            'DROP INDEX "LabSession_userId_labId_active_key"',
            'CREATE UNIQUE INDEX "LabSession_userId_labId_active_key" ON "LabSession" ("userId", "labId") '
            "WHERE status = 'IN_PROGRESS'",
        ],
        "LabSession_userId_labId_active_key",
        {"catalog.index.LabSession_userId_labId_active_key"},
    ),
    "enum label added": (
        ["ALTER TYPE \"LabStatus\" ADD VALUE 'ARCHIVED'"],
        "LabStatus",
        {"catalog.enum.LabStatus"},
    ),
    "column made nullable": (
        ['ALTER TABLE "User" ALTER COLUMN email DROP NOT NULL'],
        "User.email",
        {"catalog.column.User.email"},
    ),
}


@pytest.mark.parametrize("statements, name, check_ids", TAMPERING.values(), ids=TAMPERING.keys())
def test_tampering_is_detected_with_the_objects_name(
    forgea, migrated_db, engine_for, statements, name, check_ids
):
    _tamper(engine_for(migrated_db), *statements)

    plain = forgea("verify-constraints", url=migrated_db)
    assert plain.exit_code == 1, plain.stdout + plain.stderr
    failing_lines = [line for line in plain.stdout.splitlines() if line.startswith("FAIL")]
    assert any(name in line for line in failing_lines), plain.stdout

    as_json = forgea("verify-constraints", "--json", url=migrated_db)
    assert as_json.exit_code == 1
    failures = _failures(as_json)
    assert check_ids <= failures.keys(), sorted(failures)
    assert any(name in failures[i]["object"] for i in check_ids)


def test_a_disabled_trigger_reports_enabled_state_and_hint(forgea, migrated_db, engine_for):
    _tamper(engine_for(migrated_db), 'ALTER TABLE "LabSession" DISABLE TRIGGER labsession_lifecycle_guard')

    failure = _failures(forgea("verify-constraints", "--json", "--only", "catalog", url=migrated_db))[
        "catalog.trigger.labsession_lifecycle_guard"
    ]
    assert failure["expected"]["enabled"] == "enabled" and failure["found"]["enabled"] == "disabled"
    assert "ENABLE TRIGGER labsession_lifecycle_guard" in failure["hint"]


def test_a_replaced_lifecycle_function_fails_catalog_and_probe(forgea, migrated_db, engine_for):
    engine = engine_for(migrated_db)
    with connect(engine) as connection:
        definition = connection.execute(
            text(f"SELECT pg_get_functiondef('{LIFECYCLE_FUNCTION}'::regproc)")
        ).scalar_one()
    _tamper(
        engine,
        definition.replace(
            "ELSE FALSE", "WHEN 'VERIFIED_PASS' THEN NEW.\"status\" = 'IN_PROGRESS' ELSE FALSE"
        ),
    )

    result = forgea("verify-constraints", "--json", url=migrated_db)

    assert result.exit_code == 1
    failures = _failures(result)
    assert failures[f"catalog.function.{LIFECYCLE_FUNCTION}"]["object"] == LIFECYCLE_FUNCTION
    probe = failures["probes.lifecycle.VERIFIED_PASS->IN_PROGRESS"]
    assert probe["object"] == "labsession_lifecycle_guard"
    assert set(probe["expected"].values()) == {"ILLEGAL"}
    assert "ILLEGAL" not in " ".join(probe["found"].values())
    assert [i for i in failures if i.startswith("probes.")] == ["probes.lifecycle.VERIFIED_PASS->IN_PROGRESS"]


def test_a_foreign_key_changed_to_cascade_names_the_action(forgea, migrated_db, engine_for):
    _tamper(engine_for(migrated_db), *TAMPERING["foreign key changed to cascade"][0])

    result = forgea("verify-constraints", "--only", "catalog", url=migrated_db)

    assert result.exit_code == 1
    assert "on_delete 'RESTRICT' -> 'CASCADE'" in result.stdout


def test_an_index_predicate_change_shows_both_predicates(forgea, migrated_db, engine_for):
    _tamper(engine_for(migrated_db), *TAMPERING["partial index predicate changed"][0])

    failure = _failures(forgea("verify-constraints", "--json", "--only", "catalog", url=migrated_db))[
        "catalog.index.LabSession_userId_labId_active_key"
    ]
    assert "STUCK" in failure["expected"]["predicate"] and "STUCK" not in failure["found"]["predicate"]


def test_an_added_enum_label_is_named(forgea, migrated_db, engine_for):
    _tamper(engine_for(migrated_db), "ALTER TYPE \"LabStatus\" ADD VALUE 'ARCHIVED'")

    result = forgea("verify-constraints", "--only", "catalog", url=migrated_db)

    assert "label(s) added: ARCHIVED" in result.stdout


def test_objects_of_the_web_app_are_reported_objects_on_ours_are_failures(forgea, migrated_db, engine_for):
    _tamper(
        engine_for(migrated_db),
        'CREATE TABLE "Badge" (id uuid PRIMARY KEY, "userId" uuid REFERENCES "User"(id))',
        'CREATE INDEX "Badge_userId_idx" ON "Badge" ("userId")',
        'CREATE INDEX "LabSession_previewUrl_idx" ON "LabSession" ("previewUrl")',
    )
    relaxed = forgea("verify-constraints", "--json", url=migrated_db)
    assert relaxed.exit_code == 0, relaxed.stdout
    checks = {c["id"]: c for c in json.loads(relaxed.stdout)["checks"]}
    for check_id in (
        "catalog.table.Badge",
        "catalog.index.Badge_userId_idx",
        "catalog.index.LabSession_previewUrl_idx",
    ):
        assert (checks[check_id]["status"], checks[check_id]["kind"]) == ("info", "webapp"), check_id
    assert not [c for c in checks.values() if c["status"] == "warn"]

    strict = forgea("verify-constraints", "--fail-on", "warn", url=migrated_db)
    assert strict.exit_code == 0, strict.stdout

    _tamper(
        engine_for(migrated_db), 'CREATE INDEX "GitHubRepoMapping_owner_idx" ON "GitHubRepoMapping" (owner)'
    )
    ours = forgea("verify-constraints", url=migrated_db)
    assert ours.exit_code == 1
    assert "FAIL  catalog.index.GitHubRepoMapping_owner_idx" in ours.stdout


def test_the_catalog_of_an_earlier_revision_is_expected_there(forgea, empty_db):
    from forgea_cli.db.migrations import head_revision
    from tests.conftest import migrate_to

    migrate_to(empty_db, "0005_f6_session_indexes")
    result = forgea("verify-constraints", "--json", "--only", "catalog", "--only", "migrations", url=empty_db)

    failures = _failures(result)
    assert set(failures) == {"migrations.at_head"}, failures
    assert failures["migrations.at_head"]["found"]["pending"][-1] == head_revision()
