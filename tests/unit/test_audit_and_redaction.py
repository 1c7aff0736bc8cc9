"""Secrets stay out of what the tool shows and what it writes to AuditLog."""

from __future__ import annotations

import json

import pytest

from forgea_cli.audit import MAX_METADATA_BYTES, ActorType, build_metadata
from forgea_cli.cli.errors import exit_code_for, message_for
from forgea_cli.errors import (
    ConcurrentUpdate,
    DatabaseUnreachable,
    GitHubError,
    InvalidInput,
    NotFound,
    OperationFailed,
)
from forgea_cli.redaction import is_secret_key, mask_url, mask_urls_in_text, scrub_metadata


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "Password",
        "token",
        "secret",
        "apiKey",
        "api_key",
        "API-KEY",
        "accessToken",
        "access_token",
        "refreshToken",
        "refresh-token",
        "idToken",
        "ID_TOKEN",
    ],
)
def test_secret_looking_keys_are_recognised_case_and_punctuation_insensitively(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["labId", "reason", "tokens_used", "secretary", "fromStatus"])
def test_ordinary_keys_are_kept(key):
    assert not is_secret_key(key)


def test_metadata_drops_secrets_at_any_depth_and_keeps_the_legacy_shape():
    metadata = build_metadata(
        ActorType.ADMIN,
        labId="l1",
        labSessionId="s1",
        reason="because",
        accessToken="ghp_live",
        nested={"api-key": "k", "keep": 1, "list": [{"password": "p", "ok": True}]},
    )
    assert metadata == {
        "actorType": "ADMIN",
        "labId": "l1",
        "labSessionId": "s1",
        "reason": "because",
        "nested": {"keep": 1, "list": [{"ok": True}]},
    }
    assert "ghp_live" not in json.dumps(metadata)


def test_metadata_stays_under_12_kib_by_cutting_the_reason():
    metadata = build_metadata(ActorType.ADMIN, labSessionId="s", reason="x" * 50_000)
    assert len(json.dumps(metadata, ensure_ascii=False).encode()) <= MAX_METADATA_BYTES
    assert metadata["reason"].endswith("…")


def test_metadata_that_cannot_be_cut_is_refused():
    with pytest.raises(InvalidInput):
        build_metadata(ActorType.ADMIN, notes=["y" * 20_000])


def test_scrub_metadata_leaves_scalars_alone():
    assert scrub_metadata("token") == "token"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://ops:hunter2@db:5432/forgea", "postgresql://ops:***@db:5432/forgea"),
        ("postgresql+psycopg://ops@/forgea?host=/tmp/x", "postgresql+psycopg://ops@/forgea?host=/tmp/x"),
        ("postgresql://db/forgea?user=ops&password=hunter2", "postgresql://db/forgea?user=ops&password=***"),
        ("host=db user=ops password=hunter2 dbname=forgea", "host=db user=ops password=*** dbname=forgea"),
    ],
)
def test_database_urls_are_masked(url, masked):
    assert mask_url(url) == masked


def test_urls_inside_messages_are_masked():
    text = "could not connect to postgresql://ops:hunter2@db/forgea (timeout)"
    assert mask_urls_in_text(text) == "could not connect to postgresql://ops:***@db/forgea (timeout)"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (OperationFailed("x"), 1),
        (InvalidInput("x"), 2),
        (NotFound("x"), 3),
        (ConcurrentUpdate("x"), 4),
        (GitHubError("x"), 5),
        (DatabaseUnreachable("x"), 6),
        (KeyboardInterrupt(), 130),
        (RuntimeError("boom"), 70),
    ],
)
def test_exit_code_table(error, code):
    assert exit_code_for(error) == code
    assert message_for(error)
