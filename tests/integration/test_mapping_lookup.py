"""The webhook lookup order (DESIGN §3) and its bind, including two concurrent binders."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from forgea_cli.errors import InvalidInput
from forgea_cli.services.mapping import lookup_repo
from forgea_cli.urls import RepoUrlRejected
from tests.integration.mapping_support import (
    add_lab,
    add_lab_version,
    add_mapping,
    add_session,
    later,
    mappings_by_session,
)

URL = "https://github.com/octo/hello"


@pytest.fixture
def engine(migrated_db, engine_for):
    return engine_for(migrated_db)


@pytest.fixture
def uow(migrated_db, uow_for):
    return uow_for(migrated_db)


def test_rule_one_matches_by_repository_id_even_after_a_rename(engine, uow):
    with engine.begin() as connection:
        session = add_session(connection, URL)
        add_mapping(connection, session, URL, repo_id=42)
    by_id = lookup_repo(uow, repo_id=42)
    renamed = lookup_repo(uow, repo_id=42, html_url="https://github.com/new-owner/new-name")
    assert (by_id.rule, by_id.session["id"]) == (1, str(session))
    assert (renamed.rule, renamed.session["id"]) == (1, str(session))
    assert by_id.mapping["providerRepoId"] == 42 and not by_id.would_bind


def test_rule_two_reports_the_bind_and_changes_nothing(engine, uow):
    with engine.begin() as connection:
        session = add_session(connection, URL)
        add_mapping(connection, session, URL, source="BACKFILL")
    url_only = lookup_repo(uow, html_url="https://GitHub.com/Octo/Hello.git")
    webhook = lookup_repo(uow, repo_id=7, html_url="https://github.com/octo/hello/")
    for result in (url_only, webhook):
        assert (result.rule, result.session["id"], result.would_bind, result.bound) == (
            2,
            str(session),
            True,
            False,
        )
        assert result.canonical_url == URL
    assert mappings_by_session(engine)[session]["providerRepoId"] is None


def test_rule_two_with_bind_binds_the_id_in_the_same_transaction(engine, uow):
    with engine.begin() as connection:
        session = add_session(connection, URL)
        add_mapping(connection, session, URL, source="BACKFILL")
    bound = lookup_repo(uow, repo_id=7, html_url="https://github.com/Octo/Hello", bind=True)
    assert (bound.rule, bound.bound, bound.would_bind) == (2, True, False)
    mapping = mappings_by_session(engine)[session]
    assert (mapping["providerRepoId"], mapping["resolution"]) == (7, "RESOLVED")
    assert mapping["resolvedAt"] is not None and mapping["htmlUrl"] == "https://github.com/Octo/Hello"
    assert lookup_repo(uow, repo_id=7).rule == 1


def test_a_bound_url_does_not_match_another_repository_id(engine, uow):
    with engine.begin() as connection:
        session = add_session(connection, URL)
        add_mapping(connection, session, URL, repo_id=42)
    other_repo = lookup_repo(uow, repo_id=99, html_url=URL, bind=True)
    url_only = lookup_repo(uow, html_url=URL)
    assert not other_repo.matched
    assert mappings_by_session(engine)[session]["providerRepoId"] == 42
    assert (url_only.rule, url_only.would_bind) == (2, False)
    assert "already bound to repository id 42" in url_only.notes[0]


def test_rule_three_finds_active_sessions_not_yet_backfilled(engine, uow):
    with engine.begin() as connection:
        add_session(connection, "https://github.com/octo/hello", status="DEFERRED", last_activity=later(99))
        older = add_session(connection, "git@github.com:Octo/Hello.git", last_activity=later(1))
        newer = add_session(
            connection, "https://github.com/octo/hello/tree/main", status="STUCK", last_activity=later(5)
        )
        add_session(connection, "https://github.com/octo/hello-world")
    result = lookup_repo(uow, repo_id=5, html_url=URL)
    assert (result.rule, result.session["id"], result.candidates) == (3, str(newer), 2)
    assert result.mapping is None and not result.would_bind
    assert str(older) not in str(result.to_json())


# -- lab templates ------------------------------------------------------------------------------------------

TEMPLATE = "https://github.com/forgea-labs/leaky-cache"


@pytest.fixture
def template_lab(engine):
    """A lab at v2 whose baseRepoUrl is spelled with case and .git, an older v1 with its own template
    (id 9001), and legacy sessions naming both templates as their fork, as Forgea's seed does."""
    with engine.begin() as connection:
        lab = add_lab(
            connection,
            base="https://github.com/Forgea-Labs/Leaky-Cache.git",
            title="Leaky cache",
            version="v2",
        )
        add_lab_version(connection, lab, "v1", "https://github.com/forgea-labs/leaky-cache-v1/", repo_id=9001)
        seed_session = add_session(connection, TEMPLATE + "/", lab_id=lab, last_activity=later(9))
        add_session(connection, "https://github.com/forgea-labs/leaky-cache-v1", lab_id=lab)
        student = add_session(connection, "https://github.com/forgea-labs/leaky-cache-ada", lab_id=lab)
    return {"lab": lab, "seed_session": seed_session, "student": student}


