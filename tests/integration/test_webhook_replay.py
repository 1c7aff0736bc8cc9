"""`webhook replay`: corpus payloads mapped and unmapped, renames and transfers, at most once, signatures."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from forgea_cli.services.mapping import lookup_repo
from forgea_cli.services.webhooks import ReplayRequest, SavedForm, apply_delivery, read_saved, replay_files
from forgea_cli.services.webhooks.signatures import SignatureStatus
from forgea_cli.urls import canonical_repo_url
from tests.integration.mapping_support import T0, add_lab, add_lab_version, add_mapping, add_session
from tests.integration.webhook_support import (
    CORPUS_WEBHOOKS,
    SECRET,
    audit_rows,
    corpus_id,
    counts,
    delivery_object,
    event_of,
    load,
    moved,
    session_row,
    sign,
    write_body,
)

needs_corpus = pytest.mark.skipif(not CORPUS_WEBHOOKS, reason="webhook corpus not found (../shared/corpus)")

# What each corpus payload does to a database where its repository is mapped to an active session.
MAPPED_OUTCOME = {
    "push": "APPLIED",
    "repository/renamed": "MAPPING_UPDATED",
    "repository/transferred": "MAPPING_UPDATED",
    "repository/deleted": "MAPPING_NOT_FOUND",
}


def _replay(uow, *files: Path, **options):
    return replay_files(uow, ReplayRequest(files=files, actor_id="test:operator", **options))


def _one(uow, path: Path, delivery_id: str | None = None, **options):
    event = options.pop("event", None) or event_of(path)
    report = _replay(uow, path, event=event, delivery_id=delivery_id or f"d-{uuid.uuid4()}", **options)
    assert len(report.results) == 1
    return report.results[0]


def _kind(path: Path) -> str:
    payload = json.loads(path.read_text())
    return f"repository/{payload.get('action')}" if event_of(path) == "repository" else event_of(path)


def _map_repository_of(engine, path: Path) -> uuid.UUID | None:
    """An active session whose mapping is bound to the payload's repository id; None without one."""
    repository = json.loads(path.read_text()).get("repository") or {}
    if "id" not in repository:
        return None
    try:
        url = canonical_repo_url(repository["html_url"])
    except Exception:  # the GHES example: its URL is on another host; bind a URL of ours to its id
        url = f"https://github.com/ghes-example/repo-{repository['id']}"
    with engine.begin() as connection:
        session_id = add_session(connection, url)
        add_mapping(connection, session_id, url, repo_id=int(repository["id"]))
    return session_id


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_WEBHOOKS, ids=corpus_id)
def test_every_corpus_payload_replays_where_its_repository_is_not_mapped(
    path, migrated_db, uow_for, engine_for
):
    uow, engine = uow_for(migrated_db), engine_for(migrated_db)
    with engine.begin() as connection:  # an unrelated session, so "no session" is a real answer
        add_session(connection, "https://github.com/someone/else")
    before = counts(engine)

    result = _one(uow, path)

    assert result.error is None
    expected = "RECORDED" if _kind(path) not in MAPPED_OUTCOME else "NO_SESSION"
    if _kind(path) in MAPPED_OUTCOME and not (json.loads(path.read_text()).get("repository") or {}):
        expected = "RECORDED"
    assert result.outcome == expected, result.detail
    after = counts(engine)
    assert after["ledger"] == before["ledger"] + 1
    assert {k: v for k, v in after.items() if k != "ledger"} == {
        k: v for k, v in before.items() if k != "ledger"
    }


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_WEBHOOKS, ids=corpus_id)
def test_every_corpus_payload_replays_where_its_repository_is_mapped(path, migrated_db, uow_for, engine_for):
    uow, engine = uow_for(migrated_db), engine_for(migrated_db)
    session_id = _map_repository_of(engine, path)
    before = counts(engine)

    result = _one(uow, path)

    assert result.error is None
    expected = MAPPED_OUTCOME.get(_kind(path), "RECORDED") if session_id else "RECORDED"
    assert result.outcome == expected, result.detail
    if expected == "RECORDED":
        assert {k: v for k, v in counts(engine).items() if k != "ledger"} == {
            k: v for k, v in before.items() if k != "ledger"
        }
        return
    assert result.session["id"] == str(session_id) and result.rule == 1
    if expected == "APPLIED":
        rows = audit_rows(engine, session_id)
        assert [r["action"] for r in rows] == ["LAB_STATUS_TRANSITION", "LAB_VERIFY_ATTEMPT"]
        transition, attempt = rows
        payload = json.loads(path.read_text())
        assert attempt["metadata"]["commitSha"] == payload["after"]
        assert transition["metadata"]["reason"] == "github_webhook_push"
        assert transition["metadata"]["statusChanged"] is False  # IN_PROGRESS stays IN_PROGRESS
        assert session_row(engine, session_id)["lastActivityAt"] > T0
    if expected == "MAPPING_NOT_FOUND":
        with engine.connect() as connection:
            resolution = connection.execute(
                text('SELECT resolution FROM "GitHubRepoMapping" WHERE "labSessionId" = :id'),
                {"id": session_id},
            ).scalar()
        assert resolution == "NOT_FOUND"


