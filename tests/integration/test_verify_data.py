"""Data invariants: violating rows are written directly (triggers and FKs bypassed where needed)."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text

from forgea_cli.db import probe_rows as lp
from forgea_cli.db.engine import connect
from forgea_cli.db.invariants import canonical_prefix, maybe_not_canonical
from forgea_cli.db.uow import unit_of_work_factory
from forgea_cli.errors import InvalidInput
from forgea_cli.services.verify import VerifyOptions, verify_constraints
from forgea_cli.urls import canonical_repo_url
from tests.conftest import migrate_to

DATA = VerifyOptions(groups=("data",))


def _run(engine, *statements: str, replica: bool = False, params: dict | None = None) -> None:
    """Statements in one committed transaction; ``replica`` skips triggers and foreign keys."""
    with connect(engine) as connection:
        if replica:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            connection.execute(text(statement), params or {})
        connection.commit()


def _world(engine) -> lp.ProbeWorld:
    with connect(engine) as connection:
        world = lp.create_world(connection)
        connection.commit()
    return world


def _session(engine, world: lp.ProbeWorld, *, new_student: bool = True) -> str:
    """A session of the world's lab, by a new student unless asked for the world's one."""
    with connect(engine) as connection:
        student = lp.insert_user(connection) if new_student else None
        session_id = lp.insert_session(connection, world, user_id=student)
        connection.commit()
    return session_id


def _mapping(
    engine, session_id: str, url: str, resolution: str = "RESOLVED", repo_id: int | None = None
) -> None:
    repo_id = (
        repo_id if repo_id is not None else (uuid.uuid4().int % 10**9 if resolution == "RESOLVED" else None)
    )
    _run(
        engine,
        """INSERT INTO "GitHubRepoMapping" ("labSessionId", "providerRepoId", owner, name, "canonicalUrl",
                                            resolution, source)
           VALUES (:s, :repo, 'o', 'r', :url, CAST(:resolution AS "RepoResolution"), 'BACKFILL')""",
        replica=True,
        params={"s": session_id, "repo": repo_id, "url": url, "resolution": resolution},
    )


def _data(engine) -> dict:
    return {r.id: r for r in verify_constraints(unit_of_work_factory(engine), DATA).results}


def _status(results, check_id: str) -> str:
    return str(results[check_id].status)


def test_clean_data_passes(migrated_db, engine_for):
    engine = engine_for(migrated_db)
    world = _world(engine)
    session_id = _session(engine, world)
    _mapping(engine, session_id, "https://github.com/student1/lab-1")
    _run(
        engine,
        """INSERT INTO "VerificationLog" (id, "sessionId", "commitSha", "prDiff", "ciOutput")
           VALUES (gen_random_uuid(), :s, 'abc', '', 'ok')""",
        """UPDATE "LabSession" SET status = 'VERIFIED_PASS' WHERE id = :s""",
        params={"s": session_id},
    )

    results = _data(engine)

    assert {i: r.message for i, r in results.items() if str(r.status) != "pass"} == {}


def test_completed_at_gaps_are_warnings_during_the_rollout_and_stray_values_fail(empty_db, engine_for):
    migrate_to(empty_db, "0005_f6_session_indexes")
    engine = engine_for(empty_db)
    world = _world(engine)
    passed, other = _session(engine, world), _session(engine, world)
    _run(
        engine,
        """UPDATE "LabSession" SET status = 'VERIFIED_PASS' WHERE id = :s""",
        replica=True,
        params={"s": passed},
    )

    unstamped = _data(engine)["data.completed_at"]
    assert str(unstamped.status) == "warn"
    assert unstamped.found == {"count": 1, "examples": [passed]}
    assert "backfill completed-at" in unstamped.hint

    _run(
        engine,
        'UPDATE "LabSession" SET "completedAt" = now() WHERE id = :s',
        replica=True,
        params={"s": other},
    )
    stray = _data(engine)["data.completed_at"]
    assert str(stray.status) == "fail" and stray.found == {"count": 1, "examples": [other]}


def test_after_the_contract_completed_at_gaps_fail(migrated_db, engine_for, forgea):
    engine = engine_for(migrated_db)
    session_id = _session(engine, _world(engine))
    _run(
        engine,
        'ALTER TABLE "LabSession" DROP CONSTRAINT "LabSession_completedAt_check"',
        """UPDATE "LabSession" SET status = 'VERIFIED_PASS' WHERE id = :s""",
        replica=True,
        params={"s": session_id},
    )

    result = forgea("verify-constraints", "--only", "data", url=migrated_db)

    assert result.exit_code == 1
    assert "FAIL  data.completed_at  1 VERIFIED_PASS sessions have no completedAt" in result.stdout


def test_duplicate_active_sessions_warn_before_the_index_and_fail_after(empty_db, engine_for):
    migrate_to(empty_db, "0007_f6_contract_validate")
    engine = engine_for(empty_db)
    world = _world(engine)
    _session(engine, world, new_student=False)
    _session(engine, world, new_student=False)

    before = _data(engine)["data.active_sessions.unique"]
    assert str(before.status) == "warn"
    assert before.found == {"count": 1, "examples": [f"{world.user_id}/{world.lab_id}"]}

    # As if the index had been built and later dropped: same rows, later revision.
    _run(engine, "UPDATE alembic_version SET version_num = '0008_f6_contract_active_session'")
    assert str(_data(engine)["data.active_sessions.unique"].status) == "fail"


def test_mappings_whose_session_is_missing_or_doubled_fail(migrated_db, engine_for):
    engine = engine_for(migrated_db)
    session_id = _session(engine, _world(engine))
    _mapping(engine, str(uuid.uuid4()), "https://github.com/ghost/repo")
    _run(engine, 'DROP INDEX "GitHubRepoMapping_labSessionId_key"')
    _mapping(engine, session_id, "https://github.com/a/one")
    _mapping(engine, session_id, "https://github.com/a/two")

    results = _data(engine)

    assert _status(results, "data.mapping.session_exists") == "fail"
    assert results["data.mapping.session_exists"].found == {"count": 1}
    assert _status(results, "data.mapping.one_per_session") == "fail"


NOT_CANONICAL = [
    "https://github.com/o/r.git",
    "https://www.github.com/o/r2",
    "https://github.com/orgs/x",
    "http://github.com/o/r3",
    "https://github.com/o/r4/",
    "https://github.com/o/r5/tree/main",
    "https://github.com/-bad/r6",
    "git@github.com:o/r7",
    "https://github.com/o",
]


def test_mappings_with_a_url_that_is_not_canonical_fail(migrated_db, engine_for):
    engine = engine_for(migrated_db)
    world = _world(engine)
    for url in [*NOT_CANONICAL, "https://github.com/o/fine", "https://github.com/a-b/c.d_e-f"]:
        _mapping(engine, _session(engine, world), url)

    result = _data(engine)["data.mapping.canonical_url"]

    assert str(result.status) == "fail"
    assert result.found["count"] == len(NOT_CANONICAL)
    assert set(result.found["examples"]) <= set(NOT_CANONICAL)


def test_the_sql_filter_never_lets_a_non_canonical_url_through(migrated_db, engine_for, corpus):
    engine = engine_for(migrated_db)
    values = set(NOT_CANONICAL)
    for line in (corpus / "git-urls" / "cases.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        raw = line.split("\t")[0]
        values.add(raw.strip().lower())
        if (canonical := _canonical_or_none(raw)) is not None:
            values.add(canonical)
    values |= {f"https://github.com/{owner}/r" for owner in ("about", "a" * 39, "a" * 40, "a--b", "a-")}
    values |= {"https://github.com/o/.", "https://github.com/o/..", "https://github.com/o/" + "r" * 101}
    for value in values:
        _mapping(engine, str(uuid.uuid4()), value)

    with connect(engine) as connection:
        candidates = set(maybe_not_canonical(connection, "https://github.com"))
    wrong = {v for v in values if _canonical_or_none(v) != v}

    assert wrong and wrong <= candidates
    assert candidates - wrong == set(), "the filter is exact for github.com"


def _canonical_or_none(value: str) -> str | None:
    try:
        return canonical_repo_url(value)
    except InvalidInput:
        return None


@pytest.mark.parametrize(
    "web_url, prefix",
    [
        ("https://github.com", "https://github.com/"),
        ("github.com", "https://github.com/"),
        ("https://GitHub.example.com:8443/", "https://github.example.com:8443/"),
    ],
)
def test_canonical_prefix_follows_the_configured_web_host(web_url, prefix):
    assert canonical_prefix(web_url) == prefix


def test_backfill_coverage_is_a_warning_unless_asked_to_fail(migrated_db, engine_for, forgea):
    engine = engine_for(migrated_db)
    world = _world(engine)
    _session(engine, world)
    _mapping(engine, _session(engine, world), "https://github.com/o/pending", resolution="PENDING")
    _mapping(engine, _session(engine, world), "https://github.com/o/gone", resolution="NOT_FOUND")

    relaxed = forgea("verify-constraints", "--json", "--only", "data", url=migrated_db)
    assert relaxed.exit_code == 0
    checks = {c["id"]: c for c in json.loads(relaxed.stdout)["checks"]}
    assert checks["data.coverage.sessions_without_mapping"]["status"] == "warn"
    assert checks["data.coverage.sessions_without_mapping"]["found"] == {"count": 1}
    unresolved = checks["data.coverage.unresolved_mappings"]
    assert unresolved["status"] == "warn"
    assert unresolved["found"] == {"RESOLVED": 0, "PENDING": 1, "NOT_FOUND": 1}

    strict = forgea("verify-constraints", "--only", "data", "--fail-on", "warn", url=migrated_db)
    assert strict.exit_code == 1
    assert "FAIL  data.coverage.sessions_without_mapping" in strict.stdout


def test_idempotency_keys_stuck_past_the_lease_fail(migrated_db, engine_for):
    engine = engine_for(migrated_db)
    insert = """INSERT INTO "IdempotencyKey" (id, "actorId", key, "requestHash", "requestParams",
                                              "recoveryPoint", "plannedSessionId", "lockedAt", "lastRunAt")
                VALUES (:id, 'cli:op', :key, 'h', '{}', CAST(:point AS "IdempotencyRecoveryPoint"),
                        gen_random_uuid(), LOCALTIMESTAMP - make_interval(secs => :age),
                        LOCALTIMESTAMP - make_interval(secs => :age))"""
    stuck = str(uuid.uuid4())
    for key_id, key, point, age in (
        (stuck, "crashed", "REPO_CREATED", 300),
        (str(uuid.uuid4()), "running", "STARTED", 10),
        (str(uuid.uuid4()), "done", "FINISHED", 3000),
    ):
        _run(engine, insert, params={"id": key_id, "key": key, "point": point, "age": age})

    result = _data(engine)["data.idempotency.stuck_keys"]

    assert str(result.status) == "fail"
    assert result.found == {"count": 1, "examples": [stuck]}
    assert "keys resume" in result.hint


def test_verification_logs_without_their_attempt(migrated_db, empty_db, engine_for):
    insert = """INSERT INTO "VerificationLog" (id, "sessionId", "commitSha", "prDiff", "ciOutput")
                VALUES (gen_random_uuid(), :s, 'abc', '', 'ok')"""
    migrate_to(empty_db, "0005_f6_session_indexes")
    for url, status in ((migrated_db, "fail"), (empty_db, "warn")):
        engine = engine_for(url)
        session_id = _session(engine, _world(engine))
        _run(engine, insert, replica=True, params={"s": session_id})  # the mirror trigger does not fire

        result = _data(engine)["data.verification_log.attempt"]

        assert str(result.status) == status, url
        assert result.found["count"] == 1


def test_at_the_baseline_checks_that_need_the_expand_are_skipped(prisma_db, forgea, engine_for):
    assert forgea("migrate", "adopt", url=prisma_db).exit_code == 0

    results = _data(engine_for(prisma_db))

    assert _status(results, "data.active_sessions.unique") == "pass"
    skipped = {i: r.message for i, r in results.items() if str(r.status) == "skip"}
    assert "data.mapping.canonical_url" in skipped
    assert all(m.startswith("skipped: needs revision 0002_f6_expand") for m in skipped.values())
