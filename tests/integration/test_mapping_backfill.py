"""The repo-mapping backfill on real PostgreSQL: correctness, winners, reports, idempotence, dry run."""

from __future__ import annotations

import csv
import re
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from sqlalchemy import text

from forgea_cli.db.fixtures import legacy_data
from forgea_cli.errors import InProgress, InvalidInput
from forgea_cli.services.mapping import backfill as mapping_backfill
from forgea_cli.services.mapping import backfill_repo_mappings
from forgea_cli.services.rollout import ThrottleOptions
from tests.conftest import migrate_to
from tests.integration.mapping_support import (
    add_lab,
    add_lab_version,
    add_mapping,
    add_session,
    add_sessions_bulk,
    later,
    mappings_by_session,
)

EXPAND_DONE = "0005_f6_session_indexes"


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def legacy_db(empty_db: str) -> str:
    """Legacy data as the web app wrote it, with the expand revisions applied (contract not)."""
    migrate_to(empty_db, "0001_baseline")
    legacy_data.generate(libpq(empty_db), legacy_data.LegacySize(sessions=1500))
    migrate_to(empty_db, EXPAND_DONE)
    return empty_db


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# -- the shared corpus ------------------------------------------------------------------------------------


def test_corpus_spellings_become_their_canonical_url(migrated_db, engine_for, uow_for, corpus, tmp_path):
    with (corpus / "git-urls" / "cases.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    expected: dict[uuid.UUID, str] = {}
    with engine.begin() as connection:
        for minute, row in enumerate(rows):
            session = add_session(connection, row["url"], last_activity=later(minute))
            expected[session] = f"https://github.com/{row['expected_owner']}/{row['expected_repo']}".lower()

    report = backfill_repo_mappings(uow, batch_size=7, report_csv=tmp_path / "problems.csv")

    mapped = mappings_by_session(engine)
    problems = {uuid.UUID(p["session_id"]): p for p in read_csv(tmp_path / "problems.csv")}
    assert report.details["invalid_url"] == 0
    for session, canonical in expected.items():
        if session in mapped:
            assert mapped[session]["canonicalUrl"] == canonical
            assert (mapped[session]["source"], mapped[session]["resolution"]) == ("BACKFILL", "PENDING")
        else:  # another spelling of the same repository won
            assert problems[session]["problem"] == "DUPLICATE_URL"
            assert problems[session]["canonical_url"] == canonical
    assert report.changed == len(set(expected.values())) == len(mapped)
    assert report.details["duplicate_url"] == len(expected) - len(mapped)


# -- generated legacy data (every spelling the legacy generator writes) -----------------------------------


def expected_canonical(session_id: uuid.UUID, sessions: int, labs: int = 20) -> str | None:
    """What the generator meant, computed from its formulas rather than with urls.py."""
    i = int(session_id.hex[-12:], 16)
    if i % legacy_data.INVALID_EVERY == 0:
        return None
    u = i - 1 if i % legacy_data.DUPLICATE_URL_EVERY == 0 else i  # a duplicate names the previous repo
    return f"https://github.com/student{1 + u % (sessions // 3)}/lab-{1 + u % labs}-{u}"


def test_backfill_maps_generated_legacy_data(legacy_db, engine_for, uow_for, tmp_path):
    engine = engine_for(legacy_db)
    uow = uow_for(legacy_db)
    with engine.connect() as connection:
        sessions = connection.execute(text('SELECT id, status, "lastActivityAt" FROM "LabSession"')).all()
    expected = {row.id: expected_canonical(row.id, len(sessions)) for row in sessions}
    spellings = Counter(int(row.id.hex[-12:], 16) % len(legacy_data.SPELLINGS) for row in sessions)
    assert len(spellings) == len(legacy_data.SPELLINGS)  # every spelling is in the data

    report = backfill_repo_mappings(uow, batch_size=100, report_csv=tmp_path / "problems.csv")

    groups: dict[str, list] = defaultdict(list)
    for row in sessions:
        if expected[row.id] is not None:
            groups[expected[row.id]].append(row)
    winners = {min(rows, key=winner_key).id: canonical for canonical, rows in groups.items()}
    mapped = mappings_by_session(engine)
    assert {session: m["canonicalUrl"] for session, m in mapped.items()} == winners
    invalid = [session for session, canonical in expected.items() if canonical is None]
    assert report.changed == len(winners)
    assert report.details["invalid_url"] == len(invalid)
    assert report.details["duplicate_url"] == sum(len(rows) - 1 for rows in groups.values())
    assert report.details["invalid_by_reason"] == {"NOT_A_URL": 5, "NOT_GITHUB": 5, "NO_REPO_PART": 5}
    problems = read_csv(tmp_path / "problems.csv")
    assert {uuid.UUID(p["session_id"]) for p in problems if p["problem"] == "INVALID_URL"} == set(invalid)


def winner_key(row) -> tuple:
    return (row.status not in ("IN_PROGRESS", "STUCK"), -row.lastActivityAt.timestamp(), str(row.id))


# -- winners are chosen over the whole table ------------------------------------------------------------


def test_duplicate_urls_across_batches_pick_one_global_winner(migrated_db, engine_for, uow_for):
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    ids = [uuid.UUID(int=n << 64) for n in range(1, 9)]  # spread over the key space
    with engine.begin() as connection:
        # repo a: inactive but most recent, two active ones; the most recent active wins.
        add_session(
            connection,
            "https://github.com/o/a",
            status="VERIFIED_PASS",
            last_activity=later(90),
            session_id=ids[0],
        )
        add_session(
            connection, "git@github.com:O/A.git", status="STUCK", last_activity=later(10), session_id=ids[7]
        )
        add_session(connection, "https://github.com/o/a/", last_activity=later(20), session_id=ids[3])
        # repo b: two inactive ones; the most recent wins.
        add_session(
            connection, "https://github.com/o/b", status="DEFERRED", last_activity=later(5), session_id=ids[1]
        )
        add_session(
            connection, "https://github.com/o/B", status="DEFERRED", last_activity=later(6), session_id=ids[6]
        )
        # repo c: same activity; the smallest id wins.
        add_session(connection, "https://github.com/o/c", last_activity=later(1), session_id=ids[5])
        add_session(connection, "https://www.github.com/o/c", last_activity=later(1), session_id=ids[2])
        add_session(connection, "https://github.com/o/d", session_id=ids[4])

    report = backfill_repo_mappings(uow, batch_size=1, throttle=ThrottleOptions(max_batch_size=1))

    mapped = {m["canonicalUrl"]: session for session, m in mappings_by_session(engine).items()}
    assert mapped == {
        "https://github.com/o/a": ids[3],
        "https://github.com/o/b": ids[6],
        "https://github.com/o/c": ids[2],
        "https://github.com/o/d": ids[4],
    }
    assert (report.changed, report.batches, report.details["duplicate_url"]) == (4, 4, 4)
    losers = {p["session_id"]: p for p in report.details["problems"]}
    assert losers[str(ids[0])]["winner_session_id"] == str(ids[3])
    assert losers[str(ids[0])]["reason"] == "ANOTHER_SESSION_CHOSEN"


def test_existing_mappings_are_never_overwritten(migrated_db, engine_for, uow_for):
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    with engine.begin() as connection:
        created = add_session(connection, "https://github.com/org/repo", last_activity=later(1))
        mapping_id = add_mapping(connection, created, "https://github.com/org/repo", repo_id=42)
        newer = add_session(connection, "https://github.com/Org/Repo.git", last_activity=later(50))
        other = add_session(connection, "https://github.com/org/other")

    report = backfill_repo_mappings(uow)

    mapped = mappings_by_session(engine)
    assert mapped[created]["id"] == mapping_id and mapped[created]["source"] == "CREATED"
    assert mapped[created]["providerRepoId"] == 42
    assert newer not in mapped and other in mapped
    (problem,) = report.details["problems"]
    assert problem["session_id"] == str(newer)
    assert (problem["problem"], problem["reason"]) == ("DUPLICATE_URL", "URL_ALREADY_MAPPED")
    assert problem["winner_session_id"] == str(created)


# -- lab templates are never a student's repository ------------------------------------------------------

TEMPLATE = "https://github.com/forgea-labs/leaky-cache"
OLD_TEMPLATE = "https://github.com/forgea-labs/leaky-cache-v1"


def test_sessions_naming_a_lab_template_are_reported_never_mapped(migrated_db, engine_for, uow_for, tmp_path):
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    with engine.begin() as connection:
        # The lab's baseRepoUrl is spelled with case and .git; its older version has another template.
        lab = add_lab(
            connection,
            base="https://github.com/Forgea-Labs/Leaky-Cache.git",
            title="Leaky cache",
            version="v2",
        )
        add_lab_version(connection, lab, "v1", "https://github.com/forgea-labs/leaky-cache-v1/")
        # A lab whose template URL names no repository: ignored, with a note.
        broken = add_lab(connection, base="https://gitlab.com/forgea-labs/broken", title="Broken")
        template_sessions = [
            add_session(connection, TEMPLATE, lab_id=lab, last_activity=later(30)),  # as Forgea's seed does
            add_session(
                connection, "https://github.com/Forgea-Labs/Leaky-Cache/", lab_id=lab, status="STUCK"
            ),
            add_session(
                connection, "git@github.com:forgea-labs/leaky-cache.git", lab_id=lab, status="DEFERRED"
            ),
        ]
        old_template_session = add_session(
            connection, "https://github.com/Forgea-Labs/Leaky-Cache-V1.git", lab_id=lab
        )
        # Student repositories: same owner and a longer name, or same name and another owner.
        same_owner = add_session(connection, "https://github.com/forgea-labs/leaky-cache-ada", lab_id=lab)
        same_name = add_session(connection, "https://github.com/ada/leaky-cache", lab_id=lab)

    report = backfill_repo_mappings(uow, batch_size=1, report_csv=tmp_path / "problems.csv")

    mapped = mappings_by_session(engine)
    assert {session: m["canonicalUrl"] for session, m in mapped.items()} == {
        same_owner: "https://github.com/forgea-labs/leaky-cache-ada",
        same_name: "https://github.com/ada/leaky-cache",
    }
    details = report.details
    assert (report.changed, details["template_url"], details["duplicate_url"], details["invalid_url"]) == (
        2,
        4,
        0,
        0,
    )
    assert details["problems_total"] == 4
    assert details["template_urls"] == 2
    (ignored,) = details["templates_ignored"]
    assert (ignored["labId"], ignored["source"], ignored["reason"]) == (
        str(broken),
        "Lab.baseRepoUrl",
        "NOT_GITHUB",
    )
    problems = {p["session_id"]: p for p in details["problems"]}
    rows = {row["session_id"]: row for row in read_csv(tmp_path / "problems.csv")}
    assert set(problems) == set(rows) == {str(s) for s in [*template_sessions, old_template_session]}
    for session in template_sessions:
        for problem in (problems[str(session)], rows[str(session)]):
            assert (problem["problem"], problem["reason"], problem["canonical_url"]) == (
                "TEMPLATE_URL",
                "LAB_TEMPLATE",
                TEMPLATE,
            )
            assert f"template of lab {lab} (Leaky cache), version v2" in problem["detail"]
            assert not problem["winner_session_id"]  # no winner: none of them is a student's repository
    old = rows[str(old_template_session)]
    assert (old["problem"], old["canonical_url"]) == ("TEMPLATE_URL", OLD_TEMPLATE)
    assert f"template of lab {lab} (Leaky cache), version v1" in old["detail"]


def test_a_rerun_keeps_reporting_templates_and_writes_nothing(migrated_db, engine_for, uow_for):
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    with engine.begin() as connection:
        lab = add_lab(connection, base=TEMPLATE + "/", title="Leaky cache")
        add_session(connection, "https://github.com/FORGEA-LABS/leaky-cache", lab_id=lab)
        add_session(connection, "https://github.com/ada/leaky-cache", lab_id=lab)
    first = backfill_repo_mappings(uow)
    before = mappings_by_session(engine)

    second = backfill_repo_mappings(uow)

    assert (first.changed, first.details["template_url"]) == (1, 1)
    assert (second.pending, second.changed, second.batches, second.nothing_to_do) == (0, 0, 0, True)
    assert (second.details["template_url"], second.details["problems"][0]["problem"]) == (1, "TEMPLATE_URL")
    assert mappings_by_session(engine) == before


def test_a_template_already_held_by_a_mapping_is_still_a_template(migrated_db, engine_for, uow_for):
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    with engine.begin() as connection:
        lab = add_lab(connection, base=TEMPLATE, title="Leaky cache")
        holder = add_session(connection, TEMPLATE, lab_id=lab)
        add_mapping(connection, holder, TEMPLATE, source="MANUAL")  # made before templates were known
        newer = add_session(connection, TEMPLATE + ".git", lab_id=lab, last_activity=later(5))

    report = backfill_repo_mappings(uow)

    (problem,) = report.details["problems"]
    assert (problem["session_id"], problem["problem"]) == (str(newer), "TEMPLATE_URL")
    assert report.details["duplicate_url"] == 0


# -- idempotence, dry run, reports ------------------------------------------------------------------------


def test_second_run_has_nothing_to_do_and_still_reports_problems(migrated_db, engine_for, uow_for):
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    with engine.begin() as connection:
        add_sessions_bulk(connection, 120, "https://github.com/student{i}/lab")
        add_session(connection, "https://github.com/student7/lab.git", status="DEFERRED")
        add_session(connection, "https://gitlab.com/x/y")

    first = backfill_repo_mappings(uow, batch_size=25)
    second = backfill_repo_mappings(uow, batch_size=25)

    assert (first.changed, first.nothing_to_do) == (120, False)
    assert (second.pending, second.changed, second.batches, second.nothing_to_do) == (0, 0, 0, True)
    assert (second.details["duplicate_url"], second.details["invalid_url"]) == (1, 1)
    assert len(mappings_by_session(engine)) == 120


def test_dry_run_writes_nothing(migrated_db, engine_for, uow_for, tmp_path):
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    with engine.begin() as connection:
        add_sessions_bulk(connection, 30, "https://github.com/s{i}/r")
        add_session(connection, "not a url")

    report = backfill_repo_mappings(uow, dry_run=True, report_csv=tmp_path / "dry.csv")

    assert (report.dry_run, report.pending, report.changed) == (True, 30, 30)
    assert mappings_by_session(engine) == {}
    assert [row["reason"] for row in read_csv(tmp_path / "dry.csv")] == ["NOT_A_URL"]
    with engine.connect() as connection:  # the temporary tables went with the run
        assert connection.execute(text("SELECT to_regclass('pg_temp.repo_mapping_plan')")).scalar() is None


def test_report_csv_masks_credentials(migrated_db, engine_for, uow_for, tmp_path):
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    with engine.begin() as connection:
        add_session(connection, "https://github.com/o/r", last_activity=later(9))
        add_session(connection, "https://bot:ghp_SECRETTOKEN1234@github.com/o/r.git", last_activity=later(1))
        add_session(connection, "https://github.com/o?access_token=SECRET2")

    report = backfill_repo_mappings(uow, report_csv=tmp_path / "report.csv")

    text_written = (tmp_path / "report.csv").read_text(encoding="utf-8")
    assert "SECRET" not in text_written and "SECRET" not in str(report.to_json())
    rows = read_csv(tmp_path / "report.csv")
    assert list(rows[0]) == list(mapping_backfill.CSV_COLUMNS)
    assert sorted(row["problem"] for row in rows) == ["DUPLICATE_URL", "INVALID_URL"]
    assert report.details["report_csv"] == str(tmp_path / "report.csv")


def test_unwritable_report_is_a_clear_error_and_nothing_is_written(
    migrated_db, engine_for, uow_for, tmp_path
):
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    with engine.begin() as connection:
        add_session(connection, "https://github.com/o/r")
    with pytest.raises(Exception, match=re.escape("cannot write the report")):
        backfill_repo_mappings(uow, report_csv=tmp_path / "missing-dir" / "r.csv")
    assert mappings_by_session(engine) == {}


def test_a_second_concurrent_run_is_refused(migrated_db, engine_for, uow_for, monkeypatch):
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    monkeypatch.setattr(mapping_backfill, "LOCK_WAIT_SECONDS", 0.5)
    with engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": mapping_backfill.sql.RUN_LOCK_KEY})
        with pytest.raises(InProgress, match="another repo-mapping backfill is running"):
            backfill_repo_mappings(uow)
        holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": mapping_backfill.sql.RUN_LOCK_KEY})
        holder.commit()
    assert backfill_repo_mappings(uow).nothing_to_do


def test_a_bad_web_host_stops_the_run_before_anything_is_written(migrated_db, engine_for, uow_for):
    engine = engine_for(migrated_db)
    uow = uow_for(migrated_db)
    with engine.begin() as connection:
        add_sessions_bulk(connection, 5000, "https://github.com/s{i}/r")  # more than one COPY chunk
    with pytest.raises(InvalidInput, match="invalid GitHub web host"):
        backfill_repo_mappings(uow, web_host="not a host!")
    assert mappings_by_session(engine) == {}
    assert backfill_repo_mappings(uow).changed == 5000  # the pool's connections are still usable
