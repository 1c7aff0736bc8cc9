"""`session_create` against real PostgreSQL and the fake GitHub over HTTP: the §5 protocol, phase by phase."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from forgea_cli.errors import DataNotReady, IdempotencyMismatch, InProgress, InvalidInput
from forgea_cli.github.gateway import GitHubNotFound, GitHubUnavailable
from forgea_cli.services.sessions import create as session_create
from forgea_cli.services.sessions import plan as session_plan
from forgea_cli.services.sessions.create import (
    ActiveSessionExists,
    Completer,
    ForkNotFound,
    LeaseLost,
    RepoNameConflict,
    create_session,
)
from forgea_cli.services.sessions.reconcile import reconcile_repos
from tests.integration.session_create_support import ACTOR, CONFIG, ORG, TEMPLATE, our_repos, spec, sql

pytest_plugins = ("tests.integration.session_create_fixtures",)


def _plan(uow, seeded, **changes):
    return session_plan.plan_session(uow, CONFIG, spec(seeded, **changes))


def _key(seeded) -> dict:
    rows = seeded.key_rows()
    assert len(rows) == 1
    return rows[0]


# -- the happy path ------------------------------------------------------------------------------------


def test_creates_repo_session_mapping_audit_row_and_result(uow, seeded, fake_github, make_gateway):
    outcome = create_session(uow, make_gateway(), CONFIG, spec(seeded))

    key = _key(seeded)
    planned = key["plannedSessionId"]
    name = f"forgea-leak-hunt-{planned.hex[:8]}"
    assert outcome.outcome == "created"
    assert our_repos(fake_github) == [f"{ORG}/{name}"]
    repo = fake_github.get(f"{ORG}/{name}")
    assert repo.private and repo.template_id == fake_github.get(TEMPLATE).id
    assert seeded.counts() == {"sessions": 1, "mappings": 1, "lab_start": 1, "keys": 1}

    html_url = f"https://github.com/{ORG}/{name}"
    [session] = sql(
        seeded.url, 'SELECT id, status, "userForkUrl", "labVersionId", "userId" FROM "LabSession"'
    )
    assert session == (planned, "IN_PROGRESS", html_url, seeded.version_id, seeded.user_id)
    [mapping] = sql(
        seeded.url,
        'SELECT "labSessionId", "providerRepoId", owner, name, "canonicalUrl", "htmlUrl", "defaultBranch", '
        'resolution, source, "resolvedAt" IS NOT NULL FROM "GitHubRepoMapping"',
    )
    assert mapping == (
        planned,
        repo.id,
        ORG,
        name,
        html_url.lower(),
        html_url,
        "main",
        "RESOLVED",
        "CREATED",
        True,
    )
    [(actor, user_id, metadata)] = sql(
        seeded.url, 'SELECT "actorId", "userId", metadata FROM "AuditLog" WHERE action = \'LAB_START\''
    )
    assert (actor, user_id) == (ACTOR, seeded.user_id)
    assert metadata["labId"] == str(seeded.lab_id) and metadata["labSessionId"] == str(planned)
    assert metadata["actorType"] == "ADMIN" and metadata["providerRepoId"] == repo.id

    assert key["recoveryPoint"] == "FINISHED" and key["lockedAt"] is None and key["errorCode"] is None
    assert key["labSessionId"] == planned and key["providerRepoId"] == repo.id
    assert key["key"] == f"create:{seeded.user_id}:{seeded.version_id}"
    assert key["result"] == outcome.result and outcome.result["labSessionId"] == str(planned)
    params = {
        "userId": str(seeded.user_id),
        "labId": str(seeded.lab_id),
        "labVersionId": str(seeded.version_id),
    }
    assert key["requestParams"] == {**params, "forkUrl": None}
    canonical = json.dumps({**params, "forkUrl": None}, sort_keys=True, separators=(",", ":"))
    assert key["requestHash"] == hashlib.sha256(canonical.encode()).hexdigest()


def test_a_rerun_replays_the_stored_result_without_calling_github(uow, seeded, fake_github, make_gateway):
    first = create_session(uow, make_gateway(), CONFIG, spec(seeded))
    calls = fake_github.request_count()
    again = create_session(uow, make_gateway(), CONFIG, spec(seeded, user=str(seeded.user_id)))
    assert again.outcome == "replayed" and again.result == first.result
    assert fake_github.request_count() == calls
    assert seeded.counts() == {"sessions": 1, "mappings": 1, "lab_start": 1, "keys": 1}


def test_the_same_key_for_another_request_is_a_conflict_and_creates_nothing(
    uow, seeded, fake_github, make_gateway
):
    create_session(uow, make_gateway(), CONFIG, spec(seeded, idempotency_key="batch-7"))
    calls = fake_github.request_count()
    other = seeded.users[1][1]
    with pytest.raises(IdempotencyMismatch, match="different request"):
        create_session(uow, make_gateway(), CONFIG, spec(seeded, user=other, idempotency_key="batch-7"))
    assert fake_github.request_count() == calls and len(our_repos(fake_github)) == 1
    assert seeded.counts()["sessions"] == 1


# -- GitHub refusing or half-answering -----------------------------------------------------------------


def test_a_missing_template_fails_the_key_creates_nothing_and_a_rerun_can_succeed(
    uow, seeded, fake_github, make_gateway
):
    fake_github.reset()  # no template any more
    with pytest.raises(GitHubNotFound):
        create_session(uow, make_gateway(), CONFIG, spec(seeded))
    key = _key(seeded)
    assert (key["recoveryPoint"], key["errorCode"], key["lockedAt"]) == ("FAILED", "GITHUB_NOT_FOUND", None)
    assert seeded.counts()["sessions"] == 0 and our_repos(fake_github) == []

    fake_github.add_repo(TEMPLATE, is_template=True)
    outcome = create_session(uow, make_gateway(), CONFIG, spec(seeded))
    assert outcome.outcome == "created" and outcome.result["labSessionId"] == str(key["plannedSessionId"])
    assert len(our_repos(fake_github)) == 1


def test_a_response_lost_after_github_created_the_repo_is_adopted(uow, seeded, fake_github, make_gateway):
    fake_github.lose_response_next("generate")
    outcome = create_session(uow, make_gateway(), CONFIG, spec(seeded))
    assert outcome.outcome == "created"
    assert len(our_repos(fake_github)) == 1
    generate = [e.status for e in fake_github.request_log if e.path.endswith("/generate")]
    assert generate == [0, 422]  # lost, then "name already exists" on the retry
    assert seeded.counts() == {"sessions": 1, "mappings": 1, "lab_start": 1, "keys": 1}


def test_a_lost_response_with_no_retry_left_is_found_by_name(uow, seeded, fake_github, make_gateway):
    fake_github.lose_response_next("generate")
    outcome = create_session(uow, make_gateway(max_attempts=1), CONFIG, spec(seeded))
    assert outcome.outcome == "created" and len(our_repos(fake_github)) == 1
    assert fake_github.request_count("generate") == 1


def test_5xx_twice_then_success_makes_one_repository(uow, seeded, fake_github, make_gateway):
    fake_github.fail_next("generate", 2, status=502)
    outcome = create_session(uow, make_gateway(), CONFIG, spec(seeded))
    assert outcome.outcome == "created" and len(our_repos(fake_github)) == 1
    assert fake_github.request_count("generate") == 3


def test_422_for_our_own_name_adopts_the_repository_of_an_earlier_attempt(
    uow, seeded, fake_github, make_gateway
):
    plan = _plan(uow, seeded)
    row, _lease = session_create.start(uow, CONFIG, plan)  # then the run "dies" after GitHub acted
    gateway = make_gateway()
    earlier = gateway.create_from_template(TEMPLATE, ORG, plan.repo_name(CONFIG, row.planned_session_id))
    seeded.expire_leases()

    outcome = create_session(uow, gateway, CONFIG, spec(seeded))
    assert outcome.result["providerRepoId"] == earlier.id
    assert our_repos(fake_github) == [earlier.full_name]
    assert [e.status for e in fake_github.request_log if e.path.endswith("/generate")] == [201, 422]


def test_a_422_with_nothing_behind_it_leaves_the_key_retryable(uow, seeded, fake_github, make_gateway):
    fake_github.reject_with_422_next("generate")
    with pytest.raises(GitHubUnavailable, match="not visible yet"):
        create_session(uow, make_gateway(), CONFIG, spec(seeded))
    key = _key(seeded)
    assert (key["recoveryPoint"], key["lockedAt"], key["errorCode"]) == ("STARTED", None, None)
    assert create_session(uow, make_gateway(), CONFIG, spec(seeded)).outcome == "created"
    assert len(our_repos(fake_github)) == 1


def test_a_stranger_under_our_name_is_left_alone(uow, seeded, fake_github, make_gateway):
    plan = _plan(uow, seeded)
    row, _lease = session_create.start(uow, CONFIG, plan)
    stranger = fake_github.add_repo(f"{ORG}/{plan.repo_name(CONFIG, row.planned_session_id)}")
    seeded.expire_leases()
    with pytest.raises(RepoNameConflict, match="was not generated from"):
        create_session(uow, make_gateway(), CONFIG, spec(seeded))
    assert _key(seeded)["errorCode"] == "REPO_NAME_CONFLICT"
    assert fake_github.get(stranger.full_name) is not None and seeded.counts()["sessions"] == 0


# -- the database refusing the session -------------------------------------------------------------------


class RacingGateway:
    """Delegates to a real gateway; a rival session appears while GitHub answers ``method``."""

    def __init__(self, inner, seeded, method: str = "create_from_template") -> None:
        self.inner, self.seeded, self.method = inner, seeded, method

    def __getattr__(self, name):
        attribute = getattr(self.inner, name)
        if name != self.method:
            return attribute

        def racing(*args, **kwargs):
            answer = attribute(*args, **kwargs)
            self.seeded.add_active_session(self.seeded.user_id)
            return answer

        return racing


def test_an_active_session_is_refused_before_any_repository_exists(uow, seeded, fake_github, make_gateway):
    rival = seeded.add_active_session(seeded.user_id)
    with pytest.raises(ActiveSessionExists, match=str(rival)):
        create_session(uow, make_gateway(), CONFIG, spec(seeded))
    assert fake_github.request_count("generate") == 0
    assert _key(seeded)["errorCode"] == "ACTIVE_SESSION_EXISTS"


def test_a_session_refused_at_insert_deletes_the_repository_we_created(
    uow, seeded, fake_github, make_gateway
):
    with pytest.raises(ActiveSessionExists):
        create_session(uow, RacingGateway(make_gateway(), seeded), CONFIG, spec(seeded))
    assert our_repos(fake_github) == [] and fake_github.request_count("delete") == 1
    key = _key(seeded)
    assert (key["recoveryPoint"], key["errorCode"]) == ("FAILED", "ACTIVE_SESSION_EXISTS")
    assert key["repoFullName"] is None and key["providerRepoId"] is None
    assert seeded.counts() == {"sessions": 1, "mappings": 0, "lab_start": 0, "keys": 1}  # the rival only


def test_a_failed_delete_leaves_the_key_for_cleanup_and_reconcile_removes_the_repo(
    uow, seeded, fake_github, make_gateway
):
    fake_github.fail_next("delete", 5, status=500)
    with pytest.raises(ActiveSessionExists, match="could not be deleted") as refused:
        create_session(uow, RacingGateway(make_gateway(), seeded), CONFIG, spec(seeded))
    assert "repo reconcile --execute" in (refused.value.hint or "")
    key = _key(seeded)
    [left] = our_repos(fake_github)
    assert (key["errorCode"], key["repoFullName"]) == ("REPO_CLEANUP_PENDING", left)
    assert key["result"]["error"]["code"] == "ACTIVE_SESSION_EXISTS"

    report = reconcile_repos(uow, make_gateway(), CONFIG, execute=True)
    assert [(o.full_name, o.deleted) for o in report.orphans] == [(left, True)]
    assert our_repos(fake_github) == []
    key = _key(seeded)
    assert (key["errorCode"], key["repoFullName"], key["providerRepoId"]) == (
        "ACTIVE_SESSION_EXISTS",
        None,
        None,
    )


# -- --fork-url ---------------------------------------------------------------------------------------


def test_fork_url_binds_an_existing_repository(uow, seeded, fake_github, make_gateway):
    fork = fake_github.add_repo("Student-GH/my-leak-hunt")
    outcome = create_session(
        uow, make_gateway(), CONFIG, spec(seeded, fork_url="git@github.com:student-gh/My-Leak-Hunt.git")
    )
    assert outcome.result["providerRepoId"] == fork.id and outcome.result["repoSource"] == "bound"
    assert fake_github.request_count("generate") == 0 and our_repos(fake_github) == []
    [(url,)] = sql(seeded.url, 'SELECT "userForkUrl" FROM "LabSession"')
    assert url == "https://github.com/Student-GH/my-leak-hunt"
    [(source,)] = sql(seeded.url, 'SELECT source FROM "GitHubRepoMapping"')
    assert source == "MANUAL"
    assert _key(seeded)["requestParams"]["forkUrl"] == "https://github.com/student-gh/my-leak-hunt"


def test_a_refused_fork_binding_never_deletes_the_students_repository(uow, seeded, fake_github, make_gateway):
    fork = fake_github.add_repo("student-gh/mine")
    racing = RacingGateway(make_gateway(), seeded, method="get_repo")
    with pytest.raises(ActiveSessionExists):
        create_session(uow, racing, CONFIG, spec(seeded, fork_url="https://github.com/student-gh/mine"))
    assert fake_github.get(fork.full_name) is not None and fake_github.request_count("delete") == 0
    key = _key(seeded)
    assert (key["errorCode"], key["repoFullName"]) == ("ACTIVE_SESSION_EXISTS", None)


def test_a_fork_url_naming_a_lab_template_is_refused_before_anything_happens(
    uow, seeded, fake_github, make_gateway
):
    template_spelling = "git@github.com:Forgea-Labs/Leak-Hunt-Template.git"
    with pytest.raises(
        InvalidInput, match=r"is a lab's template repository \(template of lab .*, version v1\)"
    ):
        create_session(uow, make_gateway(), CONFIG, spec(seeded, fork_url=template_spelling))
    assert seeded.counts() == {"sessions": 0, "mappings": 0, "lab_start": 0, "keys": 0}
    assert fake_github.request_count() == 0


def test_a_fork_url_nobody_can_see_fails_the_key(uow, seeded, fake_github, make_gateway):
    with pytest.raises(ForkNotFound):
        create_session(
            uow, make_gateway(), CONFIG, spec(seeded, fork_url="https://github.com/nobody/nothing")
        )
    assert _key(seeded)["errorCode"] == "FORK_NOT_FOUND"


# -- leases -------------------------------------------------------------------------------------------


def test_a_live_lease_is_in_progress_and_an_expired_one_is_taken_over(uow, seeded, fake_github, make_gateway):
    session_create.start(uow, CONFIG, _plan(uow, seeded))
    with pytest.raises(InProgress, match="in progress"):
        create_session(uow, make_gateway(), CONFIG, spec(seeded))
    assert fake_github.request_count() == 0
    seeded.expire_leases()
    assert create_session(uow, make_gateway(), CONFIG, spec(seeded)).outcome == "created"


def test_a_run_that_lost_its_lease_reports_it_instead_of_failing_the_key(
    uow, seeded, fake_github, make_gateway
):
    plan = _plan(uow, seeded)
    row, stale_lease = session_create.start(uow, CONFIG, plan)
    seeded.expire_leases()
    _row, winner_lease = session_create.take_over(uow, CONFIG, row)  # another run holds the key now
    fake_github.reset()  # the template is gone: GitHub refuses the late run for good
    with pytest.raises(LeaseLost, match="another run took over") as lost:
        Completer(uow, make_gateway(), CONFIG, plan, row, stale_lease).complete()
    assert "GITHUB_NOT_FOUND" in lost.value.message and isinstance(lost.value.__context__, GitHubNotFound)
    key = _key(seeded)  # the winner's key, untouched by the late run's verdict
    assert (key["recoveryPoint"], key["errorCode"], key["lockedAt"]) == ("STARTED", None, winner_lease)


def test_a_run_whose_lease_was_taken_over_neither_writes_nor_deletes(uow, seeded, fake_github, make_gateway):
    plan = _plan(uow, seeded)
    row, stale_lease = session_create.start(uow, CONFIG, plan)
    seeded.expire_leases()
    winner = create_session(uow, make_gateway(), CONFIG, spec(seeded))  # takes the key over
    late = Completer(uow, make_gateway(), CONFIG, plan, row, stale_lease).complete()
    assert late.outcome == "replayed" and late.result == winner.result
    assert fake_github.request_count("delete") == 0 and len(our_repos(fake_github)) == 1
    assert seeded.counts() == {"sessions": 1, "mappings": 1, "lab_start": 1, "keys": 1}


# -- resolving and dry runs ----------------------------------------------------------------------------


def test_dry_run_resolves_everything_and_writes_nothing(uow, seeded, fake_github, make_gateway):
    document = session_plan.create_dry_run(
        uow, make_gateway(), CONFIG, spec(seeded, user=seeded.email.upper())
    )
    assert document["user"]["id"] == str(seeded.user_id)
    assert document["labVersion"] == {"id": str(seeded.version_id), "version": "v1"}
    assert document["template"] == TEMPLATE and document["templateVisible"] is True
    assert document["repo"] == f"{ORG}/forgea-leak-hunt-<short id>"
    assert document["wouldDo"] == "create the repository and the session"
    assert seeded.counts() == {"sessions": 0, "mappings": 0, "lab_start": 0, "keys": 0}
    assert {e.method for e in fake_github.request_log} == {"GET"}


def test_dry_run_fails_when_the_token_cannot_see_the_template(uow, seeded, fake_github, make_gateway):
    fake_github.reset()
    with pytest.raises(GitHubNotFound, match="not visible"):
        session_plan.create_dry_run(uow, make_gateway(), CONFIG, spec(seeded))


def test_a_lab_without_its_current_version_row_names_the_backfill(uow, seeded, fake_github, make_gateway):
    sql(seeded.url, 'UPDATE "Lab" SET "repoVersion" = \'v2\' WHERE id = %s', (seeded.lab_id,))
    with pytest.raises(DataNotReady, match="no LabVersion row") as refused:
        create_session(uow, make_gateway(), CONFIG, spec(seeded))
    assert "forgea backfill lab-versions" in (refused.value.hint or "")
    assert seeded.counts()["keys"] == 0
    outcome = create_session(uow, make_gateway(), CONFIG, spec(seeded, lab_version="v1"))
    assert outcome.result["labVersion"] == "v1"


def test_an_email_matching_users_only_case_insensitively_is_ambiguous(uow, seeded, fake_github, make_gateway):
    twin = seeded.add_user("Student0@Example.edu")  # seeded.email is student0@example.edu
    with pytest.raises(InvalidInput, match="differ only by case") as refused:
        create_session(uow, make_gateway(), CONFIG, spec(seeded, user="STUDENT0@EXAMPLE.EDU"))
    assert seeded.email in refused.value.message and "Student0@Example.edu" in refused.value.message
    assert seeded.counts()["keys"] == 0 and fake_github.request_count() == 0
    exact = create_session(uow, make_gateway(), CONFIG, spec(seeded, user="Student0@Example.edu"))
    assert exact.result["userId"] == str(twin)


def test_an_explicit_key_and_a_version_id_are_accepted(uow, seeded, fake_github, make_gateway):
    outcome = create_session(
        uow,
        make_gateway(),
        CONFIG,
        spec(seeded, lab_version=str(seeded.version_id), idempotency_key="k-1"),
    )
    assert outcome.key == "k-1" and uuid.UUID(outcome.result["labSessionId"])
