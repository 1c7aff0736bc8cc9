"""verify-constraints along the rollout of generated legacy data: gaps are warnings while the
backfills are pending, and the database passes at head."""

from __future__ import annotations

import json

from forgea_cli.db.engine import make_engine
from forgea_cli.db.uow import unit_of_work_factory
from forgea_cli.services.rollout import backfills
from tests.integration.rollout_support import adopt_and_expand, load_legacy, run_backfills, upgrade_to


def _checks(result) -> dict[str, dict]:
    return {c["id"]: c for c in json.loads(result.stdout)["checks"]}


def test_legacy_data_through_the_rollout(forgea, prisma_db):
    load_legacy(prisma_db, 3000)
    adopt_and_expand(prisma_db)

    expanded = forgea("verify-constraints", "--json", url=prisma_db)
    checks = _checks(expanded)
    failing = {i for i, c in checks.items() if c["status"] == "fail"}
    assert failing == {"migrations.at_head"}, failing
    for gap in (
        "data.completed_at",
        "data.coverage.lab_version",
        "data.active_sessions.unique",
        "data.verification_log.attempt",
    ):
        assert checks[gap]["status"] == "warn", (gap, checks[gap]["message"])
        assert checks[gap]["hint"].startswith("`forgea backfill")
    assert checks["probes.active_session.unique"]["status"] == "skip"

    run_backfills(prisma_db)
    _backfill_repo_mappings(prisma_db)
    upgrade_to(prisma_db, "head")

    at_head = forgea("verify-constraints", "--json", url=prisma_db)
    assert at_head.exit_code == 0, at_head.stdout
    checks = _checks(at_head)
    warnings = {i for i, c in checks.items() if c["status"] == "warn"}
    assert warnings <= {"data.coverage.sessions_without_mapping", "data.coverage.unresolved_mappings"}
    assert {c["status"] for i, c in checks.items() if i.startswith("probes.")} == {"pass"}
    # What the mapping backfill wrote is canonical; invalid and duplicate URLs stay unmapped.
    assert checks["data.mapping.canonical_url"]["status"] == "pass"
    assert checks["data.coverage.unresolved_mappings"]["found"]["PENDING"] > 2500
    assert 0 < checks["data.coverage.sessions_without_mapping"]["found"]["count"] < 100


def _backfill_repo_mappings(url: str) -> None:
    engine = make_engine(url)
    try:
        backfills.repo_mappings(unit_of_work_factory(engine), backfills.BackfillOptions(batch_size=500))
    finally:
        engine.dispose()
