"""`forgea session create` through the CLI: parsing, rendering, and the documented exit codes."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.integration.session_create_support import ORG, cli_env, our_repos, sql

pytest_plugins = ("tests.integration.session_create_fixtures",)


@pytest.fixture
def run(forgea, seeded, fake_github, tmp_path):
    env = cli_env(seeded, fake_github, tmp_path)

    def invoke(*args: str, **extra_env: str):
        return forgea("session", "create", *args, env={**env, **extra_env})

    return invoke


def test_create_prints_the_session_and_a_rerun_says_it_replayed(run, seeded, fake_github):
    created = run("--user", seeded.email, "--lab", str(seeded.lab_id))
    assert created.exit_code == 0, created.stderr
    [repo] = our_repos(fake_github)
    assert f"https://github.com/{repo}" in created.stdout and " created:" in created.stdout
    assert f"create:{seeded.user_id}:{seeded.version_id}" in created.stderr

    replayed = run("--user", str(seeded.user_id), "--lab", str(seeded.lab_id), "--json")
    document = json.loads(replayed.stdout)
    assert replayed.exit_code == 0 and document["outcome"] == "replayed"
    assert document["repoFullName"] == repo and document["idempotencyKey"].startswith("create:")
    assert replayed.stderr == ""


def test_dry_run_resolves_and_writes_nothing(run, seeded, fake_github):
    human = run("--user", seeded.email, "--lab", str(seeded.lab_id), "--dry-run")
    assert human.exit_code == 0, human.stderr
    assert "forgea-labs/leak-hunt-template (visible to the token)" in human.stdout
    assert f"{ORG}/forgea-leak-hunt-<short id>" in human.stdout and "nothing was written" in human.stderr
    as_json = json.loads(
        run("--user", seeded.email, "--lab", str(seeded.lab_id), "--dry-run", "--json").stdout
    )
    assert as_json["dryRun"] is True and as_json["labVersion"]["version"] == "v1"
    assert seeded.counts()["keys"] == 0 and our_repos(fake_github) == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--user", "x@example.edu"], 2, "--lab is required"),
        (["--lab", "LAB"], 2, "give --user"),
        (["--user", "student0@example.edu", "--lab", "not-a-uuid"], 2, "takes a lab id"),
        (["--user", "student0@example.edu", "--lab", str(uuid.UUID(int=5))], 3, "no lab with id"),
        (["--user", "nobody@example.edu", "--lab", "LAB"], 3, "no user with id or email"),
        (["--user", "student0@example.edu", "--lab", "LAB", "--lab-version", "v9"], 3, "has no version 'v9'"),
        (
            ["--user", "student0@example.edu", "--lab", "LAB", "--fork-url", "https://gitlab.com/a/b"],
            2,
            "NOT_GITHUB",
        ),
        (
            ["--user", "student0@example.edu", "--lab", "LAB", "--idempotency-key", "has blank"],
            2,
            "invalid idempotency",
        ),
    ],
)
def test_bad_input_is_one_line_with_its_exit_code_and_writes_nothing(run, seeded, args, code, message):
    args = [str(seeded.lab_id) if a == "LAB" else a for a in args]
    result = run(*args)
    assert result.exit_code == code, result.stderr
    assert message in result.stderr and result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr and seeded.counts()["keys"] == 0


def test_no_org_configured_is_bad_input(run, seeded):
    result = run("--user", seeded.email, "--lab", str(seeded.lab_id), FORGEA_GITHUB_ORG="")
    assert result.exit_code == 2 and "FORGEA_GITHUB_ORG" in result.stderr


def test_conflicts_exit_4_and_github_refusals_exit_5(run, seeded, fake_github):
    lab = str(seeded.lab_id)
    assert run("--user", seeded.email, "--lab", lab, "--idempotency-key", "k1").exit_code == 0
    mismatch = run("--user", seeded.users[1][1], "--lab", lab, "--idempotency-key", "k1")
    assert mismatch.exit_code == 4 and "different request" in mismatch.stderr

    active = run("--user", seeded.email, "--lab", lab)  # new default key, but the student is busy
    assert active.exit_code == 4 and "already has an active session" in active.stderr

    fake_github.reset()
    missing_template = run("--user", seeded.users[2][1], "--lab", lab)
    assert missing_template.exit_code == 5 and "Not Found" in missing_template.stderr
    assert seeded.counts()["sessions"] == 1


def test_a_missing_version_row_names_the_backfill(run, seeded):
    sql(seeded.url, 'UPDATE "Lab" SET "repoVersion" = \'v2\' WHERE id = %s', (seeded.lab_id,))
    result = run("--user", seeded.email, "--lab", str(seeded.lab_id), "--dry-run")
    assert result.exit_code == 1
    assert "no LabVersion row" in result.stderr and "forgea backfill lab-versions" in result.stderr