@needs_corpus
def test_a_stuck_session_goes_back_in_progress_as_the_web_app_does(
    migrated_db, uow_for, engine_for, tmp_path
):
    uow, engine = uow_for(migrated_db), engine_for(migrated_db)
    payload = load("push/with-new-branch.payload.json")
    url = canonical_repo_url(payload["repository"]["html_url"])
    with engine.begin() as connection:
        session_id = add_session(connection, url, status="STUCK")
        add_mapping(connection, session_id, url, repo_id=payload["repository"]["id"])

    result = _one(uow, write_body(tmp_path, payload), event="push")

    assert result.outcome == "APPLIED" and result.session["from"] == "STUCK"
    assert session_row(engine, session_id)["status"] == "IN_PROGRESS"
    transition = next(r for r in audit_rows(engine, session_id) if r["action"] == "LAB_STATUS_TRANSITION")
    assert transition["metadata"]["fromStatus"] == "STUCK" and transition["metadata"]["statusChanged"] is True
    assert transition["metadata"]["actorType"] == "SYSTEM" and transition["actorId"] == "test:operator"


@needs_corpus
def test_a_push_binds_the_id_of_a_pending_mapping_and_maps_a_legacy_session(
    migrated_db, uow_for, engine_for, tmp_path
):
    uow, engine = uow_for(migrated_db), engine_for(migrated_db)
    first = moved(load("push/payload.json"), owner="student-a", name="lab-one")
    second = moved(load("push/payload.json"), owner="student-b", name="lab-two")
    second["repository"]["id"] = 900000002
    with engine.begin() as connection:
        pending = add_session(connection, "https://github.com/student-a/lab-one")
        add_mapping(connection, pending, "https://github.com/student-a/lab-one")  # PENDING, no id
        legacy = add_session(connection, "https://github.com/Student-B/lab-two.git")  # no mapping at all

    bound = _one(uow, write_body(tmp_path, first), event="push")
    mapped = _one(uow, write_body(tmp_path, second), event="push")

    assert (bound.outcome, bound.rule, bound.bound) == ("APPLIED", 2, True)
    assert (mapped.outcome, mapped.rule) == ("APPLIED", 3)
    assert mapped.mapping["change"] == "created (WEBHOOK, RESOLVED)"
    assert lookup_repo(uow, repo_id=first["repository"]["id"]).session["id"] == str(pending)
    assert lookup_repo(uow, repo_id=900000002).session["id"] == str(legacy)


