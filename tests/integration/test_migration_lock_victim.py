"""Migrations are the victim of the lock queue (DESIGN §10): behind a long reader, a revision waits at
most lock_timeout, gives way, and retries; the web app's writers never queue behind it for longer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest

from forgea_cli.db import migrations
from tests.conftest import migrate_to
from tests.integration.rollout_support import libpq
from tests.processes import interruptible

EXPAND = "0002_f6_expand"


@pytest.fixture
def baseline_with_a_session(empty_db):
    migrate_to(empty_db, "0001_baseline")
    user, lab, session = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(libpq(empty_db), autocommit=True) as conn:
        conn.execute('INSERT INTO "User" (id, email) VALUES (%s, %s)', (user, f"{user}@example.edu"))
        conn.execute(
            'INSERT INTO "Lab" (id, title, epic, "sourceGithubIssueUrl", "repoVersion", "baseRepoUrl", '
            "\"failureClass\", constraints) VALUES (%s, 'L', 'E', 'u', 'v1', "
            "'https://github.com/forgea/t', 'RESOURCE_LEAK', '{}')",
            (lab,),
        )
        conn.execute(
            'INSERT INTO "LabSession" (id, "userId", "labId", "userForkUrl") VALUES (%s, %s, %s, %s)',
            (session, user, lab, f"https://github.com/s/{session}"),
        )
    return empty_db, session


class LongReader:
    """A transaction that read LabSession and holds its ACCESS SHARE lock until released."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(libpq(url))
        self.conn.execute('SELECT count(*) FROM "LabSession"')
        self.pid = self.conn.info.backend_pid

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


class WebAppWriter(threading.Thread):
    """The web app's compare-and-set touch of a session, over and over, timing each statement."""

    def __init__(self, url: str, session_id: uuid.UUID) -> None:
        super().__init__(daemon=True)
        self.url, self.session_id = url, session_id
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        with psycopg.connect(libpq(self.url), autocommit=True) as conn:
            while not self.done.is_set():
                started = time.perf_counter()
                try:
                    conn.execute(
                        'UPDATE "LabSession" SET "lastActivityAt" = now() WHERE id = %s AND status = %s',
                        (self.session_id, "IN_PROGRESS"),
                    )
                except psycopg.Error as exc:  # pragma: no cover - reported by the test
                    self.errors.append(str(exc))
                self.latencies.append(time.perf_counter() - started)
                time.sleep(0.02)


def _revision(url: str) -> str | None:
    with psycopg.connect(libpq(url)) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None


def _has_table(url: str, name: str) -> bool:
    with psycopg.connect(libpq(url)) as conn:
        return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{name}"',)).fetchone()[0]


def test_behind_a_long_reader_the_revision_retries_and_writers_never_queue_behind_it(
    baseline_with_a_session, engine_for
):
    url, session_id = baseline_with_a_session
    reader = LongReader(url)
    writer = WebAppWriter(url, session_id)
    writer.start()
    retries: list[migrations.LockRetry] = []
    timeouts = migrations.Timeouts(lock_timeout="200ms", lock_retries=40, retry_initial=0.2, retry_max=0.4)
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = migrations.upgrade(engine_for(url), EXPAND, timeouts, on_retry=retries.append)
        except Exception as exc:  # reported by the assertions below
            outcome["error"] = exc

    migration = threading.Thread(target=run)
    migration.start()
    reader_hold = 4.0
    time.sleep(reader_hold)
    reader.release()
    migration.join(timeout=60)
    writer.done.set()
    writer.join(timeout=10)

    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"] == ("0001_baseline", EXPAND)
    assert retries, "the revision should have timed out behind the reader and retried"
    assert {b.pid for r in retries for b in r.blockers} == {reader.pid}
    assert writer.errors == []
    # Queued behind a waiting ACCESS EXCLUSIVE request, a writer would wait the reader's whole 4 s;
    # as the victim, the revision lets writers through at every lock_timeout (200 ms).
    assert max(writer.latencies) < reader_hold / 2, max(writer.latencies)
    assert len(writer.latencies) > 20


def test_a_revision_that_never_gets_its_lock_gives_up_cleanly_naming_the_holder(
    baseline_with_a_session, engine_for
):
    url, _ = baseline_with_a_session
    reader = LongReader(url)
    timeouts = migrations.Timeouts(lock_timeout="100ms", lock_retries=2, retry_initial=0.05, retry_max=0.1)
    try:
        with pytest.raises(migrations.LockNotGranted) as refused:
            migrations.upgrade(engine_for(url), EXPAND, timeouts)
    finally:
        reader.release()

    assert f"pid {reader.pid}" in refused.value.message
    assert "not stamped" in refused.value.message
    assert [b.pid for b in refused.value.blockers] == [reader.pid]
    assert _revision(url) == "0001_baseline"
    assert not _has_table(url, "LabVersion")  # nothing of the revision is left half-done


def test_sigint_while_waiting_for_the_lock_leaves_nothing_half_done(baseline_with_a_session):
    url, _ = baseline_with_a_session
    reader = LongReader(url)
    env = {**os.environ, "FORGEA_DATABASE_URL": url, "FORGEA_ACTOR": "test:sigint"}
    process = interruptible(
        [sys.executable, "-m", "forgea_cli", "migrate", "upgrade", EXPAND, "--lock-timeout", "30s"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_lock_wait(url)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        reader.release()
        if process.poll() is None:
            process.kill()

    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert _revision(url) == "0001_baseline"
    assert not _has_table(url, "LabVersion")
    with psycopg.connect(libpq(url)) as conn:
        waiting = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = 'forgea' AND wait_event_type = 'Lock'"
        ).fetchone()[0]
    assert waiting == 0


def _wait_for_lock_wait(url: str, timeout: float = 30.0) -> None:
    """Until a forgea backend is waiting on a lock (the revision behind the reader)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'forgea' "
                "AND wait_event_type = 'Lock'"
            ).fetchone()
            if row[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the migration never waited for its lock")
