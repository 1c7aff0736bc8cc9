"""Backfills yield to a real streaming standby: paused replay makes the lag grow, the backfill pauses
and says why, and resumes when replay resumes; past the critical lag it stops cleanly, resumable."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from forgea_cli.db.embedded import start_standby, stop_standby
from forgea_cli.db.uow import unit_of_work_factory
from forgea_cli.services import rollout
from tests.integration.rollout_support import adopt_and_expand, libpq, load_legacy


@pytest.fixture(scope="module")
def standby(pg, tmp_path_factory):
    if os.environ.get("FORGEA_TEST_DATABASE_URL"):
        pytest.skip(
            "needs the embedded test server to take a base backup of (FORGEA_TEST_DATABASE_URL is set)"
        )
    pgdata = Path(tmp_path_factory.mktemp("standby")) / "pgdata"
    replica = start_standby(pg.host, pg.port, pgdata)
    yield replica
    stop_standby(pgdata)


def _standby_sql(standby, sql: str) -> None:
    with psycopg.connect(
        host=str(standby.socket_dir), port=standby.port, user="postgres", dbname="postgres"
    ) as c:
        c.execute(sql)


@pytest.fixture
def replay_paused(standby):
    _standby_sql(standby, "SELECT pg_wal_replay_pause()")
    yield standby
    _standby_sql(standby, "SELECT pg_wal_replay_resume()")


@pytest.fixture
def legacy_db(prisma_db):
    load_legacy(prisma_db, 3000)
    adopt_and_expand(prisma_db)
    return prisma_db


def _options(said: list[str], **throttle) -> rollout.BackfillOptions:
    """Small batches and a nice ratio of 1: the 3,000 sessions take several seconds, longer than the lag
    thresholds, however fast the machine is."""
    return rollout.BackfillOptions(
        batch_size=50,
        throttle=rollout.ThrottleOptions(
            **{"batch_time": 0.05, "max_batch_size": 50, "nice": 1.0, **throttle}
        ),
        notify=said.append,
    )


def _unlinked_sessions(url: str) -> int:
    with psycopg.connect(libpq(url)) as conn:
        return conn.execute('SELECT count(*) FROM "LabSession" WHERE "labVersionId" IS NULL').fetchone()[0]


def test_a_lagging_replica_pauses_the_backfill_until_replay_resumes(legacy_db, replay_paused, engine_for):
    said: list[str] = []
    outcome: dict[str, object] = {}
    options = _options(said, max_lag=0.3, critical_lag=120.0, max_pause=120.0)

    def run() -> None:
        try:
            outcome["report"] = rollout.BACKFILLS["lab-versions"](
                unit_of_work_factory(engine_for(legacy_db)), options
            )
        except Exception as exc:  # reported below
            outcome["error"] = exc

    backfill = threading.Thread(target=run)
    backfill.start()
    deadline = time.monotonic() + 60
    while not any(m.startswith("pausing: replication lag") for m in said) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any(m.startswith("pausing: replication lag") for m in said), said
    paused_at = _unlinked_sessions(legacy_db)
    time.sleep(1.5)
    assert _unlinked_sessions(legacy_db) == paused_at  # nothing written while paused
    _standby_sql(replay_paused, "SELECT pg_wal_replay_resume()")
    backfill.join(timeout=120)

    assert "error" not in outcome, outcome.get("error")
    assert any(m.startswith("resuming after") for m in said), said
    pauses = outcome["report"].details["throttle"]["pauses"]
    assert pauses and pauses[0]["reason"].startswith("replication lag") and pauses[0]["seconds"] >= 1.5
    assert _unlinked_sessions(legacy_db) == 0


def test_lag_past_the_critical_level_stops_at_a_batch_boundary_and_a_rerun_resumes(
    legacy_db, replay_paused, engine_for
):
    said: list[str] = []
    uow = unit_of_work_factory(engine_for(legacy_db))
    options = _options(said, max_lag=0.2, critical_lag=0.5, max_pause=120.0)

    with pytest.raises(
        rollout.BackfillStopped, match=r"replication lag .* is above the critical 0\.5 s"
    ) as stopped:
        rollout.BACKFILLS["lab-versions"](uow, options)

    committed = stopped.value.report
    assert committed is not None and committed.batches >= 1
    left = _unlinked_sessions(legacy_db)
    assert left > 0  # stopped part-way, every finished batch committed
    _standby_sql(replay_paused, "SELECT pg_wal_replay_resume()")
    rerun = rollout.BACKFILLS["lab-versions"](uow, _options([], max_lag=5.0, nice=0.0))
    assert rerun.changed <= left + 10  # resumed: only what was left (plus the lab versions)
    assert _unlinked_sessions(legacy_db) == 0


def test_read_only_reports_read_the_replica_and_say_how_far_behind_it_is(forgea, legacy_db, standby):
    database = make_url(legacy_db).database
    env = {"FORGEA_REPLICA_URL": standby.url(database)}
    _wait_until_replayed(standby, database)
    email = "replica-probe@example.edu"
    _standby_sql(standby, "SELECT pg_wal_replay_pause()")
    try:
        with psycopg.connect(libpq(legacy_db), autocommit=True) as conn:
            user = conn.execute(
                'INSERT INTO "User" (id, email) VALUES (gen_random_uuid(), %s) RETURNING id', (email,)
            )
            user_id = user.fetchone()[0]
            conn.execute(
                'INSERT INTO "LabSession" (id, "userId", "labId", "userForkUrl") '
                "SELECT gen_random_uuid(), %s, id, 'https://github.com/replica/probe' "
                'FROM "Lab" ORDER BY id LIMIT 1',
                (user_id,),
            )
        on_primary = forgea("session", "list", "--user", email, "--json", url=legacy_db)
        on_replica = forgea("session", "list", "--user", email, "--json", url=legacy_db, env=env)
        time.sleep(1.2)  # the replica's last replayed commit is now more than the 1 s warning old
        verify = forgea("verify-constraints", "--only", "data", "--json", url=legacy_db, env=env)
    finally:
        _standby_sql(standby, "SELECT pg_wal_replay_resume()")

    assert on_primary.exit_code == 0 and len(_rows(on_primary.stdout)) == 1, on_primary.stderr
    assert on_replica.exit_code == 3, on_replica.stdout  # the replica has not replayed the new student
    lag = next(c for c in json.loads(verify.stdout)["checks"] if c["id"] == "data.replica.lag")
    assert lag["status"] == "warn" and lag["found"]["lag_seconds"] > 0


def _rows(stdout: str) -> list:
    document = json.loads(stdout)
    return document if isinstance(document, list) else document.get("sessions", document.get("rows", []))


def _wait_until_replayed(standby, database: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(
                host=str(standby.socket_dir), port=standby.port, user="postgres", dbname=database
            ):
                return
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise AssertionError(f"database {database} never reached the standby")
