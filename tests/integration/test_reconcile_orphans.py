"""`forgea repo reconcile`: orphans deleted only with --execute and confirmation; in-use and held
repositories never; sessions whose repository is gone reported."""

from __future__ import annotations

import json

import pytest

from forgea_cli.services.sessions import create as session_create
from forgea_cli.services.sessions import plan as session_plan
from forgea_cli.services.sessions.create import ActiveSessionExists, create_session
from tests.integration.session_create_support import CONFIG, ORG, cli_env, our_repos, spec, sql

pytest_plugins = ("tests.integration.session_create_fixtures",)


class RivalAppears:
    """A rival session is inserted while GitHub generates the repository (the insert race)."""

    def __init__(self, inner, seeded) -> None:
        self.inner, self.seeded = inner, seeded

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def create_from_template(self, *args, **kwargs):
        created = self.inner.create_from_template(*args, **kwargs)
        self.seeded.add_active_session(self.seeded.users[1][0])
        return created


@pytest.fixture
def landscape(seeded, fake_github, make_gateway, uow):
    """One repository of each kind the reconciler must tell apart."""
    gateway = make_gateway()
    users = seeded.users
    in_use = create_session(uow, gateway, CONFIG, spec(seeded)).result["repoFullName"]

    fake_github.fail_next("delete", 5, status=500)
    with pytest.raises(ActiveSessionExists):
        create_session(uow, RivalAppears(gateway, seeded), CONFIG, spec(seeded, user=users[1][1]))
    [cleanup] = [k["repoFullName"] for k in seeded.key_rows() if k["errorCode"] == "REPO_CLEANUP_PENDING"]

    plan = session_plan.plan_session(uow, CONFIG, spec(seeded, user=users[2][1]))
    row, _lease = session_create.start(uow, CONFIG, plan)  # a run that died right after GitHub answered
    held = gateway.create_from_template(
        "forgea-labs/leak-hunt-template", ORG, plan.repo_name(CONFIG, row.planned_session_id)
    ).full_name

    orphan = fake_github.add_repo(f"{ORG}/forgea-leak-hunt-0badc0de").full_name
    fake_github.add_repo(f"{ORG}/course-website")  # not named by us: never looked at
    legacy = fake_github.add_repo(f"{ORG}/forgea-legacy-1").full_name
    legacy_user = seeded.add_user("legacy@example.edu")
    sql(
        seeded.url,
        'INSERT INTO "LabSession" (id, "userId", "labId", "userForkUrl") '
        "VALUES (gen_random_uuid(), %s, %s, %s)",
        (legacy_user, seeded.lab_id, f"git@github.com:{ORG.upper()}/forgea-legacy-1.git"),
    )

    gone_user = seeded.add_user("gone@example.edu")
    gone = create_session(uow, gateway, CONFIG, spec(seeded, user="gone@example.edu")).result
    gateway.delete_repo(gone["repoFullName"])
    assert gone["userId"] == str(gone_user)
    return {
        "in_use": in_use,
        "cleanup": cleanup,
        "held": held,
        "orphan": orphan,
        "legacy": legacy,
        "gone": gone,
    }


def test_report_only_by_default(forgea, seeded, fake_github, landscape, tmp_path):
    env = cli_env(seeded, fake_github, tmp_path)
    before = our_repos(fake_github)
    result = forgea("repo", "reconcile", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["executed"] is False and report["scanned"] == 5 and report["inUse"] == 2
    assert sorted(o["repo"] for o in report["orphans"]) == sorted([landscape["orphan"], landscape["cleanup"]])
    assert [o["keyErrorCode"] for o in report["orphans"] if o["repo"] == landscape["cleanup"]] == [
        "REPO_CLEANUP_PENDING"
    ]
    assert [(h["fullName"], h["recoveryPoint"]) for h in report["held"]] == [(landscape["held"], "STARTED")]
    [gone] = report["sessionsWithRepoGone"]
    assert (gone["sessionId"], gone["repo"]) == (
        landscape["gone"]["labSessionId"],
        landscape["gone"]["repoFullName"],
    )
    assert our_repos(fake_github) == before

    table = forgea("repo", "reconcile", env={**env, "COLUMNS": "250"})
    assert landscape["orphan"] in table.stdout and "report only" in table.stderr


def test_execute_needs_confirmation_then_deletes_only_the_orphans(
    forgea, seeded, fake_github, landscape, tmp_path
):
    env = cli_env(seeded, fake_github, tmp_path)
    refused = forgea("repo", "reconcile", "--execute", env=env)
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    contradiction = forgea("repo", "reconcile", "--execute", "--dry-run", env=env)
    assert contradiction.exit_code == 2
    assert landscape["orphan"] in our_repos(fake_github)

    done = forgea("repo", "reconcile", "--execute", "--yes", "--json", env=env)
    assert done.exit_code == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["executed"] is True and all(o["deleted"] for o in report["orphans"])
    remaining = set(our_repos(fake_github))
    assert remaining == {landscape["in_use"], landscape["held"], landscape["legacy"], f"{ORG}/course-website"}
    [cleaned] = [k for k in seeded.key_rows() if "error" in (k["result"] or {})]
    assert (cleaned["errorCode"], cleaned["repoFullName"]) == ("ACTIVE_SESSION_EXISTS", None)

    again = json.loads(forgea("repo", "reconcile", "--json", env=env).stdout)
    assert again["orphans"] == [] and len(again["held"]) == 1


def test_a_repository_claimed_between_scan_and_delete_is_left_alone(
    seeded, fake_github, make_gateway, uow, landscape
):
    from forgea_cli.services.sessions import reconcile

    gateway = make_gateway()
    report = reconcile.reconcile_repos(uow, gateway, CONFIG)
    orphan = next(o for o in report.orphans if o.full_name == landscape["orphan"])
    repo_id = orphan.repo_id
    session_id = sql(seeded.url, 'SELECT id FROM "LabSession" LIMIT 1')[0][0]
    sql(seeded.url, 'DELETE FROM "GitHubRepoMapping" WHERE "labSessionId" = %s', (session_id,))
    sql(
        seeded.url,
        'INSERT INTO "GitHubRepoMapping" ("labSessionId", "providerRepoId", owner, name, "canonicalUrl", '
        "resolution, source) VALUES (%s, %s, %s, %s, %s, 'RESOLVED', 'MANUAL')",
        (session_id, repo_id, ORG, "x", f"https://github.com/{landscape['orphan']}".lower()),
    )
    reconcile.delete_orphans(uow, gateway, CONFIG, report)
    assert orphan.skipped == "in use by now" and not orphan.deleted
    assert landscape["orphan"] in our_repos(fake_github)


def test_execute_never_says_report_only(forgea, seeded, fake_github, landscape, tmp_path):
    env = {**cli_env(seeded, fake_github, tmp_path), "COLUMNS": "250"}
    refused = forgea("repo", "reconcile", "--execute", env=env)  # no --yes off a terminal: refused
    assert refused.exit_code == 2 and landscape["orphan"] in refused.stdout
    assert "report only" not in refused.stdout + refused.stderr
    done = forgea("repo", "reconcile", "--execute", "--yes", env=env)
    assert done.exit_code == 0, done.stderr
    assert "deleted 2 of 2 orphan repositories" in done.stdout
    assert "report only" not in done.stdout + done.stderr
