"""The baseline revision builds exactly the database Prisma built, and behaves the same."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from forgea_cli.db.catalog import snapshot
from forgea_cli.db.engine import connect
from forgea_cli.db.snapshots import load_snapshot
from forgea_cli.services.verify.catalog import check_catalog, legacy_of
from tests.conftest import _fresh_database, corpus_dir, load_prisma_replica, migrate_to


@pytest.fixture
def baseline_db(empty_db):
    migrate_to(empty_db, "0001_baseline")
    return empty_db


@pytest.fixture
def replica_db(pg):
    for url in _fresh_database(pg, None):
        load_prisma_replica(url)
        yield url


def test_migration_and_prisma_replica_build_the_same_catalog(baseline_db, replica_db, engine_for):
    with connect(engine_for(baseline_db)) as ours, connect(engine_for(replica_db)) as theirs:
        ours_snapshot, prisma_snapshot = snapshot(ours), snapshot(theirs)
    # The baseline revision also creates its own adoption record table; the rest is the web app's.
    assert legacy_of(ours_snapshot) == legacy_of(prisma_snapshot)
    assert set(ours_snapshot["tables"]) - set(prisma_snapshot["tables"]) == {"ForgeaAdoptedObject"}
    # The comparison is not vacuous: every object family is present.
    assert len(ours_snapshot["tables"]) == 10
    assert len(ours_snapshot["triggers"]) == 6
    assert len(ours_snapshot["functions"]) == 3
    assert set(ours_snapshot["enums"]) == {"UserRole", "SubscriptionTier", "LabStatus", "FailureClass"}
    fks = [c for c in ours_snapshot["constraints"].values() if c["type"] == "f"]
    assert len(fks) == 7 and all("ON UPDATE CASCADE ON DELETE RESTRICT" in c["definition"] for c in fks)


def test_the_real_migrations_differ_from_the_replica_only_in_function_text(replica_db, prisma_db, engine_for):
    with connect(engine_for(replica_db)) as replica, connect(engine_for(prisma_db)) as real:
        replica_snapshot, real_snapshot = snapshot(replica), snapshot(real)
    if not corpus_dir().is_dir():
        pytest.skip("the corpus is absent: prisma_db is the replica itself")
    for section in ("tables", "constraints", "indexes", "enums", "triggers"):
        assert real_snapshot[section] == replica_snapshot[section], section
    differing = {
        name
        for name, entry in real_snapshot["functions"].items()
        if entry["body"] != replica_snapshot["functions"][name]["body"]
    }
    assert differing == {
        "enforce_lab_session_status_transition",
        "prevent_auditlog_mutations",
        "prevent_destructive_action",
    }


def test_a_changed_function_body_is_a_text_difference_with_a_diff(baseline_db, engine_for):
    with connect(engine_for(baseline_db)) as conn:
        conn.execute(
            text(
                "CREATE OR REPLACE FUNCTION prevent_destructive_action() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'read only'; END; $$ LANGUAGE plpgsql"
            )
        )
        conn.commit()
        changed = snapshot(conn)
    baseline = load_snapshot("0001_baseline")
    results = check_catalog(baseline, changed, baseline=baseline, history=[baseline])
    judged = [(r.id, str(r.status)) for r in results if str(r.status) not in ("pass", "info")]
    assert judged == [("catalog.function.prevent_destructive_action.text", "warn")]
    text_check = next(r for r in results if r.id == "catalog.function.prevent_destructive_action.text")
    assert any(line.startswith("+") and "'read only'" in line for line in text_check.diff.splitlines())
    assert text_check.kind == "depended"


USER_ID = "00000000-0000-0000-0000-000000000001"
LAB_ID = "00000000-0000-0000-0000-0000000000a1"
SESSION_ID = "00000000-0000-0000-0000-000000000051"


def _seed_session(conn) -> None:
    conn.execute(text("INSERT INTO \"User\" (id, email) VALUES (:u, 'a@example.com')"), {"u": USER_ID})
    conn.execute(
        text(
            """INSERT INTO "Lab" (id, title, epic, "sourceGithubIssueUrl", "repoVersion", "baseRepoUrl",
                                  "failureClass", constraints)
               VALUES (:l, 'Lab', 'E1', 'https://github.com/f/l/issues/1', 'v1',
                       'https://github.com/forgea/lab-template', 'RESOURCE_LEAK', '{}')"""
        ),
        {"l": LAB_ID},
    )
    conn.execute(
        text('INSERT INTO "LabSession" (id, "userId", "labId", "userForkUrl") VALUES (:s, :u, :l, :url)'),
        {"s": SESSION_ID, "u": USER_ID, "l": LAB_ID, "url": "https://github.com/a/fork"},
    )
    conn.execute(
        text(
            """INSERT INTO "AuditLog" (id, "actorId", action) VALUES (gen_random_uuid(), 'x', 'LAB_START')"""
        )
    )
    conn.execute(
        text(
            """INSERT INTO "VerificationLog" (id, "sessionId", "commitSha", "prDiff", "ciOutput")
               VALUES (gen_random_uuid(), :s, 'abc', '', 'ok')"""
        ),
        {"s": SESSION_ID},
    )


@pytest.mark.parametrize("which", ["baseline_db", "prisma_db"])
def test_triggers_behave_identically(which, request, engine_for):
    engine = engine_for(request.getfixturevalue(which))
    with connect(engine) as conn:
        _seed_session(conn)
        conn.commit()
        refusals = {}
        for label, statement in {
            "audit_update": "UPDATE \"AuditLog\" SET action = 'X'",
            "audit_delete": 'DELETE FROM "AuditLog"',
            "vlog_update": 'UPDATE "VerificationLog" SET "ciOutput" = \'x\'',
            "insert_stuck": 'INSERT INTO "LabSession" (id, "userId", "labId", "userForkUrl", status) '
            'SELECT gen_random_uuid(), "userId", "labId", \'u\', \'STUCK\' FROM "LabSession"',
        }.items():
            with pytest.raises(DBAPIError) as caught:
                conn.execute(text(statement))
            refusals[label] = (caught.value.orig.sqlstate, str(caught.value.orig).splitlines()[0])
            conn.rollback()
        conn.execute(text("UPDATE \"LabSession\" SET status = 'VERIFIED_PASS'"))
        conn.commit()
        with pytest.raises(DBAPIError) as caught:
            conn.execute(text("UPDATE \"LabSession\" SET status = 'IN_PROGRESS'"))
        refusals["terminal"] = (caught.value.orig.sqlstate, str(caught.value.orig).splitlines()[0])
    assert refusals["audit_update"][0] in {"P0001", "42501"}
    assert "append-only" in refusals["audit_delete"][1]
    assert refusals["vlog_update"][1].startswith("Action forbidden: This table is append-only")
    assert refusals["insert_stuck"][0] == "P0001" and "STUCK" in refusals["insert_stuck"][1]
    assert refusals["terminal"][1] == "Invalid LabSession status transition: VERIFIED_PASS -> IN_PROGRESS"
