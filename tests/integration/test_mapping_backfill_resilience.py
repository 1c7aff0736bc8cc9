"""The repo-mapping backfill killed mid-run (SIGKILL, real subprocess) and next to live legacy writers."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from sqlalchemy import text

from forgea_cli.services.mapping import backfill_repo_mappings
from forgea_cli.urls import RepoUrlRejected, canonical_repo_url
from tests.integration.mapping_support import (
    add_session,
    add_sessions_bulk,
    mappings_by_session,
    session_urls,
)

SESSIONS = 400


def wait_for(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def canonical_or_none(url: str) -> str | None:
    try:
        return canonical_repo_url(url)
    except RepoUrlRejected:
        return None


def assert_every_repository_mapped_once(engine) -> None:
    """Every valid URL has exactly one mapping, held by a session spelling that URL."""
    urls = session_urls(engine)
    mapped = mappings_by_session(engine)
    wanted = {canonical_or_none(url) for url in urls.values()} - {None}
    assert {m["canonicalUrl"] for m in mapped.values()} == wanted
    for session, mapping in mapped.items():
        assert canonical_or_none(urls[session]) == mapping["canonicalUrl"]


def test_killed_mid_run_keeps_its_batches_and_a_rerun_finishes(migrated_db, engine_for, uow_for, tmp_path):
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    with engine.begin() as connection:
        add_sessions_bulk(connection, SESSIONS, "https://github.com/student{i}/lab-x")
    # Batches follow canonical URL order: hold the unique key of one in the middle, so the run
    # commits the batches before it and then waits on our lock; that is where it gets killed.
    blocker_url = sorted(canonical_repo_url(url) for url in session_urls(engine).values())[SESSIONS // 2]
    blocker_session = next(
        s for s, url in session_urls(engine).items() if canonical_repo_url(url) == blocker_url
    )
    holder = engine.connect()
    holder.execute(
        text(
            'INSERT INTO "GitHubRepoMapping" ("labSessionId", owner, name, "canonicalUrl", source) '
            "VALUES (:s, 'x', 'y', :url, 'MANUAL')"
        ),
        {"s": blocker_session, "url": blocker_url},
    )
    env = {**os.environ, "FORGEA_DATABASE_URL": migrated_db, "FORGEA_DATA_DIR": str(tmp_path)}
    child = subprocess.Popen(
        [sys.executable, "-m", "forgea_cli", "mapping", "backfill", "--batch-size", "10", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: blocked_backfills(engine) == 1, what="the backfill to wait on the held row")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        holder.rollback()
        holder.close()

    committed = len(mappings_by_session(engine))
    assert 0 < committed <= SESSIONS // 2

    rerun = backfill_repo_mappings(uow, batch_size=10)

    assert rerun.changed == SESSIONS - committed
    assert_every_repository_mapped_once(engine)
    assert backfill_repo_mappings(uow).nothing_to_do


def blocked_backfills(engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'forgea' AND wait_event_type = 'Lock'"
                )
            ).scalar()
        )


class LegacyWriter(threading.Thread):
    """What the web app keeps doing during the rollout: insert sessions (some with a URL that is
    already taken), and move statuses / lastActivityAt with a compare-and-set on status."""

    def __init__(self, engine, existing: list[str]) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.existing = existing
        self.stop = threading.Event()
        self.inserted = 0
        self.updated = 0
        self.errors: list[BaseException] = []

    def run(self) -> None:
        spin = random.Random(6)
        try:
            while not self.stop.is_set():
                with self.engine.begin() as connection:
                    url = (
                        spin.choice(self.existing)
                        if spin.random() < 0.2
                        else f"https://github.com/live{uuid.uuid4().hex[:10]}/repo.git"
                    )
                    add_session(connection, url)
                    self.inserted += 1
                    self.updated += connection.execute(
                        text(
                            'UPDATE "LabSession" SET status = \'STUCK\', "lastActivityAt" = now() '
                            "WHERE id = (SELECT id FROM \"LabSession\" WHERE status = 'IN_PROGRESS' "
                            "ORDER BY random() LIMIT 1) AND status = 'IN_PROGRESS'"
                        )
                    ).rowcount
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)


@pytest.mark.timeout(180)
def test_backfill_next_to_live_legacy_writers(migrated_db, engine_for, uow_for):
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    with engine.begin() as connection:
        add_sessions_bulk(connection, 1500, "https://github.com/student{i}/lab-y")
    writer = LegacyWriter(engine, list(session_urls(engine).values())[:50])
    writer.start()
    try:
        wait_for(lambda: writer.inserted >= 5 or writer.errors, what="the writer to start")
        before = writer.inserted
        first = backfill_repo_mappings(uow, batch_size=50)
        during = writer.inserted - before
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    assert writer.errors == []
    assert during > 0  # the legacy writer was never blocked for the whole run
    assert first.changed >= 1500

    second = backfill_repo_mappings(uow, batch_size=50)  # picks up what was inserted meanwhile

    assert second.details["lost_to_concurrent_writers"] == 0
    assert_every_repository_mapped_once(engine)
    assert backfill_repo_mappings(uow).nothing_to_do
