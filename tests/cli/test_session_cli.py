"""`forgea session transition / show / list` and `forgea lifecycle show` through the CLI."""

from __future__ import annotations

import json

import pytest

from tests.integration import seed


@pytest.fixture
def world(migrated_db):
    with seed.connect(migrated_db) as conn:
        lab_id = seed.add_lab(conn)
        user_id = seed.add_user(conn, "ada@example.edu")
        session_id = seed.add_session(conn, user_id, lab_id)
    return {"url": migrated_db, "lab": lab_id, "user": user_id, "session": session_id}


def test_transition_writes_one_audit_row_with_the_legacy_shape(forgea, world):
    result = forgea(
        "session",
        "transition",
        str(world["session"]),
        "--to",
        "stuck",
        "--reason",
        "no push",
        url=world["url"],
    )
    assert result.exit_code == 0, result.stderr
    with seed.connect(world["url"]) as conn:
        assert seed.status_of(conn, world["session"]) == "STUCK"
        rows = seed.audit_rows(conn, world["session"])
    assert len(rows) == 1
    action, actor, metadata = rows[0]
    assert (action, actor) == ("LAB_STATUS_TRANSITION", "test:operator")
    assert metadata == {
        "actorType": "ADMIN",
        "labId": str(world["lab"]),
        "labSessionId": str(world["session"]),
        "fromStatus": "IN_PROGRESS",
        "toStatus": "STUCK",
        "statusChanged": True,
        "reason": "no push",
    }


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (
            "VERIFIED_PASS",
            ["--to", "IN_PROGRESS"],
            "Invalid LabSession status transition: VERIFIED_PASS -> IN_PROGRESS",
        ),
        (
            "IN_PROGRESS",
            ["--to", "VERIFIED_PASS"],
            "cannot enter VERIFIED_PASS: it has no PASS verification attempt",
        ),
        (
            "IN_PROGRESS",
            ["--to", "STUCK", "--expect", "DEFERRED"],
            "is IN_PROGRESS, not DEFERRED as expected",
        ),
    ],
    ids=["illegal", "precondition", "expect-mismatch"],
)
def test_refusals_are_exit_4_with_their_own_message_and_write_nothing(forgea, world, setup, args, message):
    with seed.connect(world["url"]) as conn:
        session_id = seed.add_session(conn, seed.add_user(conn), world["lab"], setup)
    result = forgea("session", "transition", str(session_id), *args, url=world["url"])
    assert result.exit_code == 4
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    with seed.connect(world["url"]) as conn:
        assert seed.status_of(conn, session_id) == setup
        assert seed.audit_rows(conn, session_id) == []


def test_deferred_back_to_in_progress_is_refused_while_another_session_is_active(forgea, world):
    with seed.connect(world["url"]) as conn:
        student = seed.add_user(conn)
        deferred = seed.add_session(conn, student, world["lab"], "DEFERRED")
        seed.add_session(conn, student, world["lab"], "IN_PROGRESS")
    result = forgea("session", "transition", str(deferred), "--to", "IN_PROGRESS", url=world["url"])
    assert result.exit_code == 4
    assert "another active session" in result.stderr


def test_dry_run_shows_the_database_verdict_and_rolls_back(forgea, world):
    ok = forgea(
        "session", "transition", str(world["session"]), "--to", "DEFERRED", "--dry-run", url=world["url"]
    )
    assert ok.exit_code == 0 and "database accepts IN_PROGRESS -> DEFERRED" in ok.stdout
    refused = forgea(
        "session", "transition", str(world["session"]), "--to", "VERIFIED_PASS", "--dry-run", url=world["url"]
    )
    assert refused.exit_code == 4 and "no PASS verification attempt" in refused.stderr
    with seed.connect(world["url"]) as conn:
        assert seed.status_of(conn, world["session"]) == "IN_PROGRESS"
        assert seed.audit_rows(conn, world["session"]) == []


def test_same_status_is_a_no_op(forgea, world):
    result = forgea(
        "session", "transition", str(world["session"]), "--to", "IN_PROGRESS", "--json", url=world["url"]
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["changed"] is False


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["session", "transition", "00000000-0000-4000-8000-000000000000", "--to", "STUCK"], 3),
        (["session", "transition", "not-a-uuid", "--to", "STUCK"], 2),
        (["session", "transition", "00000000-0000-4000-8000-000000000000", "--to", "DONE"], 2),
        (["session", "show", "--repo-id", "42"], 3),
        (["session", "show"], 2),
        (["session", "list", "--idle-for", "soon"], 2),
        (["session", "list", "--user", "nobody@example.edu"], 3),
    ],
)
def test_bad_input_exit_codes(forgea, world, args, code):
    result = forgea(*args, url=world["url"])
    assert result.exit_code == code, result.stderr
    assert "Traceback" not in result.stderr


