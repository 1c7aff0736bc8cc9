"""X-Hub-Signature-256: HMAC-SHA256 of the raw body, compared in constant time (standard library only).

The secret is read from the environment variable the operator names and lives only in local
variables here: it is never put in a message, an exception, a log record or the ledger.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from enum import StrEnum

from forgea_cli.errors import Conflict, InvalidInput
from forgea_cli.services.webhooks.saved import SavedDelivery, SavedForm

PREFIX = "sha256="


class SignatureStatus(StrEnum):
    VERIFIED = "verified"
    NOT_CHECKED = "not checked"  # no --secret-env


class SignatureRefused(Conflict):
    """The file is refused (exit 4): its signature is missing, malformed, wrong, or cannot be checked."""


@dataclass(frozen=True)
class WebhookSecret:
    """The secret's bytes, kept out of repr() so a traceback with locals cannot print it."""

    env_name: str
    _value: bytes

    def __repr__(self) -> str:
        return f"WebhookSecret(env_name={self.env_name!r})"

    def sign(self, body: bytes) -> str:
        return PREFIX + hmac.new(self._value, body, hashlib.sha256).hexdigest()


def secret_from_env(env_name: str) -> WebhookSecret:
    value = os.environ.get(env_name, "")
    if not value:
        raise InvalidInput(f"--secret-env {env_name}: that environment variable is not set or empty")
    return WebhookSecret(env_name, value.encode("utf-8"))


def check_signature(delivery: SavedDelivery, secret: WebhookSecret | None) -> SignatureStatus:
    """VERIFIED, NOT_CHECKED without a secret, or SignatureRefused naming the file and why."""
    if secret is None:
        return SignatureStatus.NOT_CHECKED
    where = f"{delivery.source} (delivery {delivery.delivery_id})"
    if delivery.form is SavedForm.DELIVERY_OBJECT or delivery.body is None:
        raise SignatureRefused(
            f"{where}: a delivery object's payload is GitHub's parsed copy, not the bytes it signed, so "
            "X-Hub-Signature-256 cannot be checked byte for byte; refused with --secret-env",
            hint="replay delivery objects you fetched from GitHub's API yourself without --secret-env "
            "(the API call is their authentication), or replay the raw body the web app received",
        )
    given = (delivery.signature or "").strip()
    if not given:
        raise SignatureRefused(
            f"{where}: no X-Hub-Signature-256 to check (give --signature sha256=…); refused"
        )
    if not given.startswith(PREFIX) or len(given) != len(PREFIX) + 64:
        raise SignatureRefused(f"{where}: X-Hub-Signature-256 is not of the form sha256=<64 hex digits>")
    expected = secret.sign(delivery.body)
    if not hmac.compare_digest(expected.encode("ascii"), given.lower().encode("ascii", "replace")):
        raise SignatureRefused(
            f"{where}: X-Hub-Signature-256 does not match the HMAC of the body with the secret in "
            f"${secret.env_name}: the body was changed after signing, or the secret is not this hook's; "
            "refused, nothing written"
        )
    return SignatureStatus.VERIFIED
