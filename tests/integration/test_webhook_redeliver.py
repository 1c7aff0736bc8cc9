"""`webhook redeliver` against the fake GitHub: only failed ids, rate limits waited out, reruns idle."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from forgea_cli.github.gateway import HookTarget
from forgea_cli.github.pygithub_gateway import PyGithubGateway
from forgea_cli.services.webhooks import redeliver_failed
from forgea_cli.testing.github_server import FakeGitHub
from tests.integration.mapping_support import add_session
from tests.integration.webhook_support import write_body

TOKEN = "ghp_fake_token_for_redeliver_tests"
HOOK = "repo:forgea-labs/webhooks-home"
HOOK_ID = 42
TARGET = HookTarget("repo", "forgea-labs/webhooks-home")
NOW = datetime.now(UTC)


@pytest.fixture
def fake():
    with FakeGitHub(token=TOKEN) as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def gateway(fake, sleeps):
    with PyGithubGateway(fake.url, TOKEN, sleep=sleeps.append, max_wait_seconds=3700) as gateway:
        yield gateway


def _history(fake: FakeGitHub) -> dict[str, list[str]]:
    """150 successful deliveries (166 attempts: two pages), and the ones that matter, by kind."""
    kinds: dict[str, list[str]] = {"failed": [], "recovered": [], "old": [], "replayed": []}
    for i in range(150):
        fake.add_hook_delivery(HOOK, HOOK_ID, delivered_at=NOW - timedelta(minutes=i))
    for i in range(5):  # failed twice, never succeeded: the ones to redeliver
        guid = f"failed-{i}"
        for attempt in range(2):
            fake.add_hook_delivery(
                HOOK,
                HOOK_ID,
                guid=guid,
                status_code=503,
                delivered_at=NOW - timedelta(hours=2 + i, minutes=attempt),
            )
        kinds["failed"].append(guid)
    for i in range(2):  # failed, then a manual redelivery succeeded
        guid = f"recovered-{i}"
        fake.add_hook_delivery(
            HOOK, HOOK_ID, guid=guid, status_code=500, delivered_at=NOW - timedelta(hours=3)
        )
        fake.add_hook_delivery(
            HOOK, HOOK_ID, guid=guid, redelivery=True, delivered_at=NOW - timedelta(hours=1)
        )
        kinds["recovered"].append(guid)
    fake.add_hook_delivery(HOOK, HOOK_ID, guid="old-0", status_code=0, delivered_at=NOW - timedelta(hours=30))
    kinds["old"].append("old-0")
    fake.add_hook_delivery(
        HOOK, HOOK_ID, guid="replayed-0", status_code=502, delivered_at=NOW - timedelta(hours=4)
    )
    kinds["replayed"].append("replayed-0")
    return kinds


def _replay_into_ledger(forgea, url, tmp_path, guid: str) -> None:
    path = write_body(tmp_path, {"zen": "Approachable is better than simple.", "hook_id": HOOK_ID})
    result = forgea("webhook", "replay", str(path), "--event", "ping", "--delivery-id", guid, url=url)
    assert result.exit_code == 0, result.output


def _redelivered_ids(fake: FakeGitHub) -> list[int]:
    return [d.redelivers for d in fake.hook_deliveries(HOOK, HOOK_ID) if d.redelivers is not None]


def test_only_failed_ids_are_redelivered_a_rate_limit_is_waited_out_and_a_rerun_does_nothing(
    forgea, migrated_db, uow_for, fake, gateway, sleeps, tmp_path
):
    kinds = _history(fake)
    _replay_into_ledger(forgea, migrated_db, tmp_path, "replayed-0")
    latest = {d.guid: d.id for d in reversed(fake.hook_deliveries(HOOK, HOOK_ID))}  # newest wins
    fake.primary_rate_limit_next("list_hook_deliveries", reset_in=30, after=1)  # on the second page
    pacing: list[float] = []

    report = redeliver_failed(
        uow_for(migrated_db), gateway, target=TARGET, hook_id=HOOK_ID, since=timedelta(hours=24),
        pause_seconds=0.5, sleep=pacing.append,
    )  # fmt: skip

    document = report.to_json()
    assert document["redelivered"] == 5 and document["failed"] == 0
    assert document["inLedger"] == 1 and document["succeeded"] == 152
    assert sorted(_redelivered_ids(fake)) == sorted(latest[g] for g in kinds["failed"])
    assert fake.request_count("list_hook_deliveries") == 2 + 1  # two pages, one rate-limited retry
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 35  # until the reset GitHub named
    assert pacing == [0.5] * 4  # one request at a time, paced

    rerun = redeliver_failed(
        uow_for(migrated_db),
        gateway,
        target=TARGET,
        hook_id=HOOK_ID,
        since=timedelta(hours=24),
        sleep=pacing.append,
    )
    assert rerun.to_json()["redelivered"] == 0 and rerun.to_json()["wouldRedeliver"] == 0
    assert len(_redelivered_ids(fake)) == 5


def test_a_dry_run_lists_and_redelivers_nothing(migrated_db, uow_for, fake, gateway):
    _history(fake)
    report = redeliver_failed(
        uow_for(migrated_db), gateway, target=TARGET, hook_id=HOOK_ID, since=timedelta(hours=48), dry_run=True
    )
    document = report.to_json()
    # Within 48 hours the old one counts too; the replayed one is not in the ledger here.
    assert document["wouldRedeliver"] == 7 and document["redelivered"] == 0
    assert fake.request_count("redeliver_hook_delivery") == 0


def test_org_hooks_and_a_refused_redelivery_through_the_cli(forgea, migrated_db, fake, tmp_path):
    hook = "org:forgea-labs"
    for i in range(3):
        fake.add_hook_delivery(
            hook, 7, guid=f"org-failed-{i}", status_code=504, delivered_at=NOW - timedelta(hours=i)
        )
    fake.fail_next("redeliver_hook_delivery", status=422)
    env = {"FORGEA_GITHUB_API_URL": fake.url, "FORGEA_GITHUB_TOKEN": TOKEN}

    dry = forgea("webhook", "redeliver", "--org", "forgea-labs", "--hook-id", "7", "--dry-run", "--json",
                 url=migrated_db, env=env)  # fmt: skip
    real = forgea("webhook", "redeliver", "--org", "forgea-labs", "--hook-id", "7", "--since", "24h",
                  "--pause", "0", "--json", url=migrated_db, env=env)  # fmt: skip

    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["wouldRedeliver"] == 3
    assert real.exit_code == 5, real.output
    document = json.loads(real.stdout)
    assert (document["redelivered"], document["failed"]) == (2, 1)
    refused = next(g for g in document["groups"] if g["verdict"] == "failed")
    assert "HTTP 422" in refused["error"]
    assert TOKEN not in real.output


def test_redeliver_needs_exactly_one_hook_owner(forgea, migrated_db):
    both = forgea("webhook", "redeliver", "--org", "o", "--repo", "o/r", "--hook-id", "1", url=migrated_db)
    bad = forgea("webhook", "redeliver", "--repo", "not-a-repo", "--hook-id", "1", url=migrated_db)
    assert both.exit_code == 2 and bad.exit_code == 2


def test_the_gateway_gets_a_delivery_object_that_replay_reads(
    migrated_db, engine_for, fake, gateway, tmp_path
):
    from forgea_cli.services.webhooks import read_saved

    with engine_for(migrated_db).begin() as connection:
        add_session(connection, "https://github.com/forgea-labs/webhooks-home")
    payload = {
        "ref": "refs/heads/main",
        "after": "b" * 40,
        "repository": {"id": 5, "html_url": "https://github.com/x/y"},
    }
    attempt = fake.add_hook_delivery(HOOK, HOOK_ID, guid="to-save", payload=payload, status_code=500)

    document = gateway.get_hook_delivery(TARGET, HOOK_ID, attempt.id)

    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(document))
    delivery = read_saved(saved)
    assert (delivery.delivery_id, delivery.event, delivery.hook_id) == ("to-save", "push", HOOK_ID)
    assert delivery.payload == payload
