"""Dry runs tell the truth: each refuses where, and exits as, the real run would, and shows what it
was given (the lock timeout) and what it would touch."""

from __future__ import annotations

import json

import pytest

from forgea_cli.db.engine import connect
from tests.integration.rollout_support import EXPAND_DONE, adopt_and_expand, load_legacy, run_backfills
from tests.integration.session_create_support import cli_env, seed, sql

pytest_plugins = ("tests.integration.session_create_fixtures",)


def _revision(engine_for, url: str) -> str | None:
    from forgea_cli.db.migrations import current_revision

    with connect(engine_for(url)) as conn:
        return current_revision(conn)


# -- migrate upgrade --dry-run ------------------------------------------------------------------------


def test_upgrade_dry_run_refuses_a_prisma_database_never_adopted_as_the_real_run_does(forgea, prisma_db):
    dry = forgea("migrate", "upgrade", "--dry-run", url=prisma_db)
    real = forgea("migrate", "upgrade", url=prisma_db)
    assert real.exit_code != 0 and dry.exit_code == real.exit_code, (dry.stderr, real.stderr)
    assert "forgea migrate adopt" in dry.stderr and "forgea migrate adopt" in real.stderr
    assert dry.stdout == ""  # no SQL for a run that would not start


def test_upgrade_dry_run_refuses_the_contract_before_the_backfills(forgea, prisma_db, engine_for):
    load_legacy(prisma_db, 300)
    adopt_and_expand(prisma_db)
    dry = forgea("migrate", "upgrade", "--dry-run", url=prisma_db)
    assert dry.exit_code == 1, dry.stderr
    assert "have no labVersionId: run `forgea backfill lab-versions`" in dry.stderr
    assert "refuse at 0006_f6_contract_checks" in dry.stderr and dry.stdout == ""
    real = forgea("migrate", "upgrade", url=prisma_db)
    assert real.exit_code == dry.exit_code and "backfill lab-versions" in real.stderr
    assert _revision(engine_for, prisma_db) == EXPAND_DONE

    run_backfills(prisma_db)
    ready = forgea("migrate", "upgrade", "--dry-run", url=prisma_db)
    assert ready.exit_code == 0, ready.stderr
    assert '"LabSession_labVersionId_not_null"' in ready.stdout


def test_upgrade_dry_run_from_the_baseline_prints_the_expand_then_refuses_where_the_real_run_stops(
    forgea, prisma_db, engine_for
):
    load_legacy(prisma_db, 300)
    assert forgea("migrate", "adopt", url=prisma_db).exit_code == 0
    dry = forgea("migrate", "upgrade", "--dry-run", url=prisma_db)
    assert dry.exit_code == 1
    assert 'CREATE TABLE "LabVersion"' in dry.stdout  # 0002 .. 0005, what the real run applies first
    assert "LabSession_labVersionId_not_null" not in dry.stdout  # 0006 never runs
    assert f"up to {EXPAND_DONE}" in dry.stderr and "backfill lab-versions" in dry.stderr
    real = forgea("migrate", "upgrade", url=prisma_db)
    assert real.exit_code == 1 and _revision(engine_for, prisma_db) == EXPAND_DONE


def test_upgrade_dry_run_of_the_last_revision_refuses_on_duplicates(forgea, prisma_db):
    load_legacy(prisma_db, 600)  # > 211 sessions: active duplicates
    adopt_and_expand(prisma_db)
    run_backfills(prisma_db, with_duplicates=False)
    dry = forgea("migrate", "upgrade", "--dry-run", url=prisma_db)
    assert dry.exit_code == 1 and "backfill resolve-duplicates" in dry.stderr


@pytest.mark.parametrize("command", ["upgrade", "downgrade"])
def test_dry_run_renders_the_lock_timeout_it_was_given(forgea, migrated_db, empty_db, command):
    url, target = (empty_db, "head") if command == "upgrade" else (migrated_db, EXPAND_DONE)
    given = forgea("migrate", command, target, "--dry-run", "--lock-timeout", "2s", url=url)
    assert given.exit_code == 0, given.stderr
    assert "SET lock_timeout = '2s'" in given.stdout
    default = forgea("migrate", command, target, "--dry-run", url=url)
    assert "SET lock_timeout = '300ms'" in default.stdout


# -- session create --roster --dry-run --------------------------------------------------------------


