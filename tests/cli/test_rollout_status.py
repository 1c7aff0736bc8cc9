"""`forgea rollout status` walks the runbook with the operator: each step ✓ or the next command."""

from __future__ import annotations

import json

from tests.integration.rollout_support import load_legacy
from tests.integration.session_create_support import sql


def _status(forgea, url: str, *extra: str):
    result = forgea("rollout", "status", "--json", *extra, url=url)
    return result.exit_code, json.loads(result.stdout)


def _step(document: dict, step_id: str) -> dict:
    return next(step for step in document["steps"] if step["step"] == step_id)


def test_rollout_status_names_each_next_command_until_the_rollout_is_done(forgea, prisma_db):
    load_legacy(prisma_db, 600)
    code, document = _status(forgea, prisma_db)
    assert code == 1 and document["next"] == "forgea migrate adopt" and document["done"] is False

    human = forgea("rollout", "status", url=prisma_db)
    assert human.exit_code == 1 and "→ forgea migrate adopt" in human.stdout
    assert "next: forgea migrate adopt" in human.stdout

    walked = []
    for _ in range(12):  # run whatever it names next, as an operator would
        code, document = _status(forgea, prisma_db)
        if document["done"]:
            break
        command = document["next"]
        walked.append(command)
        if command == "forgea mapping resolve-ids":  # GitHub's part: no repository exists here
            sql(
                prisma_db,
                """UPDATE "GitHubRepoMapping" SET resolution = 'NOT_FOUND' WHERE resolution = 'PENDING'""",
            )
            continue
        ran = forgea(*command.split()[1:], url=prisma_db)
        assert ran.exit_code == 0, (command, ran.stderr)
    assert code == 0 and document["done"], document
    assert walked == [
        "forgea migrate adopt",
        "forgea migrate upgrade 0005_f6_session_indexes",
        "forgea backfill lab-versions",
        "forgea backfill completed-at",
        "forgea backfill verification-attempts",
        "forgea mapping backfill",
        "forgea backfill resolve-duplicates",
        "forgea migrate upgrade",
        "forgea mapping resolve-ids",
    ]
    assert all(step["state"] == "done" for step in document["steps"])
    assert "reported, never mapped" in _step(document, "backfill.repo-mappings")["detail"]
    assert _step(document, "verify-constraints")["detail"].startswith("passed")
    assert "rollout complete" in forgea("rollout", "status", url=prisma_db).stdout


def test_the_remaining_rows_are_what_the_backfill_would_change(forgea, prisma_db):
    load_legacy(prisma_db, 300)
    assert forgea("migrate", "adopt", url=prisma_db).exit_code == 0
    assert forgea("migrate", "upgrade", "0005_f6_session_indexes", url=prisma_db).exit_code == 0
    _code, document = _status(forgea, prisma_db, "--no-verify")
    for name in ("lab-versions", "completed-at", "verification-attempts"):
        dry = json.loads(forgea("backfill", name, "--dry-run", "--json", url=prisma_db).stdout)
        assert _step(document, f"backfill.{name}")["detail"] == f"{dry['pending']:,} rows to change"
    mapping = json.loads(forgea("mapping", "backfill", "--dry-run", "--json", url=prisma_db).stdout)
    assert _step(document, "backfill.repo-mappings")["detail"].startswith(
        f"{mapping['pending']:,} sessions to map"
    )
    assert _step(document, "verify-constraints")["state"] == "blocked"


def test_an_empty_database_starts_with_upgrade(forgea, empty_db):
    code, document = _status(forgea, empty_db)
    assert code == 1 and document["next"] == "forgea migrate upgrade"


def test_loading_the_checklist_never_shadows_a_rollout_verb(forgea, migrated_db):
    """A submodule named like a package verb replaces it once imported (`rollout.status`)."""
    import forgea_cli.services.rollout as rollout

    assert forgea("rollout", "status", "--no-verify", url=migrated_db).exit_code in (0, 1)
    assert callable(rollout.status) and callable(rollout.rollout_status)
    assert forgea("migrate", "status", url=migrated_db).exit_code == 0