@pytest.mark.parametrize(
    "url",
    [TEMPLATE, "https://GitHub.com/Forgea-Labs/Leaky-Cache.git", "git@github.com:forgea-labs/leaky-cache"],
)
def test_a_template_url_is_the_template_of_its_lab_never_a_session(engine, template_lab, url, uow):
    for result in (
        lookup_repo(uow, html_url=url),
        lookup_repo(uow, repo_id=77, html_url=url, bind=True),
    ):
        assert (result.matched, result.rule, result.session, result.canonical_url) == (
            False,
            None,
            None,
            TEMPLATE,
        )
        document = result.to_json()
        assert document["template"] == {
            "labId": str(template_lab["lab"]),
            "labTitle": "Leaky cache",
            "version": "v2",
            "canonicalUrl": TEMPLATE,
            "templateRepoId": None,
            "sources": ["Lab.baseRepoUrl", "LabVersion.templateRepoUrl"],
        }
        assert str(template_lab["seed_session"]) not in str(document)  # rule 3 is not asked
    assert mappings_by_session(engine) == {}  # bind=True bound nothing


def test_another_versions_template_by_url_and_by_template_repo_id(uow, template_lab):
    by_url = lookup_repo(uow, html_url="https://github.com/Forgea-Labs/Leaky-Cache-V1.git")
    by_id = lookup_repo(uow, repo_id=9001)
    for result in (by_url, by_id):
        assert not result.matched and result.session is None
        assert (result.template.lab_id, result.template.version) == (template_lab["lab"], "v1")
        assert result.template.canonical_url == "https://github.com/forgea-labs/leaky-cache-v1"
    assert by_id.template.repo_id == 9001


def test_a_mapping_that_binds_a_template_is_not_a_session(engine, template_lab, uow):
    with engine.begin() as connection:
        add_mapping(connection, template_lab["seed_session"], TEMPLATE, repo_id=4242)
    for result in (lookup_repo(uow, repo_id=4242), lookup_repo(uow, html_url=TEMPLATE)):
        assert not result.matched and result.template.version == "v2"
        assert any("delete it" in note and str(template_lab["seed_session"]) in note for note in result.notes)


def test_a_student_repository_of_the_template_owner_still_matches(uow, template_lab):
    result = lookup_repo(uow, html_url="https://github.com/Forgea-Labs/leaky-cache-ada")
    assert (result.rule, result.session["id"], result.template) == (3, str(template_lab["student"]), None)
    assert result.to_json()["templates"] == []


def test_nothing_matches(engine, uow):
    with engine.begin() as connection:
        add_session(connection, "https://github.com/someone/else")
    assert not lookup_repo(uow, repo_id=1).matched
    result = lookup_repo(uow, html_url=URL)
    assert (result.matched, result.canonical_url) == (False, URL)


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({}, InvalidInput),
        ({"repo_id": 0}, InvalidInput),
        ({"html_url": URL, "bind": True}, InvalidInput),
        ({"html_url": "https://gitlab.com/o/r"}, RepoUrlRejected),
    ],
)
def test_bad_arguments(uow, arguments, error):
    with pytest.raises(error):
        lookup_repo(uow, **arguments)


def waiting_on_locks(engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar()
        )


@pytest.mark.parametrize("second_id", [7, 8], ids=["same-repository", "another-repository"])
def test_two_concurrent_binders_bind_once(engine, second_id, uow):
    with engine.begin() as connection:
        session = add_session(connection, URL)
        add_mapping(connection, session, URL, source="BACKFILL")
    results: list = []
    errors: list[BaseException] = []

    def bind(repo_id: int) -> None:
        try:
            results.append(lookup_repo(uow, repo_id=repo_id, html_url=URL, bind=True))
        except BaseException as exc:
            errors.append(exc)

    # Hold the row so both binders are past rule 1 and queued on the same compare-and-set.
    with engine.connect() as holder:
        holder.execute(
            text('SELECT 1 FROM "GitHubRepoMapping" WHERE "canonicalUrl" = :u FOR UPDATE'), {"u": URL}
        )
        threads = [threading.Thread(target=bind, args=(repo_id,)) for repo_id in (7, second_id)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while waiting_on_locks(engine) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        holder.rollback()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    outcomes = sorted(((r.rule or 0), r.bound) for r in results)
    bound_id = mappings_by_session(engine)[session]["providerRepoId"]
    assert bound_id in (7, second_id)
    if second_id == 7:
        assert outcomes == [(1, False), (2, True)]
    else:  # the loser's repository is not the one bound: it matches nothing
        assert outcomes == [(0, False), (2, True)]