def test_a_roster_dry_run_says_which_students_the_real_run_refuses(
    forgea, migrated_db, fake_github, tmp_path
):
    seeded = seed(migrated_db, students=6)
    busy = [seeded.users[n] for n in (1, 3, 4)]
    for user_id, _email in busy:
        seeded.add_active_session(user_id)
    roster = tmp_path / "week1.csv"
    roster.write_text("email\n" + "".join(f"{email}\n" for _id, email in seeded.users))
    env = cli_env(seeded, fake_github, tmp_path, COLUMNS="250")
    args = ["session", "create", "--roster", str(roster), "--lab", str(seeded.lab_id), "--json"]

    dry = forgea(*args, "--dry-run", env=env)
    real = forgea(*args, env=env)
    predicted = {row["user"]: row["status"] for row in json.loads(dry.stdout)["rows"]}
    happened = {row["user"]: row["status"] for row in json.loads(real.stdout)["rows"]}
    refused = {email for _id, email in busy}
    assert {u for u, s in predicted.items() if s == "would-fail"} == refused
    assert {u for u, s in happened.items() if s == "failed"} == refused
    assert all(s == "would-create" for u, s in predicted.items() if u not in refused)
    reasons = [row["reason"] for row in json.loads(dry.stdout)["rows"] if row["status"] == "would-fail"]
    assert all("already has an active session" in r for r in reasons)
    assert dry.exit_code == real.exit_code == 1
    [(sessions,)] = sql(migrated_db, 'SELECT count(*) FROM "LabSession"')
    assert sessions == 6  # 3 created by the real run + the 3 that were there


# -- mapping backfill --dry-run --report-csv ----------------------------------------------------------


def test_a_dry_run_report_csv_says_it_is_a_preview(forgea, prisma_db, tmp_path):
    load_legacy(prisma_db, 300)  # some invalid and duplicate URLs
    adopt_and_expand(prisma_db)
    csv_path = tmp_path / "problems.csv"
    result = forgea("mapping", "backfill", "--dry-run", "--report-csv", str(csv_path), url=prisma_db)
    assert result.exit_code == 0, result.stderr
    assert "preview" in result.stdout + result.stderr and "mapped nothing" in result.stdout + result.stderr
    assert csv_path.read_text().startswith("session_id,problem,")
    [(mappings,)] = sql(prisma_db, 'SELECT count(*) FROM "GitHubRepoMapping"')
    assert mappings == 0


# -- backfill --dry-run --show N ------------------------------------------------------------------------


def test_a_backfill_dry_run_lists_the_rows_it_would_change(forgea, prisma_db):
    load_legacy(prisma_db, 300)
    adopt_and_expand(prisma_db)
    human = forgea(
        "backfill", "completed-at", "--dry-run", "--show", "3", env={"COLUMNS": "200"}, url=prisma_db
    )
    assert human.exit_code == 0, human.stderr
    assert human.stdout.count("LabSession: completedAt = ") == 3

    listed = json.loads(
        forgea("backfill", "completed-at", "--dry-run", "--show", "3", "--json", url=prisma_db).stdout
    )["wouldTouch"]
    ids = [row["id"] for row in listed]
    pending = sql(
        prisma_db,
        """SELECT id::text FROM "LabSession" WHERE status = 'VERIFIED_PASS' AND "completedAt" IS NULL
           ORDER BY id LIMIT 3""",
    )
    assert ids == [row[0] for row in pending]  # the first rows, in the order the run takes them
    assert forgea("backfill", "completed-at", url=prisma_db).exit_code == 0
    [(left,)] = sql(
        prisma_db,
        'SELECT count(*) FROM "LabSession" WHERE id = ANY(%s::uuid[]) AND "completedAt" IS NULL',
        (ids,),
    )
    assert left == 0


def test_backfill_all_dry_run_shows_each_backfill_and_show_needs_dry_run(forgea, prisma_db):
    load_legacy(prisma_db, 300)
    adopt_and_expand(prisma_db)
    document = json.loads(
        forgea("backfill", "all", "--dry-run", "--show", "2", "--json", url=prisma_db).stdout
    )
    touched = {report["backfill"]: report.get("wouldTouch") for report in document["backfills"]}
    assert {row["table"] for row in touched["lab-versions"]} == {"Lab", "LabSession"}
    assert len(touched["verification-attempts"]) == 2 and touched["verification-attempts"][0]["table"] == (
        "VerificationLog"
    )
    assert len(touched["repo-mappings"]) == 2
    assert touched["repo-mappings"][0]["detail"].startswith("map to https://github.com/")
    [(mappings,)] = sql(prisma_db, 'SELECT count(*) FROM "GitHubRepoMapping"')
    assert mappings == 0

    refused = forgea("backfill", "all", "--show", "2", url=prisma_db)
    assert refused.exit_code == 2 and "--dry-run" in refused.stderr
