"""Assertions on what the web app's writers did (scripts/webapp_writers.ts), shared by every phase."""

from __future__ import annotations

import uuid
from typing import Any

from tests.interop.support import sql

SEED_LAB_TITLE = "React Stale Closure"
SEED_EMAIL = "test@forgea.tech"
SEED_FORK_URL = "https://github.com/aryasoni1/forgea-lab-001"  # the seed names the lab's template as its fork
LEGACY_TABLES = (
    "User",
    "Account",
    "Session",
    "VerificationToken",
    "Lab",
    "LabSession",
    "VerificationLog",
    "ResumeBullet",
    "AuditLog",
)
WEBHOOK_ACTOR = "github-webhook"  # the route's SYSTEM actor


def is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def table_counts(url: str, tables: tuple[str, ...] = LEGACY_TABLES) -> dict[str, int]:
    query = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM \"{t}\"" for t in tables)
    return {row["t"]: row["n"] for row in sql(url, query)}


def transitions(url: str, session_id: str) -> list[dict[str, Any]]:
    """The LAB_STATUS_TRANSITION audit rows of one session, oldest first."""
    rows = sql(
        url,
        'SELECT "actorId", "userId"::text AS "userId", metadata FROM "AuditLog" '
        "WHERE action = 'LAB_STATUS_TRANSITION' AND metadata->>'labSessionId' = %s "
        "ORDER BY \"createdAt\", metadata->>'fromStatus' DESC",
        (session_id,),
    )
    return [
        {
            "actorId": r["actorId"],
            "userId": r["userId"],
            "actorType": r["metadata"].get("actorType"),
            "from": r["metadata"].get("fromStatus"),
            "to": r["metadata"].get("toStatus"),
            "reason": r["metadata"].get("reason"),
        }
        for r in rows
    ]


def check_writers(
    run: dict[str, Any], url: str, *, active_session_unique: bool, original_guard: bool
) -> None:
    """The web app's own code worked: webhook, transitions, refusals, relations, and the rows it wrote.

    ``active_session_unique``: forgea's one-active-session index is in place (a second active session
    for a student and lab is refused). ``original_guard``: the lifecycle trigger function is the web
    app's own (its message for a bad initial status).
    """
    tag = run["tag"]
    pushed, verified = run["sessions"]["pushed"], run["sessions"]["verified"]
    ada, bob = run["users"]["ada"], run["users"]["bob"]
    assert all(is_uuid(v) for v in (pushed, verified, ada, bob, run["labs"]["created"]))

    # The webhook route: signature checked, the STUCK session found by userForkUrl and moved on.
    assert run["webhook"] == {
        "push": {"status": 200, "body": "Success"},
        "badSignature": {"status": 401, "body": "Invalid signature"},
        "unknownRepo": {"status": 200, "body": "No matching session"},
        "notPush": {"status": 200, "body": "Event ignored"},
    }
    assert run["beforePush"]["status"] == "STUCK"
    assert run["afterPush"]["status"] == "IN_PROGRESS"
    assert run["afterPush"]["lastActivityAt"] > run["beforePush"]["lastActivityAt"]

    # VERIFIED_PASS is terminal, in the web app's module and in the database.
    via_transition = run["terminal"]["viaTransition"]
    assert via_transition["ok"] is None
    assert via_transition["error"]["message"] == (
        "LabSession transition rejected: VERIFIED_PASS -> IN_PROGRESS is not allowed."
    )
    via_update = run["terminal"]["viaUpdate"]
    assert via_update["ok"] is None
    refusal = "Invalid LabSession status transition: VERIFIED_PASS -> IN_PROGRESS"
    assert refusal in via_update["error"]["message"]

    # A session inserted in another status than IN_PROGRESS is refused by the lifecycle trigger.
    insert_stuck = run["insertStuck"]
    assert insert_stuck["ok"] is None
    assert "P0001" in insert_stuck["error"]["message"] and "STUCK" in insert_stuck["error"]["message"]
    if original_guard:
        assert "Invalid initial LabSession status: STUCK" in insert_stuck["error"]["message"]

    duplicate = run["duplicate"]
    if active_session_unique:
        assert duplicate["ok"] is None
        assert duplicate["error"]["code"] == "P2002"
        assert "LabSession_userId_labId_active_key" in duplicate["error"]["message"]
    else:
        assert duplicate["error"] is None and is_uuid(duplicate["ok"])

    # findMany with relations.
    found = {row["id"]: row for row in run["found"]}
    assert found[pushed] == {
        "id": pushed,
        "status": "IN_PROGRESS",
        "userForkUrl": f"https://github.com/ada-{tag}/forgea-lab-001",
        "previewUrl": None,
        "userEmail": f"ada-{tag}@students.example",
        "labTitle": SEED_LAB_TITLE,
        "verificationLog": None,
    }
    assert found[verified] == {
        "id": verified,
        "status": "VERIFIED_PASS",
        "userForkUrl": f"https://github.com/bob-{tag}/leaky-cache",
        "previewUrl": f"https://preview.example/bob-{tag}",
        "userEmail": f"bob-{tag}@students.example",
        "labTitle": f"Leaky Cache {tag}",
        "verificationLog": {"id": run["verificationLogId"], "commitSha": run["commitSha"]},
    }

    # The rows, read back with SQL.
    rows = {
        r["id"]: r
        for r in sql(
            url,
            'SELECT id::text, status::text, "labId"::text FROM "LabSession" WHERE id = ANY(%s)',
            ([pushed, verified],),
        )
    }
    assert rows[pushed]["status"] == "IN_PROGRESS" and rows[pushed]["labId"] == run["labs"]["seed"]
    assert rows[verified]["status"] == "VERIFIED_PASS" and rows[verified]["labId"] == run["labs"]["created"]

    assert transitions(url, pushed) == [
        {
            "actorId": ada,
            "userId": ada,
            "actorType": "USER",
            "from": "IN_PROGRESS",
            "to": "STUCK",
            "reason": "student_stuck",
        },
        {
            "actorId": WEBHOOK_ACTOR,
            "userId": ada,
            "actorType": "SYSTEM",
            "from": "STUCK",
            "to": "IN_PROGRESS",
            "reason": "github_webhook_push",
        },
    ]
    assert transitions(url, verified) == [
        {
            "actorId": "verification-engine",
            "userId": bob,
            "actorType": "SYSTEM",
            "from": "IN_PROGRESS",
            "to": "VERIFIED_PASS",
            "reason": "verification_passed",
        }
    ]
    # The @forgea/audit shim's row for the push (only the signed, matching delivery wrote one).
    attempts = sql(
        url,
        'SELECT "actorId", "userId", metadata FROM "AuditLog" '
        "WHERE action = 'LAB_VERIFY_ATTEMPT' AND metadata->>'commitSha' = %s",
        (run["commitSha"],),
    )
    assert len(attempts) == 1
    assert attempts[0]["actorId"] == WEBHOOK_ACTOR and attempts[0]["userId"] is None
    assert attempts[0]["metadata"]["labId"] == run["labs"]["seed"]
    assert attempts[0]["metadata"]["actorType"] == "SYSTEM"

    logs = sql(
        url,
        'SELECT id::text, "commitSha" FROM "VerificationLog" WHERE "sessionId" = %s',
        (verified,),
    )
    assert logs == [{"id": run["verificationLogId"], "commitSha": run["commitSha"]}]