@needs_corpus
def test_template_pushes_and_finished_sessions_are_reported_not_applied(
    migrated_db, uow_for, engine_for, tmp_path
):
    uow, engine = uow_for(migrated_db), engine_for(migrated_db)
    template = moved(load("push/payload.json"), owner="forgea-labs", name="template")
    done = moved(load("push/payload.json"), owner="student-c", name="finished")
    done["repository"]["id"] = 900000003
    with engine.begin() as connection:
        add_lab(connection, base="https://github.com/forgea-labs/template")
        finished = add_session(connection, "https://github.com/student-c/finished", status="VERIFIED_PASS")
        add_mapping(connection, finished, "https://github.com/student-c/finished", repo_id=900000003)
    before = counts(engine)

    on_template = _one(uow, write_body(tmp_path, template), event="push")
    on_finished = _one(uow, write_body(tmp_path, done), event="push")

    assert on_template.outcome == "TEMPLATE_REPOSITORY" and on_template.error is None
    assert on_finished.outcome == "SESSION_INACTIVE" and str(finished) in on_finished.detail
    after = counts(engine)
    assert after["ledger"] == before["ledger"] + 2 and after["audit"] == before["audit"]
    assert after["sessions"] == before["sessions"]


# -- renames and transfers ------------------------------------------------------------------------------


def _start(engine, state: str, url: str, repo_id: int) -> uuid.UUID:
    """A session for ``url`` in one of the three states the lookup order knows."""
    with engine.begin() as connection:
        session_id = add_session(connection, url)
        if state == "bound":
            add_mapping(connection, session_id, canonical_repo_url(url), repo_id=repo_id)
        elif state == "pending":
            add_mapping(connection, session_id, canonical_repo_url(url))
    return session_id


@needs_corpus
@pytest.mark.parametrize("state", ["bound", "pending", "legacy"])
def test_a_rename_then_a_push_under_the_new_name_lands_on_the_same_session(
    state, migrated_db, uow_for, engine_for, tmp_path
):
    uow, engine = uow_for(migrated_db), engine_for(migrated_db)
    renamed = moved(load("repository/renamed.payload.json"), owner="Octocoders", name="lab-renamed")
    renamed["changes"]["repository"]["name"]["from"] = "lab-original"
    repo_id = renamed["repository"]["id"]
    session_id = _start(engine, state, "https://github.com/Octocoders/lab-original", repo_id)
    push = moved(load("push/with-new-branch.payload.json"), owner="Octocoders", name="lab-renamed")
    push["repository"]["id"] = repo_id

    rename = _one(uow, write_body(tmp_path, renamed), event="repository")
    landed = _one(uow, write_body(tmp_path, push), event="push")

    assert rename.outcome == "MAPPING_UPDATED" and rename.session["id"] == str(session_id)
    assert (landed.outcome, landed.rule, landed.session["id"]) == ("APPLIED", 1, str(session_id))
    by_new_url = lookup_repo(uow, html_url="https://github.com/octocoders/lab-renamed")
    assert by_new_url.session["id"] == str(session_id) and by_new_url.mapping["providerRepoId"] == repo_id


@needs_corpus
@pytest.mark.parametrize("state", ["bound", "pending", "legacy"])
def test_a_transfer_then_a_push_under_the_new_owner_lands_on_the_same_session(
    state, migrated_db, uow_for, engine_for, tmp_path
):
    uow, engine = uow_for(migrated_db), engine_for(migrated_db)
    transferred = load("repository/transferred.payload.json")  # octocat/Hello-World -> Octocoders/Hello-World
    previous = transferred["changes"]["owner"]["from"]["user"]["login"]
    repo_id = transferred["repository"]["id"]
    session_id = _start(engine, state, f"https://github.com/{previous}/Hello-World", repo_id)
    push = moved(load("push/payload.json"), owner="Octocoders", name="Hello-World")
    push["repository"]["id"] = repo_id

    transfer = _one(uow, write_body(tmp_path, transferred), event="repository")
    landed = _one(uow, write_body(tmp_path, push), event="push")

    assert transfer.outcome == "MAPPING_UPDATED", transfer.detail
    assert (landed.outcome, landed.session["id"]) == ("APPLIED", str(session_id))
    mapping = lookup_repo(uow, html_url="https://github.com/Octocoders/Hello-World").mapping
    assert (mapping["owner"], mapping["providerRepoId"]) == ("Octocoders", repo_id)


