"""`forgea mapping canonicalize / backfill / resolve-ids / lookup` through the real CLI."""

from __future__ import annotations

import csv
import json
import uuid

import pytest

from forgea_cli.testing.github_server import FakeGitHub
from tests.integration.mapping_support import (
    add_lab,
    add_lab_version,
    add_mapping,
    add_session,
    add_sessions_bulk,
)

TOKEN = "ghp_clitoken_never_printed_0123456789"


@pytest.fixture
def sessions_db(migrated_db, engine_for):
    engine = engine_for(migrated_db)
    with engine.begin() as connection:
        add_sessions_bulk(connection, 40, "https://github.com/student{i}/lab-c")
        add_session(connection, "https://github.com/student1/lab-c.git", status="DEFERRED")
        add_session(connection, "https://bot:ghp_LEGACYSECRET99@gitlab.com/x/y")
    return migrated_db


# -- canonicalize -------------------------------------------------------------------------------------------


def test_canonicalize_one_url(forgea):
    result = forgea("mapping", "canonicalize", "  git@github.com:Octo/Hello.git ")
    assert (result.exit_code, result.stdout.strip()) == (0, "https://github.com/octo/hello")


def test_canonicalize_reports_rejections_with_exit_2_and_masks_tokens(forgea):
    result = forgea(
        "mapping", "canonicalize", "--json", "https://x:ghp_PASTED123@github.com/O/R", "github:o/r", "[x]"
    )
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert (document["accepted"], document["rejected"]) == (1, 2)
    first, second, third = document["results"]
    assert first["canonicalUrl"] == "https://github.com/o/r"
    assert (second["reason"], third["reason"]) == ("NOT_A_URL", "NOT_A_URL")
    assert "ghp_PASTED123" not in result.stdout + result.stderr


def test_canonicalize_table_survives_markup_characters(forgea):
    result = forgea("mapping", "canonicalize", "https://github.com/[bold]o/r", "https://github.com/a/b")
    assert result.exit_code == 2
    assert "[bold]o" in result.stdout


def test_canonicalize_follows_the_configured_web_host(forgea):
    result = forgea(
        "mapping",
        "canonicalize",
        "https://GHE.example.com/Team/App.git",
        env={"FORGEA_GITHUB_WEB_URL": "https://ghe.example.com"},
    )
    assert (result.exit_code, result.stdout.strip()) == (0, "https://ghe.example.com/team/app")


# -- backfill ---------------------------------------------------------------------------------------------


def test_backfill_json_then_nothing_to_do(forgea, sessions_db, tmp_path):
    report_csv = tmp_path / "problems.csv"
    first = forgea(
        "mapping",
        "backfill",
        "--json",
        "--batch-size",
        "7",
        "--max-batch-size",
        "7",
        "--report-csv",
        str(report_csv),
        url=sessions_db,
    )
    assert first.exit_code == 0, first.stderr
    document = json.loads(first.stdout)
    assert (document["backfill"], document["changed"], document["batches"]) == ("repo-mappings", 40, 6)
    assert (document["duplicateUrl"], document["invalidUrl"]) == (1, 1)
    with report_csv.open(encoding="utf-8", newline="") as handle:
        problems = list(csv.DictReader(handle))
    assert sorted(p["problem"] for p in problems) == ["DUPLICATE_URL", "INVALID_URL"]
    assert "LEGACYSECRET" not in report_csv.read_text() + first.stdout + first.stderr

    second = forgea("mapping", "backfill", url=sessions_db)
    assert second.exit_code == 0
    assert "nothing to do" in second.stdout and "INVALID_URL 1" in second.stdout


def test_backfill_dry_run_writes_nothing(forgea, sessions_db):
    dry = forgea("mapping", "backfill", "--dry-run", url=sessions_db)
    assert dry.exit_code == 0, dry.stderr
    assert "would map 40 sessions" in dry.stdout
    assert json.loads(forgea("mapping", "backfill", "--json", url=sessions_db).stdout)["changed"] == 40


def test_backfill_rejects_a_bad_batch_size(forgea, sessions_db):
    assert forgea("mapping", "backfill", "--batch-size", "0", url=sessions_db).exit_code == 2


# -- lookup -------------------------------------------------------------------------------------------------


def test_lookup_rules_and_exit_codes(forgea, sessions_db):
    before = forgea(
        "mapping", "lookup", "--url", "https://github.com/Student2/Lab-C", "--json", url=sessions_db
    )
    assert before.exit_code == 0, before.stderr
    assert json.loads(before.stdout)["rule"] == 3

    assert forgea("mapping", "backfill", url=sessions_db).exit_code == 0
    after = forgea("mapping", "lookup", "--url", "https://github.com/student2/lab-c/", url=sessions_db)
    assert after.exit_code == 0
    assert "rule 2" in after.stdout and "would bind" in after.stdout

    missing = forgea("mapping", "lookup", "--repo-id", "12345", "--json", url=sessions_db)
    assert missing.exit_code == 3
    assert json.loads(missing.stdout)["result"]["matched"] is False  # the error document carries it
    assert "no session matches repository id 12345" in missing.stderr
    assert forgea("mapping", "lookup", url=sessions_db).exit_code == 2
    assert forgea("mapping", "lookup", "--url", "https://gitlab.com/o/r", url=sessions_db).exit_code == 2


# -- lab templates ------------------------------------------------------------------------------------------

TEMPLATE = "https://github.com/forgea-labs/leaky-cache"


