"""X-Hub-Signature-256 checks and saved-delivery parsing (no database)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from forgea_cli.errors import InvalidInput
from forgea_cli.services.webhooks import SignatureRefused, SignatureStatus, check_signature, read_saved
from forgea_cli.services.webhooks.signatures import WebhookSecret, secret_from_env

SECRET = "unit-test-secret-9d1e"
BODY = b'{"zen":"Non-blocking is better than blocking.","hook_id":7}'


def _saved(tmp_path, body: bytes = BODY, signature: str | None = None):
    path = tmp_path / "body.json"
    path.write_bytes(body)
    return read_saved(path, event="ping", delivery_id="d-1", signature=signature)


def _sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_a_matching_signature_is_verified_and_no_secret_means_not_checked(tmp_path):
    secret = WebhookSecret("HOOK", SECRET.encode())
    assert check_signature(_saved(tmp_path, signature=_sign(BODY)), secret) is SignatureStatus.VERIFIED
    assert check_signature(_saved(tmp_path), None) is SignatureStatus.NOT_CHECKED


@pytest.mark.parametrize(
    "signature", [None, "", "sha1=abc", "sha256=" + "0" * 63, "sha256=" + "0" * 64, _sign(BODY + b" ")]
)
def test_missing_malformed_and_wrong_signatures_are_refused(tmp_path, signature):
    with pytest.raises(SignatureRefused) as refusal:
        check_signature(_saved(tmp_path, signature=signature), WebhookSecret("HOOK", SECRET.encode()))
    assert SECRET not in str(refusal.value) and SECRET not in repr(refusal.value)


def test_the_secret_is_read_by_name_and_kept_out_of_repr(monkeypatch):
    monkeypatch.setenv("HOOK_SECRET_UNIT", SECRET)
    secret = secret_from_env("HOOK_SECRET_UNIT")
    assert SECRET not in repr(secret) and "HOOK_SECRET_UNIT" in repr(secret)
    monkeypatch.delenv("HOOK_SECRET_UNIT")
    with pytest.raises(InvalidInput):
        secret_from_env("HOOK_SECRET_UNIT")


def test_a_delivery_object_is_refused_when_asked_to_verify(tmp_path):
    document = {
        "guid": "g-9",
        "event": "ping",
        "request": {"headers": {"X-Hub-Signature-256": _sign(BODY)}, "payload": json.loads(BODY)},
    }
    path = tmp_path / "object.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SignatureRefused, match="byte for byte"):
        check_signature(read_saved(path), WebhookSecret("HOOK", SECRET.encode()))


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]", b'"text"'])
def test_a_file_that_is_not_a_payload_is_bad_input(tmp_path, content):
    with pytest.raises(InvalidInput):
        _saved(tmp_path, body=content)


def test_flags_that_contradict_a_delivery_object_are_bad_input(tmp_path):
    path = tmp_path / "object.json"
    path.write_text(json.dumps({"guid": "g-1", "event": "ping", "request": {"headers": {}, "payload": {}}}))
    with pytest.raises(InvalidInput, match="contradicts"):
        read_saved(path, delivery_id="g-2")