def test_show_has_lab_version_attempts_and_audit_timeline(forgea, world):
    with seed.connect(world["url"]) as conn:
        seed.add_pass_attempt(conn, world["session"])
    assert (
        forgea(
            "session", "transition", str(world["session"]), "--to", "VERIFIED_PASS", url=world["url"]
        ).exit_code
        == 0
    )
    result = forgea("session", "show", str(world["session"]), "--json", url=world["url"])
    assert result.exit_code == 0, result.stderr
    view = json.loads(result.stdout)
    assert view["session"]["status"] == "VERIFIED_PASS"
    assert view["session"]["completedAt"] is not None
    assert view["session"]["version"] == "v1"
    assert [a["result"] for a in view["attempts"]] == ["PASS"]
    assert [(a["action"], a["metadata"]["toStatus"]) for a in view["audit"]] == [
        ("LAB_STATUS_TRANSITION", "VERIFIED_PASS")
    ]
    assert all(n["outcome"] == "ILLEGAL" for n in view["next"])
    table = forgea("session", "show", str(world["session"]), url=world["url"])
    assert "audit timeline" in table.stdout and "verification attempts" in table.stdout


def test_show_by_repo_url_falls_back_to_the_legacy_string_match(forgea, world):
    with seed.connect(world["url"]) as conn:
        url = conn.execute(
            'SELECT "userForkUrl" FROM "LabSession" WHERE id = %s', (world["session"],)
        ).fetchone()[0]
    result = forgea("session", "show", "--repo-url", url, "--json", url=world["url"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["session"]["id"] == str(world["session"])


def test_list_filters(forgea, world):
    with seed.connect(world["url"]) as conn:
        stuck = seed.add_session(conn, seed.add_user(conn), world["lab"], "STUCK")
        conn.execute(
            'UPDATE "LabSession" SET "lastActivityAt" = now() - interval \'10 days\' WHERE id = %s', (stuck,)
        )
    by_status = json.loads(forgea("session", "list", "--status", "STUCK", "--json", url=world["url"]).stdout)
    assert [r["id"] for r in by_status] == [str(stuck)]
    idle = json.loads(forgea("session", "list", "--idle-for", "7d", "--json", url=world["url"]).stdout)
    assert [r["id"] for r in idle] == [str(stuck)]
    mine = json.loads(
        forgea("session", "list", "--user", "ADA@example.edu", "--json", url=world["url"]).stdout
    )
    assert [r["id"] for r in mine] == [str(world["session"])]
    lab = json.loads(
        forgea(
            "session", "list", "--lab", str(world["lab"]), "--limit", "1", "--json", url=world["url"]
        ).stdout
    )
    assert len(lab) == 1


def test_list_by_an_email_differing_only_by_case_takes_the_exact_one_or_refuses(forgea, world):
    """Two users whose emails differ only by case: the exact spelling names one, any other is
    ambiguous (exit 2, both named), as for `session create`; never one of them picked arbitrarily."""
    with seed.connect(world["url"]) as conn:
        twin = seed.add_user(conn, "Ada@Example.edu")
        twin_session = seed.add_session(conn, twin, world["lab"])

    def listed(email: str) -> list[str]:
        result = forgea("session", "list", "--user", email, "--json", url=world["url"])
        assert result.exit_code == 0, result.stderr
        return [row["id"] for row in json.loads(result.stdout)]

    assert listed("Ada@Example.edu") == [str(twin_session)]
    assert listed("ada@example.edu") == [str(world["session"])]
    ambiguous = forgea("session", "list", "--user", "ADA@EXAMPLE.EDU", url=world["url"])
    assert ambiguous.exit_code == 2, ambiguous.stdout
    assert "ada@example.edu" in ambiguous.stderr and "Ada@Example.edu" in ambiguous.stderr
    assert "Traceback" not in ambiguous.stderr


def test_lifecycle_show_formats(forgea):
    mermaid = forgea("lifecycle", "show", "--format", "mermaid")
    assert mermaid.exit_code == 0 and mermaid.stdout.startswith("stateDiagram-v2")
    document = json.loads(forgea("lifecycle", "show", "--json").stdout)
    assert document["fingerprint"]
    table = forgea("lifecycle", "show")
    assert "DEFERRED" in table.stdout
