"""The migration runner: expected snapshots are fresh, one operator at a time, timeouts set."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy import text

from forgea_cli.db import migrations
from forgea_cli.db.engine import sqlalchemy_url
from forgea_cli.db.snapshots import load_snapshot
from forgea_cli.db.snapshots.build import build_all
from forgea_cli.errors import InProgress


def _libpq(url: str) -> str:
    return sqlalchemy_url(url).replace("postgresql+psycopg://", "postgresql://")


def test_expected_snapshots_match_the_migrations(empty_db):
    built = build_all(empty_db)
    assert list(built) == [r.revision for r in migrations.history()]
    for revision, content in built.items():
        import json

        assert json.loads(content) == load_snapshot(revision), (
            f"src/forgea_cli/db/snapshots/{revision}.json is stale: run `make snapshots`"
        )


def _hold_lock(url: str, seconds: float, held: threading.Event) -> None:
    with psycopg.connect(_libpq(url)) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (migrations.MIGRATION_LOCK_KEY,))
        held.set()
        time.sleep(seconds)


def test_a_second_migration_waits_briefly_then_fails_clearly(empty_db, engine_for):
    held = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(empty_db, 3.0, held))
    holder.start()
    held.wait(5)
    try:
        with pytest.raises(InProgress, match="another forgea migration is running"):
            migrations.upgrade(engine_for(empty_db), "head", migrations.Timeouts(lock_wait_seconds=0.5))
    finally:
        holder.join()


def test_a_second_migration_proceeds_when_the_first_finishes_in_time(empty_db, engine_for):
    held = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(empty_db, 0.5, held))
    holder.start()
    held.wait(5)
    before, after = migrations.upgrade(
        engine_for(empty_db), "head", migrations.Timeouts(lock_wait_seconds=10)
    )
    holder.join()
    assert (before, after) == (None, migrations.head_revision())


def test_runner_sets_lock_and_statement_timeouts(empty_db, engine_for):
    timeouts = migrations.Timeouts(lock_timeout="1234ms", statement_timeout="17min")
    with migrations.locked_connection(engine_for(empty_db), timeouts) as conn:
        assert conn.execute(text("SHOW lock_timeout")).scalar() == "1234ms"
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "17min"
        holders = conn.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        ).scalar()
        assert holders == 1