@pytest.fixture
def template_db(migrated_db, engine_for):
    """Forgea's seed, in short: a session whose userForkUrl is its lab's baseRepoUrl."""
    engine = engine_for(migrated_db)
    with engine.begin() as connection:
        lab = add_lab(
            connection, base="https://github.com/Forgea-Labs/Leaky-Cache.git", title="Leaky [cache]"
        )
        add_lab_version(connection, lab, "v0", "https://github.com/forgea-labs/leaky-cache-v0", repo_id=9001)
        seed_session = add_session(connection, TEMPLATE, lab_id=lab)
        add_session(connection, "https://github.com/forgea-labs/leaky-cache-ada", lab_id=lab)
    return {"url": migrated_db, "lab": str(lab), "seed_session": str(seed_session), "engine": engine}


def test_backfill_reports_template_sessions(forgea, template_db, tmp_path):
    report_csv = tmp_path / "problems.csv"
    result = forgea(
        "mapping", "backfill", "--report-csv", str(report_csv), url=template_db["url"], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 0, result.stderr
    assert "mapped 1 session in 1 batch" in result.stdout and "TEMPLATE_URL 1" in result.stdout
    assert f"{TEMPLATE}: template of lab {template_db['lab']} (Leaky [cache]), version v1" in result.stdout
    with report_csv.open(encoding="utf-8", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["session_id"], row["problem"], row["canonical_url"]) == (
        template_db["seed_session"],
        "TEMPLATE_URL",
        TEMPLATE,
    )
    document = json.loads(forgea("backfill", "repo-mappings", "--json", url=template_db["url"]).stdout)
    assert (document["nothingToDo"], document["templateUrl"]) == (True, 1)
    assert document["problems"][0]["problem"] == "TEMPLATE_URL"


def test_lookup_of_a_template_names_its_lab_not_the_session(forgea, template_db):
    result = forgea(
        "mapping", "lookup", "--url", "https://github.com/forgea-labs/leaky-cache/", url=template_db["url"]
    )
    assert result.exit_code == 3
    assert f"template of lab {template_db['lab']} (Leaky [cache]), version v1" in result.stdout
    assert template_db["seed_session"] not in result.stdout + result.stderr
    assert "is a lab's template repository" in result.stderr

    by_id = forgea("mapping", "lookup", "--repo-id", "9001", "--json", url=template_db["url"])
    assert by_id.exit_code == 3
    document = json.loads(by_id.stdout)["result"]
    assert (document["matched"], document["session"], document["template"]["version"]) == (False, None, "v0")
    assert document["template"]["labTitle"] == "Leaky [cache]"


def test_session_show_of_a_template_says_so(forgea, template_db):
    by_url = forgea("session", "show", "--repo-url", TEMPLATE + ".git", url=template_db["url"])
    by_id = forgea("session", "show", "--repo-id", "9001", "--json", url=template_db["url"])
    assert by_url.exit_code == by_id.exit_code == 3
    assert f"template of lab {template_db['lab']} (Leaky [cache]), version v1" in by_url.stderr
    assert "version v0" in by_id.stderr
    assert template_db["seed_session"] not in by_url.stdout + by_id.stdout
    with template_db["engine"].begin() as connection:  # a mapping of the template, once resolved
        add_mapping(connection, uuid.UUID(template_db["seed_session"]), TEMPLATE, repo_id=4242)
    assert "template of lab" in forgea("session", "show", "--repo-id", "4242", url=template_db["url"]).stderr
    student = forgea(
        "session",
        "show",
        "--repo-url",
        "https://github.com/forgea-labs/leaky-cache-ada",
        url=template_db["url"],
    )
    assert student.exit_code == 0, student.stderr


# -- resolve-ids ----------------------------------------------------------------------------------------


def test_resolve_ids_against_the_fake(forgea, sessions_db):
    assert forgea("mapping", "backfill", url=sessions_db).exit_code == 0
    with FakeGitHub(token=TOKEN) as fake:
        for i in range(1, 31):
            fake.add_repo(f"student{i}/lab-c")
        env = {"FORGEA_GITHUB_API_URL": fake.url, "FORGEA_GITHUB_TOKEN": TOKEN}
        dry = forgea("mapping", "resolve-ids", "--dry-run", "--json", url=sessions_db, env=env)
        result = forgea("mapping", "resolve-ids", "--json", url=sessions_db, env=env)
        lookup = forgea("mapping", "lookup", "--repo-id", str(fake.get("student5/lab-c").id), url=sessions_db)
        requests = fake.request_count()
    assert dry.exit_code == result.exit_code == 0, result.stderr
    assert json.loads(dry.stdout)["changed"] == 40
    document = json.loads(result.stdout)
    assert (document["resolved"], document["notFound"], document["githubRequests"]) == (30, 10, 1)
    assert requests == 2
    assert lookup.exit_code == 0 and "rule 1" in lookup.stdout
    assert TOKEN not in dry.stdout + dry.stderr + result.stdout + result.stderr


def test_resolve_ids_with_a_wrong_token_is_a_github_error(forgea, sessions_db):
    assert forgea("mapping", "backfill", url=sessions_db).exit_code == 0
    with FakeGitHub(token=TOKEN) as fake:
        env = {"FORGEA_GITHUB_API_URL": fake.url, "FORGEA_GITHUB_TOKEN": "ghp_wrong_token_0123456789"}
        result = forgea("mapping", "resolve-ids", url=sessions_db, env=env)
    assert result.exit_code == 5
    assert "ghp_wrong_token_0123456789" not in result.stdout + result.stderr
    assert result.stderr.startswith("error: ")
