"""`forgea rollout status`'s checklist, judged from facts alone (services/rollout/checklist.py is pure)."""

from __future__ import annotations

from forgea_cli.services.rollout.checklist import RolloutFacts, VerifySummary, checklist

REVISIONS = (
    "0001_baseline",
    "0002_f6_expand",
    "0003_f6_validate_version_fk",
    "0004_f6_lifecycle",
    "0005_f6_session_indexes",
    "0006_f6_contract_checks",
    "0007_f6_contract_validate",
    "0008_f6_contract_active_session",
)
HEAD = REVISIONS[-1]
CLEAN = {"lab-versions": 0, "completed-at": 0, "verification-attempts": 0}


def facts(current, **measured) -> RolloutFacts:
    return RolloutFacts(current, HEAD, REVISIONS, measured.pop("prisma_built", True), **measured)


def states(status) -> dict[str, tuple[str, str | None]]:
    return {step.id: (step.state, step.next) for step in status.steps}


def test_a_prisma_database_never_adopted_starts_with_adopt_and_blocks_the_rest():
    status = checklist(facts(None))
    assert status.next == "forgea migrate adopt" and not status.done
    assert states(status)["adopted"] == ("todo", "forgea migrate adopt")
    assert {state for step, (state, _next) in states(status).items() if step != "adopted"} == {"blocked"}


def test_a_new_empty_database_is_built_by_upgrade():
    assert checklist(facts(None, prisma_built=False)).next == "forgea migrate upgrade"


def test_after_adopt_the_expand_is_next():
    status = checklist(facts("0001_baseline", duplicate_students=0))
    assert status.next == "forgea migrate upgrade 0005_f6_session_indexes"
    assert states(status)["backfill.lab-versions"] == ("blocked", "after expanded")


def test_after_the_expand_each_backfill_says_what_is_left():
    status = checklist(
        facts(
            "0005_f6_session_indexes",
            remaining={"lab-versions": 412, "completed-at": 0, "verification-attempts": 1},
            unmapped_sessions=500,
            mappable_sessions=480,
            mapping_problems=20,
            duplicate_students=3,
            pending_mappings=0,
        )
    )
    steps = {step.id: step for step in status.steps}
    assert status.next == "forgea backfill lab-versions"
    assert steps["backfill.lab-versions"].detail == "412 rows to change"
    assert steps["backfill.completed-at"].done
    assert steps["backfill.verification-attempts"].detail == "1 row to change"
    assert steps["backfill.repo-mappings"].next == "forgea mapping backfill"
    assert "20 sessions reported, never mapped" in steps["backfill.repo-mappings"].detail
    assert steps["duplicates"].next == "forgea backfill resolve-duplicates"
    assert steps["duplicates"].detail.startswith("3 students have")
    assert steps["contract"].next == "forgea migrate upgrade"
    assert steps["verify-constraints"].state == "blocked"


def test_problems_alone_never_hold_the_mapping_step():
    status = checklist(
        facts(HEAD, remaining=CLEAN, unmapped_sessions=20, mappable_sessions=0, mapping_problems=20,
              duplicate_students=0, pending_mappings=0, verify=VerifySummary(True, 0, 2))
    )  # fmt: skip
    assert status.done and status.next is None
    steps = {step.id: step for step in status.steps}
    assert (
        steps["backfill.repo-mappings"].done
        and "20 sessions reported" in steps["backfill.repo-mappings"].detail
    )
    assert steps["verify-constraints"].detail == "passed, 2 warnings"


def test_pending_ids_and_a_failing_verify_are_steps_too():
    status = checklist(
        facts(HEAD, remaining=CLEAN, unmapped_sessions=0, mappable_sessions=0, mapping_problems=0,
              duplicate_students=0, pending_mappings=1, verify=VerifySummary(False, 1, 0))
    )  # fmt: skip
    assert status.next == "forgea mapping resolve-ids"
    assert states(status)["verify-constraints"] == ("todo", "forgea verify-constraints")
    assert {step.id: step.detail for step in status.steps}["mappings.resolved"] == "1 mapping still PENDING"


def test_an_unknown_revision_is_not_adopted_by_this_build():
    status = checklist(facts("0099_from_the_future"))
    assert states(status)["adopted"][0] == "todo" and "does not know" in status.steps[0].detail
    assert status.to_json()["steps"][0]["step"] == "adopted"