@needs_corpus
def test_a_move_onto_a_url_another_mapping_holds_is_refused_and_writes_nothing(
    migrated_db, uow_for, engine_for, tmp_path
):
    uow, engine = uow_for(migrated_db), engine_for(migrated_db)
    renamed = moved(load("repository/renamed.payload.json"), owner="Octocoders", name="taken")
    renamed["changes"]["repository"]["name"]["from"] = "mine"
    _start(engine, "bound", "https://github.com/Octocoders/mine", renamed["repository"]["id"])
    _start(engine, "bound", "https://github.com/Octocoders/taken", 900000009)
    before = counts(engine)

    result = _one(uow, write_body(tmp_path, renamed), event="repository")

    assert result.error is not None and "already mapping" in result.error
    assert counts(engine) == before


# -- at most once ----------------------------------------------------------------------------------------


@needs_corpus
def test_the_same_delivery_twice_changes_nothing_the_second_time(migrated_db, uow_for, engine_for, tmp_path):
    uow, engine = uow_for(migrated_db), engine_for(migrated_db)
    payload = load("push/with-organization.payload.json")
    session_id = _map_repository_of(engine, WEBHOOKS_PUSH := write_body(tmp_path, payload))
    assert session_id is not None

    first = _one(uow, WEBHOOKS_PUSH, delivery_id="same-delivery", event="push")
    after_first = counts(engine)
    second = _one(uow, WEBHOOKS_PUSH, delivery_id="same-delivery", event="push")

    assert first.outcome == "APPLIED" and not first.duplicate
    assert (
        second.duplicate and second.outcome == "APPLIED" and second.previously["appliedBy"] == "test:operator"
    )
    assert counts(engine) == after_first
    assert len(audit_rows(engine, session_id)) == 2


@needs_corpus
def test_twenty_concurrent_replays_of_one_delivery_apply_it_once(migrated_db, engine_for, tmp_path):
    from forgea_cli.db.engine import make_engine
    from forgea_cli.db.uow import unit_of_work_factory

    engine = engine_for(migrated_db)
    path = write_body(tmp_path, load("push/with-new-branch.payload.json"))
    session_id = _map_repository_of(engine, path)
    delivery = read_saved(path, event="push", delivery_id="raced-delivery")
    racers = make_engine(migrated_db, pool_size=20)
    uow = unit_of_work_factory(racers)
    start = threading.Barrier(20)
    results, errors = [], []

    def replay() -> None:
        start.wait()
        try:
            results.append(
                apply_delivery(uow, delivery, signature=SignatureStatus.NOT_CHECKED, actor_id="racer")
            )
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=replay) for _ in range(20)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        racers.dispose()

    assert errors == []
    assert sum(1 for r in results if r.applied) == 1
    assert sum(1 for r in results if r.duplicate) == 19
    assert len(audit_rows(engine, session_id)) == 2
    assert counts(engine)["ledger"] == 1


@needs_corpus
def test_a_dry_run_writes_nothing_and_says_what_would_happen(migrated_db, uow_for, engine_for, tmp_path):
    uow, engine = uow_for(migrated_db), engine_for(migrated_db)
    path = write_body(tmp_path, load("push/payload.json"))
    _map_repository_of(engine, path)
    before = counts(engine)

    result = _one(uow, path, event="push", dry_run=True)

    assert result.outcome == "APPLIED" and result.dry_run and len(result.audit_ids) == 2
    assert counts(engine) == before


# -- signatures and saved forms ------------------------------------------------------------------------------


