"""resolve-ids against the fake GitHub (real HTTP): request budget, NOT_FOUND, renames, rate limits,
interruption, conflicts and dry runs."""

from __future__ import annotations

import math

import pytest

from forgea_cli.github.gateway import GitHubUnavailable
from forgea_cli.github.pygithub_gateway import PyGithubGateway
from forgea_cli.services.mapping import backfill_repo_mappings, lookup_repo, resolve_repo_ids
from forgea_cli.testing.github_server import FakeGitHub
from tests.integration.mapping_support import add_session, add_sessions_bulk, mappings_by_session

TOKEN = "ghp_faketoken_for_tests_0123456789"
REPOS = 250


@pytest.fixture
def fake():
    with FakeGitHub(token=TOKEN) as server:
        yield server


@pytest.fixture
def engine(migrated_db, engine_for, uow_for):
    """REPOS sessions backfilled (PENDING mappings student{i}/lab-z)."""
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    with engine.begin() as connection:
        add_sessions_bulk(connection, REPOS, "https://github.com/student{i}/lab-z")
    backfill_repo_mappings(uow)
    return engine


@pytest.fixture
def uow(engine, migrated_db, uow_for):
    """Units of work (what the services take) on the backfilled database of ``engine``."""
    return uow_for(migrated_db)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def gateway(fake, sleeps):
    gateway = PyGithubGateway(fake.url, TOKEN, sleep=sleeps.append, max_wait_seconds=3700)
    yield gateway
    gateway.close()


def publish(fake: FakeGitHub, missing_every: int = 10) -> set[str]:
    """The repositories of the mappings on the fake, all but every ``missing_every``-th one."""
    published = set()
    for i in range(1, REPOS + 1):
        if i % missing_every:
            fake.add_repo(f"student{i}/lab-z")
            published.add(f"https://github.com/student{i}/lab-z")
    return published


class Midway:
    """The real gateway, with something done to the fake just before the n-th request."""

    def __init__(self, gateway, at_call: int, action) -> None:
        self.gateway, self.at_call, self.action, self.calls = gateway, at_call, action, 0

    def lookup_many(self, full_names):
        self.calls += 1
        if self.calls == self.at_call:
            self.action()
        return self.gateway.lookup_many(full_names)


def test_resolves_and_marks_not_found_within_the_request_budget(engine, fake, gateway, uow):
    published = publish(fake)

    report = resolve_repo_ids(uow, gateway)

    assert fake.request_count() == fake.request_count("graphql") == math.ceil(REPOS / 100)
    assert report.details["github_requests"] == 3
    mappings = mappings_by_session(engine).values()
    resolved = {m["canonicalUrl"] for m in mappings if m["resolution"] == "RESOLVED"}
    assert resolved == published
    assert report.details["resolved"] == len(published)
    assert report.details["not_found"] == REPOS - len(published)
    assert all(m["providerRepoId"] is None for m in mappings if m["resolution"] == "NOT_FOUND")
    assert all(m["resolvedAt"] is not None for m in mappings)
    fake_ids = {repo.full_name.lower(): repo.id for repo in fake.repos()}
    for mapping in mappings:
        if mapping["resolution"] == "RESOLVED":
            assert mapping["providerRepoId"] == fake_ids[f"{mapping['owner']}/{mapping['name']}".lower()]
            assert mapping["htmlUrl"] == f"https://github.com/{mapping['owner']}/{mapping['name']}"
    again = resolve_repo_ids(uow, gateway)
    assert again.nothing_to_do and fake.request_count() == 3


def test_waits_out_a_rate_limit_in_the_middle_of_the_run(uow, fake, gateway, sleeps):
    publish(fake)
    limited = Midway(
        gateway, 2, lambda: fake.primary_rate_limit_next("graphql", reset_in=120, as_graphql_error=True)
    )

    report = resolve_repo_ids(uow, limited)

    assert len(sleeps) == 1 and 100 < sleeps[0] <= 125  # until the reset GitHub named, not a failure
    assert fake.request_count("graphql") == 3 + 1
    assert report.details["resolved"] + report.details["not_found"] == REPOS


def test_a_secondary_rate_limit_is_waited_out_too(uow, fake, gateway, sleeps):
    publish(fake)
    limited = Midway(gateway, 3, lambda: fake.secondary_rate_limit_next("graphql", retry_after=45))
    report = resolve_repo_ids(uow, limited)
    assert sleeps == [45]
    assert report.changed == REPOS


def test_an_interrupted_run_keeps_the_pages_it_finished(engine, fake, sleeps, uow):
    publish(fake)
    impatient = PyGithubGateway(fake.url, TOKEN, sleep=sleeps.append, max_attempts=2)
    failing = Midway(impatient, 2, lambda: fake.fail_next("graphql", count=2, status=502))

    with pytest.raises(GitHubUnavailable, match="rerun to continue") as raised:
        resolve_repo_ids(uow, failing)

    assert TOKEN not in str(raised.value)
    decided = [m for m in mappings_by_session(engine).values() if m["resolution"] != "PENDING"]
    assert len(decided) == 100
    rest = resolve_repo_ids(uow, impatient)
    assert rest.pending == REPOS - 100 and rest.changed == REPOS - 100
    impatient.close()


def test_renamed_repository_is_resolved_and_found_by_id(engine, fake, gateway, uow):
    publish(fake)
    moved = fake.rename("student3/lab-z", "acme/lab-z-renamed")

    report = resolve_repo_ids(uow, gateway)

    assert report.details["renamed"] == 1
    (mapping,) = [m for m in mappings_by_session(engine).values() if m["providerRepoId"] == moved.id]
    assert (mapping["owner"], mapping["name"]) == ("acme", "lab-z-renamed")
    assert mapping["htmlUrl"] == "https://github.com/acme/lab-z-renamed"
    assert mapping["canonicalUrl"] == "https://github.com/student3/lab-z"  # the session's URL, kept
    webhook = lookup_repo(uow, repo_id=moved.id, html_url="https://github.com/acme/lab-z-renamed")
    assert (webhook.rule, webhook.session["id"]) == (1, str(mapping["labSessionId"]))


def test_two_mappings_naming_one_repository_are_left_pending(migrated_db, engine_for, uow_for, fake, gateway):
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    with engine.begin() as connection:
        add_session(connection, "https://github.com/octo/old-name")
        add_session(connection, "https://github.com/octo/new-name")
    backfill_repo_mappings(uow)
    fake.add_repo("octo/old-name")
    fake.rename("octo/old-name", "new-name")

    report = resolve_repo_ids(uow, gateway)

    assert report.details["conflicts"] == 2 and report.changed == 0
    assert {m["resolution"] for m in mappings_by_session(engine).values()} == {"PENDING"}
    assert "left PENDING" in report.details["conflict_rows"][0]["detail"]


def test_dry_run_and_limit(engine, fake, gateway, uow):
    publish(fake)
    dry = resolve_repo_ids(uow, gateway, dry_run=True, limit=150)
    assert (dry.pending, dry.changed, dry.details["github_requests"]) == (150, 150, 2)
    assert {m["resolution"] for m in mappings_by_session(engine).values()} == {"PENDING"}
    limited = resolve_repo_ids(uow, gateway, limit=50)
    assert (limited.changed, limited.details["github_requests"]) == (50, 1)
    assert sum(m["resolution"] != "PENDING" for m in mappings_by_session(engine).values()) == 50
