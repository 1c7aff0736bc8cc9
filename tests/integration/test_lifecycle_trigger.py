"""The migrated lifecycle trigger agrees with `forgea_cli.lifecycle`, probed pair by pair.

Same machinery as `verify-constraints` (services/lifecycle_probe.py). The fingerprint test makes a
change to the module without a new revision that re-freezes the trigger SQL fail.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import text

from forgea_cli import lifecycle
from forgea_cli.db.engine import connect
from forgea_cli.db.uow import UnitOfWork
from forgea_cli.lifecycle import ALL_PAIRS, Outcome, Status
from forgea_cli.services.verify import lifecycle_probe as lp
from forgea_cli.services.verify.migrations import frozen_fingerprints
from tests.conftest import migrate_to


def _probe(engine) -> list[lp.Verdict]:
    with UnitOfWork(engine) as uow, lp.probe_transaction(uow):
        world = lp.create_world(uow.connection)
        return lp.probe_lifecycle(uow, world)


def _disagreements(verdicts: list[lp.Verdict]) -> list[str]:
    return [
        f"{v.case.pair} [{v.case.conditions}]: expected {v.expected}, found {v.found} {v.detail}"
        for v in verdicts
        if not v.agrees
    ]


def test_trigger_agrees_with_the_module_on_every_pair_and_precondition(migrated_db, engine_for):
    verdicts = _probe(engine_for(migrated_db))

    assert _disagreements(verdicts) == []
    built = [v for v in verdicts if v.buildable]
    assert {v.case.pair for v in built} == {f"{a}->{b}" for a, b in ALL_PAIRS}
    # Every kind of verdict the trigger can give was actually seen, so the probe is not vacuous.
    assert set(Counter(v.found for v in built)) == set(Outcome)
    # With the unique active-session index, a second active session cannot exist next to an
    # active probed session: exactly those cases are reported as not buildable.
    unbuildable = {(v.case.current, v.case.other_active) for v in verdicts if not v.buildable}
    assert unbuildable == {(Status.IN_PROGRESS, True), (Status.STUCK, True)}


def test_before_the_unique_index_every_case_can_be_built(empty_db, engine_for):
    migrate_to(empty_db, "0007_f6_contract_validate")
    verdicts = _probe(engine_for(empty_db))

    assert _disagreements(verdicts) == []
    assert all(v.buildable for v in verdicts)
    assert len(verdicts) == len(lp.all_cases()) == 16 * 4 - 4 * 2


def test_verdicts_name_the_preconditions(migrated_db, engine_for):
    verdicts = {
        (v.case.pair, v.case.pass_evidence, v.case.other_active): v for v in _probe(engine_for(migrated_db))
    }

    assert verdicts[("IN_PROGRESS->VERIFIED_PASS", False, False)].found == Outcome.NEEDS_PASS_EVIDENCE
    assert verdicts[("IN_PROGRESS->VERIFIED_PASS", True, False)].found == Outcome.ALLOWED
    assert verdicts[("DEFERRED->IN_PROGRESS", False, True)].found == Outcome.OTHER_ACTIVE_SESSION
    assert verdicts[("DEFERRED->IN_PROGRESS", False, False)].found == Outcome.ALLOWED
    assert verdicts[("VERIFIED_PASS->IN_PROGRESS", True, False)].found == Outcome.ILLEGAL


def test_a_replaced_trigger_function_is_caught(migrated_db, engine_for):
    engine = engine_for(migrated_db)
    with connect(engine) as connection:
        definition = connection.execute(
            text("SELECT pg_get_functiondef('enforce_lab_session_status_transition'::regproc)")
        ).scalar_one()
        tampered = definition.replace(
            "ELSE FALSE", "WHEN 'VERIFIED_PASS' THEN NEW.\"status\" = 'IN_PROGRESS' ELSE FALSE"
        )
        assert tampered != definition
        connection.execute(text(tampered))
        connection.commit()

    wrong = [v for v in _probe(engine) if not v.agrees]

    assert {v.case.pair for v in wrong} == {"VERIFIED_PASS->IN_PROGRESS"}
    assert all(v.expected == Outcome.ILLEGAL and v.found != Outcome.ILLEGAL for v in wrong)


def test_probing_leaves_nothing_behind(migrated_db, engine_for):
    engine = engine_for(migrated_db)
    tables = ("User", "Lab", "LabVersion", "LabSession", "VerificationAttempt", "AuditLog")
    count = " + ".join(f'(SELECT count(*) FROM "{t}")' for t in tables)
    with connect(engine) as connection:
        before = connection.execute(text(f"SELECT {count}")).scalar_one()
    _probe(engine)
    with connect(engine) as connection:
        assert connection.execute(text(f"SELECT {count}")).scalar_one() == before


def test_the_module_is_the_table_the_newest_migration_froze():
    frozen = frozen_fingerprints()

    assert "0004_f6_lifecycle" in frozen, "the lifecycle revision records LIFECYCLE_FINGERPRINT"
    newest_revision = list(frozen)[-1]
    assert frozen[newest_revision] == lifecycle.fingerprint(), (
        f"forgea_cli.lifecycle changed since {newest_revision} froze the trigger SQL: "
        "add a revision that re-freezes the trigger and records the new LIFECYCLE_FINGERPRINT"
    )