@needs_corpus
def test_a_signed_body_is_verified_and_a_body_altered_after_signing_is_refused(
    forgea, migrated_db, engine_for, tmp_path
):
    engine = engine_for(migrated_db)
    path = write_body(tmp_path, load("push/payload.json"))
    _map_repository_of(engine, path)
    signature = sign(path.read_bytes())
    env = {"HOOK_SECRET": SECRET}
    altered = tmp_path / "altered.json"
    altered.write_bytes(path.read_bytes().replace(b'"after": "', b'"after": "f', 1))
    before = counts(engine)

    refused = forgea(
        "webhook", "replay", str(altered), "--event", "push", "--delivery-id", "d-altered",
        "--signature", signature, "--secret-env", "HOOK_SECRET", "--json", url=migrated_db, env=env,
    )  # fmt: skip
    unsigned = forgea(
        "webhook", "replay", str(path), "--event", "push", "--delivery-id", "d-unsigned",
        "--secret-env", "HOOK_SECRET", url=migrated_db, env=env,
    )  # fmt: skip
    assert refused.exit_code == 4, refused.output
    assert unsigned.exit_code == 4 and "no X-Hub-Signature-256" in unsigned.output
    assert counts(engine) == before

    accepted = forgea(
        "webhook", "replay", str(path), "--event", "push", "--delivery-id", "d-signed",
        "--signature", signature, "--secret-env", "HOOK_SECRET", "--json", url=migrated_db, env=env,
    )  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    delivery = json.loads(accepted.stdout)["deliveries"][0]
    assert (delivery["signature"], delivery["outcome"]) == ("verified", "APPLIED")
    with engine.connect() as connection:
        assert connection.execute(text('SELECT "signatureVerified" FROM "WebhookDelivery"')).scalar() is True


@needs_corpus
def test_the_secret_never_appears_in_output_errors_or_the_ledger(forgea, migrated_db, engine_for, tmp_path):
    from forgea_cli.services.webhooks import SignatureRefused, check_signature, secret_from_env

    path = write_body(tmp_path, load("push/payload.json"))
    env = {"HOOK_SECRET": SECRET, "FORGEA_DEBUG": "1"}
    runs = [
        forgea("webhook", "replay", str(path), "--event", "push", "--delivery-id", "s1",
               "--signature", sign(path.read_bytes()), "--secret-env", "HOOK_SECRET", *flags,
               url=migrated_db, env=env)
        for flags in ((), ("--json",), ("--dry-run",))
    ] + [
        forgea("--debug", "webhook", "replay", str(path), "--event", "push", "--delivery-id", "s2",
               "--signature", "sha256=" + "0" * 64, "--secret-env", "HOOK_SECRET", *flags,
               url=migrated_db, env=env)
        for flags in ((), ("--json",))
    ]  # fmt: skip
    assert [r.exit_code for r in runs] == [0, 0, 0, 4, 4]
    for run in runs:
        assert SECRET not in run.output and SECRET not in (run.stderr or "")
        assert run.exception is None or SECRET not in repr(run.exception)

    secret = secret_from_env_with(SECRET, secret_from_env)
    wrong = read_saved(path, event="push", delivery_id="s3", signature="sha256=" + "1" * 64)
    with pytest.raises(SignatureRefused) as refusal:
        check_signature(wrong, secret)
    import traceback

    shown = "".join(traceback.format_exception(refusal.value)) + repr(refusal.value) + repr(secret)
    assert SECRET not in shown and SECRET not in str(refusal.value.args)
    with engine_for(migrated_db).connect() as connection:
        ledger = (
            connection.execute(text('SELECT "WebhookDelivery"::text FROM "WebhookDelivery"')).scalars().all()
        )
        audit = connection.execute(text('SELECT metadata::text FROM "AuditLog"')).scalars().all()
    assert ledger and all(SECRET not in row for row in [*ledger, *audit])


def secret_from_env_with(value: str, reader):
    import os

    os.environ["FORGEA_TEST_HOOK_SECRET"] = value
    try:
        return reader("FORGEA_TEST_HOOK_SECRET")
    finally:
        del os.environ["FORGEA_TEST_HOOK_SECRET"]


