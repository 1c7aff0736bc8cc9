"""The F6 rollout on legacy data: expand → backfills → contract, with the web app still writing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from forgea_cli.db.engine import make_engine
from forgea_cli.db.migrations import Timeouts, downgrade, head_revision
from forgea_cli.errors import DataNotReady
from tests.integration.rollout_support import (
    EXPAND_DONE,
    LegacyWriter,
    adopt_and_expand,
    checksums,
    libpq,
    load_legacy,
    run_backfills,
    upgrade_to,
)


def _assert_writer_works(url: str) -> None:
    writer = LegacyWriter(url)
    try:
        session_id = writer.replay()
        row = writer.conn.execute(
            'SELECT status, "labVersionId" IS NOT NULL, "completedAt" IS NOT NULL '
            'FROM "LabSession" WHERE id = %s',
            (session_id,),
        ).fetchone()
        assert row == ("VERIFIED_PASS", True, True)
        mirrored = writer.conn.execute(
            'SELECT count(*) FROM "VerificationAttempt" WHERE "labSessionId" = %s AND result = \'PASS\'',
            (session_id,),
        ).fetchone()[0]
        assert mirrored == 1
    finally:
        writer.close()


def test_legacy_writers_keep_working_after_each_stage(prisma_db):
    load_legacy(prisma_db, 600)
    adopt_and_expand(prisma_db)
    _assert_writer_works(prisma_db)  # after expand
    run_backfills(prisma_db)
    _assert_writer_works(prisma_db)  # after the backfills
    upgrade_to(prisma_db)
    _assert_writer_works(prisma_db)  # after contract
    with psycopg.connect(libpq(prisma_db)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()


def test_contract_refuses_before_the_backfills_and_changes_nothing(prisma_db):
    load_legacy(prisma_db, 1000)
    adopt_and_expand(prisma_db)
    before = checksums(prisma_db)
    with pytest.raises(DataNotReady) as refusal:
        upgrade_to(prisma_db)
    message = refusal.value.message
    assert "1,000 sessions have no labVersionId: run `forgea backfill lab-versions`" in message
    assert "run `forgea backfill completed-at`" in message
    assert "run `forgea backfill resolve-duplicates`" in message
    with psycopg.connect(libpq(prisma_db)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == EXPAND_DONE
        constraints = conn.execute(
            "SELECT count(*) FROM pg_constraint WHERE conname LIKE 'LabSession_%%check' "
            "OR conname = 'LabSession_labVersionId_not_null'"
        ).fetchone()[0]
        assert constraints == 0
    assert checksums(prisma_db) == before


def test_upgrade_downgrade_upgrade_keeps_every_legacy_row(prisma_db):
    load_legacy(prisma_db, 200)  # fewer than 211 sessions: no duplicate actives to defer
    adopt_and_expand(prisma_db)
    baseline = checksums(prisma_db)
    run_backfills(prisma_db, with_duplicates=False)
    upgrade_to(prisma_db)
    new_tables = checksums(prisma_db, ("VerificationAttempt",))
    assert new_tables["VerificationAttempt"][0] > 0
    assert checksums(prisma_db) == baseline

    engine = make_engine(prisma_db)
    try:
        downgrade(engine, "0001_baseline", Timeouts())
    finally:
        engine.dispose()
    assert checksums(prisma_db) == baseline

    adopt_and_expand(prisma_db)
    run_backfills(prisma_db, with_duplicates=False)
    upgrade_to(prisma_db)
    assert checksums(prisma_db) == baseline
    assert (
        checksums(prisma_db, ("VerificationAttempt",))["VerificationAttempt"][0]
        == new_tables["VerificationAttempt"][0]
    )


def _lab_version_state(url: str) -> list[tuple]:
    with psycopg.connect(libpq(url)) as conn:
        return conn.execute(
            'SELECT s.id, v.version, v."templateRepoUrl" FROM "LabSession" s '
            'LEFT JOIN "LabVersion" v ON v.id = s."labVersionId" ORDER BY s.id'
        ).fetchall()


def _linked(url: str) -> int:
    with psycopg.connect(libpq(url)) as conn:
        return conn.execute('SELECT count(*) FROM "LabSession" WHERE "labVersionId" IS NOT NULL').fetchone()[
            0
        ]


def test_backfill_killed_mid_run_then_rerun_matches_a_clean_run(pg, prisma_template):
    from tests.pg import unique_name

    databases = [unique_name("kill"), unique_name("clean")]
    janitors = [pg.janitor(name, template=prisma_template) for name in databases]
    for janitor in janitors:
        janitor.init()
    try:
        killed, clean = (pg.url(name) for name in databases)
        for url in (killed, clean):
            load_legacy(url, 3000)
            adopt_and_expand(url)
        env = {**os.environ, "FORGEA_DATABASE_URL": killed}
        command = [sys.executable, "-m", "forgea_cli", "backfill", "lab-versions", "--batch-size", "100"]
        process = subprocess.Popen([*command, "--pause", "0.05"], env=env, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while _linked(killed) < 500 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        partial = _linked(killed)
        assert 0 < partial < 3000, "the kill must land mid-run"
        rerun = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True, check=True)
        assert '"changed": ' + str(3000 - partial) in rerun.stdout
        again = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True, check=True)
        assert '"nothingToDo": true' in again.stdout
        run_backfills(clean, with_duplicates=False)
        assert _lab_version_state(killed) == _lab_version_state(clean)
    finally:
        for janitor in janitors:
            janitor.drop()


def test_writer_loop_during_migrations_and_backfills(prisma_db):
    load_legacy(prisma_db, 3000)
    stop, errors, journeys = threading.Event(), [], []

    def write_loop() -> None:
        writer = LegacyWriter(prisma_db)
        try:
            while not stop.is_set():
                try:
                    journeys.append(writer.replay())
                except Exception as exc:  # every failure is a finding
                    errors.append(repr(exc))
        finally:
            writer.close()

    thread = threading.Thread(target=write_loop)
    thread.start()
    try:
        adopt_and_expand(prisma_db)
        run_backfills(prisma_db)
        upgrade_to(prisma_db)
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive(), "the legacy writer deadlocked"
    assert errors == []
    assert len(journeys) > 5
    with psycopg.connect(libpq(prisma_db)) as conn:
        missing = conn.execute('SELECT count(*) FROM "LabSession" WHERE "labVersionId" IS NULL').fetchone()[0]
        assert missing == 0
