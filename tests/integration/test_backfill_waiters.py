"""A web-app session queued on a batch's row locks, on real connections: the backfill sees it (its
waiters watch), pauses saying why, and still finishes every row (how the aim then shortens is the
policy's, tested on a fake clock in tests/unit/test_throttle.py)."""

from __future__ import annotations

import threading

import psycopg

from forgea_cli.db.uow import unit_of_work_factory
from forgea_cli.services import rollout
from tests.integration.rollout_support import adopt_and_expand, libpq, load_legacy

# The first batch's UPDATE holds its rows for 0.6 s once (a statement trigger of this test only):
# long enough for the watch, polling every 0.1 s, to see the writer queued behind it.
SLOW_FIRST_BATCH = """
CREATE TABLE slow_once (armed boolean);
INSERT INTO slow_once VALUES (true);
CREATE FUNCTION slow_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM slow_once) THEN
    DELETE FROM slow_once;
    PERFORM pg_sleep(0.6);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER slow_once AFTER UPDATE ON "LabSession" FOR EACH STATEMENT EXECUTE FUNCTION slow_once();
"""


def _first_session(url: str) -> str:
    with psycopg.connect(libpq(url)) as conn:
        return str(conn.execute('SELECT id FROM "LabSession" ORDER BY id LIMIT 1').fetchone()[0])


def test_a_writer_waiting_on_a_batch_pauses_the_backfill_and_shortens_its_batches(prisma_db, engine_for):
    load_legacy(prisma_db, 600)
    adopt_and_expand(prisma_db)
    with psycopg.connect(libpq(prisma_db), autocommit=True) as conn:
        conn.execute(SLOW_FIRST_BATCH)
    first = _first_session(prisma_db)
    said: list[str] = []
    started = threading.Event()
    writer_done: dict[str, object] = {}

    def web_app_touch() -> None:
        # The web app's compare-and-set touch of the first session, while batch 1 holds it.
        started.wait(timeout=30)
        with psycopg.connect(libpq(prisma_db), autocommit=True) as conn:
            conn.execute("SELECT pg_sleep(0.2)")
            updated = conn.execute(
                'UPDATE "LabSession" SET "lastActivityAt" = now() WHERE id = %s AND status = status', (first,)
            )
            writer_done["rows"] = updated.rowcount

    def notify(message: str) -> None:
        said.append(message)

    writer = threading.Thread(target=web_app_touch)
    writer.start()
    options = rollout.BackfillOptions(
        batch_size=100,
        throttle=rollout.ThrottleOptions(batch_time=0.5, max_batch_size=1000),
        notify=notify,
    )
    uow = unit_of_work_factory(engine_for(prisma_db))
    started.set()
    report = rollout.BACKFILLS["lab-versions"](uow, options)
    writer.join(timeout=30)

    assert writer_done.get("rows") == 1  # the writer waited for the batch, then went through
    assert any(m.startswith("pausing: sessions waiting on the backfill's locks") for m in said), said
    pauses = report.details["throttle"]["pauses"]
    assert pauses and pauses[0]["reason"].startswith("sessions waiting on the backfill's locks")
    assert report.changed >= 600 and report.batches >= 2  # and it went on after the pause
    with psycopg.connect(libpq(prisma_db)) as conn:
        left = conn.execute('SELECT count(*) FROM "LabSession" WHERE "labVersionId" IS NULL').fetchone()[0]
    assert left == 0