@needs_corpus
def test_a_delivery_object_replays_with_its_own_headers_but_cannot_be_verified(
    forgea, migrated_db, engine_for, tmp_path
):
    engine = engine_for(migrated_db)
    payload = load("push/with-new-branch.payload.json")
    session_id = _map_repository_of(engine, write_body(tmp_path, payload))
    saved = tmp_path / "delivery.json"
    saved.write_text(json.dumps(delivery_object(payload, event="push", guid="guid-from-github")))

    refused = forgea("webhook", "replay", str(saved), "--secret-env", "HOOK_SECRET", url=migrated_db,
                     env={"HOOK_SECRET": SECRET})  # fmt: skip
    assert refused.exit_code == 4 and "cannot be checked byte for byte" in " ".join(refused.output.split())
    assert counts(engine)["ledger"] == 0

    replayed = forgea("webhook", "replay", str(saved), "--json", url=migrated_db)
    assert replayed.exit_code == 0, replayed.output
    delivery = json.loads(replayed.stdout)["deliveries"][0]
    assert delivery["form"] == str(SavedForm.DELIVERY_OBJECT) and delivery["deliveryId"] == "guid-from-github"
    assert (delivery["outcome"], delivery["signature"]) == ("APPLIED", "not checked")

    shown = forgea("session", "show", str(session_id), "--json", url=migrated_db)
    assert shown.exit_code == 0, shown.output
    assert [d["deliveryId"] for d in json.loads(shown.stdout)["deliveries"]] == ["guid-from-github"]
    listed = forgea("webhook", "deliveries", "--session", str(session_id), "--json", url=migrated_db)
    assert [d["deliveryId"] for d in json.loads(listed.stdout)] == ["guid-from-github"]


def test_a_raw_body_needs_its_event_and_delivery_id(forgea, migrated_db, tmp_path):
    path = write_body(tmp_path, {"zen": "Keep it logically awesome.", "hook_id": 1})
    no_event = forgea("webhook", "replay", str(path), "--delivery-id", "x", url=migrated_db)
    no_id = forgea("webhook", "replay", str(path), "--event", "ping", url=migrated_db)
    assert no_event.exit_code == 2 and "--event" in no_event.output
    assert no_id.exit_code == 2 and "--delivery-id" in no_id.output


def test_replay_on_a_database_without_the_ledger_names_the_revision(forgea, empty_db, tmp_path):
    from tests.conftest import migrate_to

    migrate_to(empty_db, "0008_f6_contract_active_session")
    path = write_body(tmp_path, {"zen": "x", "hook_id": 1})
    result = forgea("webhook", "replay", str(path), "--event", "ping", "--delivery-id", "x", url=empty_db)
    assert result.exit_code == 1 and "0009_webhook_deliveries" in result.output


def test_saved_delivery_id_is_the_same_across_forms(tmp_path):
    payload = {"zen": "Design for failure.", "hook_id": 42}
    raw = read_saved(write_body(tmp_path, payload), event="ping", delivery_id="g-1")
    other = tmp_path / "object.json"
    other.write_text(json.dumps(delivery_object(payload, event="ping", guid="g-1")))
    parsed = read_saved(other)
    assert parsed.form is SavedForm.DELIVERY_OBJECT and raw.form is SavedForm.RAW_BODY
    assert (parsed.delivery_id, parsed.event, parsed.hook_id) == ("g-1", "ping", 42)
    assert parsed.payload_sha256 == raw.payload_sha256


def test_lab_versions_templates_by_id_are_templates_too(migrated_db, uow_for, engine_for, tmp_path):
    uow, engine = uow_for(migrated_db), engine_for(migrated_db)
    with engine.begin() as connection:
        lab_id = add_lab(connection)
        add_lab_version(connection, lab_id, "v2", "https://github.com/forgea-labs/other", repo_id=777)
    payload = {"ref": "refs/heads/main", "after": "a" * 40,
               "repository": {"id": 777, "html_url": "https://github.com/forgea-labs/other"}}  # fmt: skip
    result = _one(uow, write_body(tmp_path, payload), event="push")
    assert result.outcome == "TEMPLATE_REPOSITORY"
