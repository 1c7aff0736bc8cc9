"""Transitions under concurrency, against the pure model, and when SQL bypasses the tool."""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from forgea_cli import lifecycle
from forgea_cli.db.engine import make_engine
from forgea_cli.db.uow import unit_of_work_factory
from forgea_cli.errors import Conflict, IllegalTransition, PreconditionFailed
from forgea_cli.services.sessions.transitions import TransitionRequest, transition_session
from tests.integration import seed

Status = lifecycle.Status
WORKERS, SESSIONS, ROUNDS = 50, 5, 12


def _legal_targets(current: Status) -> list[Status]:
    return sorted(t for t in lifecycle.TRANSITIONS[current] if t != Status.VERIFIED_PASS)


def test_fifty_concurrent_writers_one_winner_per_step(migrated_db):
    engine = make_engine(migrated_db, pool_size=WORKERS)
    with seed.connect(migrated_db) as conn:
        lab_id = seed.add_lab(conn)
        sessions = [seed.add_session(conn, seed.add_user(conn), lab_id) for _ in range(SESSIONS)]
    state = {s: Status.IN_PROGRESS for s in sessions}
    wins: Counter = Counter()
    losses: list[str] = []
    unexpected: list[str] = []
    barrier = threading.Barrier(WORKERS)
    lock = threading.Lock()

    def worker(index: int, round_number: int, start: dict) -> None:
        rng = random.Random(round_number * 1000 + index)
        session_id = sessions[index % SESSIONS]
        target = rng.choice(_legal_targets(start[session_id]))
        request = TransitionRequest(session_id, target, f"race:{index}", expect=(start[session_id],))
        barrier.wait()
        try:
            transition_session(unit_of_work_factory(engine), request)
            with lock:
                wins[(round_number, session_id)] += 1
                state[session_id] = target
        except Conflict as lost:
            with lock:
                losses.append(type(lost).__name__)
        except Exception as other:  # any other failure is a bug
            with lock:
                unexpected.append(repr(other))

    try:
        for round_number in range(ROUNDS):
            start = dict(state)
            threads = [threading.Thread(target=worker, args=(i, round_number, start)) for i in range(WORKERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        engine.dispose()

    assert unexpected == []
    assert all(wins[(r, s)] == 1 for r in range(ROUNDS) for s in sessions), wins
    assert len(losses) == ROUNDS * (WORKERS - SESSIONS)
    assert set(losses) <= {"ConcurrentUpdate", "ExpectedStatusMismatch"}
    with seed.connect(migrated_db) as conn:
        for session_id in sessions:
            rows = seed.audit_rows(conn, session_id)
            assert len(rows) == ROUNDS
            chain = [Status.IN_PROGRESS] + [Status(m["toStatus"]) for _, _, m in rows]
            assert all(b in lifecycle.TRANSITIONS[a] for a, b in itertools.pairwise(chain))
            assert [Status(m["fromStatus"]) for _, _, m in rows] == chain[:-1]
            assert Status(seed.status_of(conn, session_id)) == chain[-1] == state[session_id]


class TransitionMachine(RuleBasedStateMachine):
    """Random transition sequences against the database and the pure model; they never disagree."""

    url: str = ""

    @initialize()
    def start(self):
        self.conn = seed.connect(self.url)
        self.engine = make_engine(self.url, pool_size=1)
        self.uow = unit_of_work_factory(self.engine)
        self.lab_id = seed.add_lab(self.conn)
        self.user_id = seed.add_user(self.conn)
        self.session_id = seed.add_session(self.conn, self.user_id, self.lab_id)
        self.model = Status.IN_PROGRESS
        self.facts = lifecycle.Facts()
        self.other_active: list = []

    @rule(wanted=st.sampled_from(list(Status)))
    def transition(self, wanted):
        expected = lifecycle.judge(self.model, wanted, self.facts)
        try:
            result = transition_session(self.uow, TransitionRequest(self.session_id, wanted, "hypothesis"))
            outcome = lifecycle.Outcome.ALLOWED if result.changed else lifecycle.Outcome.UNCHANGED
        except IllegalTransition:
            outcome = lifecycle.Outcome.ILLEGAL
        except PreconditionFailed as refused:
            outcome = (
                lifecycle.Outcome.NEEDS_PASS_EVIDENCE
                if "VERIFIED_PASS" in refused.message
                else lifecycle.Outcome.OTHER_ACTIVE_SESSION
            )
        assert outcome == expected, (self.model, wanted, self.facts)
        if outcome == lifecycle.Outcome.ALLOWED:
            self.model = wanted

    @rule()
    def record_pass(self):
        seed.add_pass_attempt(self.conn, self.session_id)
        self.facts = lifecycle.Facts(True, self.facts.other_active_session)

    @rule()
    def another_session_appears(self):
        if self.model in lifecycle.ACTIVE or self.facts.other_active_session:
            return  # the unique active index would refuse it; the model agrees it cannot exist
        self.other_active.append(seed.add_session(self.conn, self.user_id, self.lab_id))
        self.facts = lifecycle.Facts(self.facts.has_pass_evidence, True)

    @rule()
    def other_session_is_deferred(self):
        if self.other_active:
            other = self.other_active.pop()
            self.conn.execute("UPDATE \"LabSession\" SET status = 'DEFERRED' WHERE id = %s", (other,))
            self.facts = lifecycle.Facts(self.facts.has_pass_evidence, False)

    @invariant()
    def database_agrees(self):
        if hasattr(self, "conn"):
            assert Status(seed.status_of(self.conn, self.session_id)) == self.model

    def teardown(self):
        if hasattr(self, "conn"):
            self.conn.close()
            self.engine.dispose()


def test_random_sequences_agree_with_the_model(migrated_db):
    TransitionMachine.url = migrated_db
    runner = TransitionMachine.TestCase
    runner.settings = settings(
        max_examples=25, stateful_step_count=15, deadline=None, suppress_health_check=list(HealthCheck)
    )
    runner().runTest()


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            "UPDATE \"LabSession\" SET status = 'IN_PROGRESS' WHERE id = %(id)s",
            "Invalid LabSession status transition",
        ),
        (
            'UPDATE "LabSession" SET "completedAt" = now() - interval \'1 day\' WHERE id = %(id)s',
            "cannot change",
        ),
        ('DELETE FROM "VerificationAttempt" WHERE "labSessionId" = %(id)s', "append-only"),
    ],
    ids=["illegal-update", "completed-at-edited", "attempt-deleted"],
)
def test_sql_that_bypasses_the_tool_is_refused(migrated_db, statement, message):
    with seed.connect(migrated_db) as conn:
        session_id = seed.add_session(conn, seed.add_user(conn), seed.add_lab(conn), "VERIFIED_PASS")
        with pytest.raises(psycopg.Error) as refused:
            conn.execute(statement, {"id": session_id})
        assert message in str(refused.value)


def test_completed_at_cannot_be_set_on_an_unfinished_session(migrated_db):
    with seed.connect(migrated_db) as conn:
        session_id = seed.add_session(conn, seed.add_user(conn), seed.add_lab(conn), "STUCK")
        with pytest.raises(psycopg.Error, match="only be set on a VERIFIED_PASS session"):
            conn.execute('UPDATE "LabSession" SET "completedAt" = now() WHERE id = %s', (session_id,))
        with pytest.raises(psycopg.Error, match="completedAt is set by the database"):
            conn.execute(
                'INSERT INTO "LabSession" (id, "userId", "labId", "userForkUrl", "completedAt") '
                'SELECT gen_random_uuid(), %s, "labId", \'u\', now() FROM "LabSession" WHERE id = %s',
                (seed.add_user(conn), session_id),
            )
