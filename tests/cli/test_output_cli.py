"""The output contract through the CLI: listings in every format, nothing cut, markup escaped, URLs
redacted in one place, data on stdout and messages on stderr, and the small refusals of issue 15."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest

from tests.integration.seed import add_lab, add_session, add_user, connect

KEY = "k[/x]y"  # a legal idempotency key that is also Rich markup


@pytest.fixture
def listed(migrated_db):
    """Two sessions (one with a token in its fork URL) and a key named like markup."""
    with connect(migrated_db) as conn:
        lab = add_lab(conn)
        conn.execute('UPDATE "Lab" SET title = %s WHERE id = %s', ("[bold]Leaky[/bold] cache", lab))
        user = add_user(conn, "ada@example.edu")
        first = add_session(conn, user, lab)
        conn.execute(
            'UPDATE "LabSession" SET "userForkUrl" = %s WHERE id = %s',
            ("https://ghp_T0kenInAUrl@github.com/ada/leaky", first),
        )
        second = add_session(conn, add_user(conn, "bob@example.edu"), lab)
        conn.execute(
            'INSERT INTO "IdempotencyKey" ("actorId", key, "requestHash", "requestParams", '
            '"plannedSessionId") VALUES '
            "('test:operator', %s, 'h', '{}', %s), ('someone:else', 'their-key', 'h', '{}', %s)",
            (KEY, uuid.uuid4(), uuid.uuid4()),
        )
    return {"url": migrated_db, "lab": str(lab), "sessions": {str(first), str(second)}}


def test_session_list_formats_never_cut_ids_and_redact_urls(forgea, listed):
    url = listed["url"]
    table = forgea("session", "list", url=url, env={"COLUMNS": "80"})
    assert table.exit_code == 0, table.stderr
    assert "…" not in table.stdout
    assert "2 sessions" in table.stdout

    plain = forgea("session", "list", "--format", "plain", url=url)
    assert {line.split("\t")[0] for line in plain.stdout.splitlines()} == listed["sessions"]

    rows = list(csv.DictReader(io.StringIO(forgea("session", "list", "--format", "csv", url=url).stdout)))
    assert {row["id"] for row in rows} == listed["sessions"]

    as_json = forgea("session", "list", "--format", "json", url=url)
    assert as_json.stdout == forgea("session", "list", "--json", url=url).stdout
    documents = json.loads(as_json.stdout)
    assert "ghp_T0kenInAUrl" not in as_json.stdout
    assert "https://***@github.com/ada/leaky" in {d["userForkUrl"] for d in documents}
    assert all(d["lastActivityAt"].endswith("+00:00") for d in documents)

    both = forgea("session", "list", "--json", "--format", "csv", url=url)
    assert both.exit_code == 2


def test_session_show_redacts_the_fork_url_like_mapping_lookup(forgea, listed):
    url = listed["url"]
    for session in listed["sessions"]:
        shown = forgea("session", "show", session, "--json", url=url)
        assert shown.exit_code == 0, shown.stderr
        assert "ghp_T0kenInAUrl" not in shown.stdout + forgea("session", "show", session, url=url).stdout


def test_markup_in_keys_and_titles_is_text(forgea, listed):
    keys = forgea("keys", "list", url=listed["url"], env={"COLUMNS": "200"})
    assert keys.exit_code == 0, keys.stderr
    assert KEY in keys.stdout
    assert [
        line.split("\t")[0]
        for line in forgea("keys", "list", "--format", "plain", url=listed["url"]).stdout.splitlines()
    ] == [KEY]

    sessions = forgea("session", "list", url=listed["url"], env={"COLUMNS": "200"})
    assert "[bold]Leaky[/bold] cache" in sessions.stdout


def test_migrate_history_takes_every_listing_format(forgea):
    plain = forgea("migrate", "history", "--format", "plain")
    assert plain.stdout.splitlines()[0].split("\t")[0] == "0001_baseline"
    document = json.loads(forgea("migrate", "history", "--json").stdout)
    assert document[1]["downRevision"] == "0001_baseline"
    assert forgea("migrate", "history", "--format", "csv").stdout.startswith("revision,revises,title\n")


def test_session_list_of_an_unknown_lab_is_not_found_like_an_unknown_user(forgea, listed):
    unknown = str(uuid.UUID(int=99))
    lab = forgea("session", "list", "--lab", unknown, "--json", url=listed["url"])
    assert lab.exit_code == 3, lab.stderr
    assert json.loads(lab.stdout)["error"]["message"] == f"no lab with id {unknown}"
    user = forgea("session", "list", "--user", "nobody@example.edu", url=listed["url"])
    assert user.exit_code == 3
    assert forgea("session", "list", "--lab", listed["lab"], url=listed["url"]).exit_code == 0


def test_resuming_another_actors_key_hints_at_its_actor(forgea, listed):
    result = forgea("keys", "resume", "their-key", "--dry-run", url=listed["url"])
    assert result.exit_code == 3
    assert "1 other actor has one: 'someone:else'" in result.stderr
    assert "--actor someone:else" in result.stderr and "--all-actors" in result.stderr
    mine = forgea("keys", "resume", "their-key", "--dry-run", "--actor", "someone:else", url=listed["url"])
    assert mine.exit_code == 0, mine.stderr


def test_backfill_and_mapping_backfill_both_answer_on_stdout(forgea, listed):
    url = listed["url"]
    answers = []
    for args in (["backfill", "repo-mappings", "--dry-run"], ["mapping", "backfill", "--dry-run"]):
        result = forgea(*args, url=url)
        assert result.exit_code == 0, result.stderr
        assert "would map 2 sessions" in result.stdout and "would" not in result.stderr
        answers.append(result.stdout)
    assert answers[0] == answers[1]


def test_plurals_are_right_for_one(forgea, migrated_db):
    with connect(migrated_db) as conn:
        add_session(conn, add_user(conn), add_lab(conn))
    checks = json.loads(forgea("verify-constraints", "--only", "data", "--json", url=migrated_db).stdout)[
        "checks"
    ]
    assert "1 session has no repository mapping" in {c["message"] for c in checks}
    done = forgea("backfill", "repo-mappings", url=migrated_db)
    assert "1 session in 1 batch" in done.stdout, done.stdout


def test_webhook_deliveries_is_a_listing_like_the_others(forgea, migrated_db, tmp_path):
    ping = tmp_path / "ping.json"
    ping.write_text(json.dumps({"zen": "Design for failure.", "hook_id": 42}), encoding="utf-8")
    guid = str(uuid.UUID(int=7))
    replayed = forgea(
        "webhook", "replay", str(ping), "--event", "ping", "--delivery-id", guid, url=migrated_db
    )
    assert replayed.exit_code == 0, replayed.stderr
    plain = forgea("webhook", "deliveries", "--format", "plain", url=migrated_db)
    assert plain.exit_code == 0 and plain.stdout.split("\t")[1] == guid
    assert plain.stdout.split("\t")[0].endswith("+00:00")
    rows = list(
        csv.DictReader(
            io.StringIO(forgea("webhook", "deliveries", "--format", "csv", url=migrated_db).stdout)
        )
    )
    assert rows[0]["delivery"] == guid
