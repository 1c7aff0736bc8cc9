"""Saved deliveries: what `webhook replay` reads from a file (standard library only).

Two forms are accepted:

- the **raw body** as the web app received it (the bytes GitHub signed); its headers are given on the
  command line (``--event``, ``--delivery-id``, ``--signature``);
- GitHub's **delivery object**, as ``GET …/hooks/{hook_id}/deliveries/{id}`` returns it: ``guid``,
  ``event``, ``action``, ``request.headers`` (X-GitHub-Delivery, X-GitHub-Event, X-Hub-Signature-256,
  X-GitHub-Hook-ID) and ``request.payload`` — the payload *parsed*. The bytes GitHub signed are gone
  (key order, spacing and escapes are not kept), so its signature cannot be checked byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from forgea_cli.errors import InvalidInput

# X-GitHub-Delivery is a GUID; keep the ledger key to something of that shape and size.
MAX_DELIVERY_ID = 200


class SavedForm(StrEnum):
    RAW_BODY = "raw body"
    DELIVERY_OBJECT = "delivery object"


@dataclass(frozen=True)
class SavedDelivery:
    source: str  # the file it came from
    form: SavedForm
    delivery_id: str
    event: str
    payload: dict[str, Any]
    body: bytes | None  # the signed bytes: raw bodies only
    signature: str | None  # X-Hub-Signature-256 as given
    hook_id: int | None = None
    delivered_at: datetime | None = None

    @property
    def action(self) -> str | None:
        action = self.payload.get("action")
        return action if isinstance(action, str) else None

    @property
    def payload_sha256(self) -> str:
        """Of the payload's canonical JSON (sorted keys, no spaces), so the two forms of one delivery
        compare equal; the raw bytes would differ from a delivery object's parsed payload."""
        canonical = json.dumps(self.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_saved(
    path: Path,
    *,
    event: str | None = None,
    delivery_id: str | None = None,
    signature: str | None = None,
) -> SavedDelivery:
    """Parse one file; bad input is InvalidInput (exit 2) naming the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise InvalidInput(f"{path}: a webhook payload is a JSON object, not {type(document).__name__}")
    if is_delivery_object(document):
        return _from_delivery_object(path, document, event, delivery_id, signature)
    return _from_raw_body(path, raw, document, event, delivery_id, signature)


def is_delivery_object(document: dict[str, Any]) -> bool:
    request = document.get("request")
    return (
        isinstance(document.get("guid"), str)
        and isinstance(request, dict)
        and isinstance(request.get("headers"), dict)
        and "payload" in request
    )


def _from_raw_body(
    path: Path,
    raw: bytes,
    payload: dict[str, Any],
    event: str | None,
    delivery_id: str | None,
    signature: str | None,
) -> SavedDelivery:
    if event is None:
        raise InvalidInput(
            f"{path}: a raw body does not say its event: give --event (X-GitHub-Event, e.g. push)"
        )
    if delivery_id is None:
        raise InvalidInput(
            f"{path}: a raw body does not carry its delivery id: give --delivery-id (X-GitHub-Delivery)"
        )
    return SavedDelivery(
        source=str(path),
        form=SavedForm.RAW_BODY,
        delivery_id=_delivery_id(path, delivery_id),
        event=_event(path, event),
        payload=payload,
        body=raw,
        signature=signature,
    )


def _from_delivery_object(
    path: Path,
    document: dict[str, Any],
    event: str | None,
    delivery_id: str | None,
    signature: str | None,
) -> SavedDelivery:
    request = document["request"]
    headers = {str(k).lower(): v for k, v in request["headers"].items()}
    payload = request["payload"]
    if isinstance(payload, str):  # some exports keep the payload as a string: it is still re-encoded
        try:
            payload = json.loads(payload)
        except ValueError:
            raise InvalidInput(f"{path}: request.payload is not JSON") from None
    if not isinstance(payload, dict):
        raise InvalidInput(f"{path}: request.payload of a delivery object is a JSON object")
    found_event = headers.get("x-github-event") or document.get("event")
    found_id = headers.get("x-github-delivery") or document.get("guid")
    for flag, given, found in (("--event", event, found_event), ("--delivery-id", delivery_id, found_id)):
        if given is not None and found is not None and given != found:
            raise InvalidInput(f"{path}: {flag} {given!r} contradicts the delivery object's {found!r}")
    return SavedDelivery(
        source=str(path),
        form=SavedForm.DELIVERY_OBJECT,
        delivery_id=_delivery_id(path, str(found_id or delivery_id or "")),
        event=_event(path, str(found_event or event or "")),
        payload=payload,
        body=None,
        signature=signature or headers.get("x-hub-signature-256"),
        hook_id=_int_or_none(headers.get("x-github-hook-id")),
        delivered_at=_timestamp(document.get("delivered_at")),
    )


def _delivery_id(path: Path, value: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_DELIVERY_ID or any(c.isspace() for c in value):
        raise InvalidInput(f"{path}: {value[:40]!r} is not a delivery id (X-GitHub-Delivery)")
    return value


def _event(path: Path, value: str) -> str:
    value = value.strip()
    if not value or not value.replace("_", "").isalnum():
        raise InvalidInput(f"{path}: {value[:40]!r} is not a GitHub event name (X-GitHub-Event)")
    return value


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # The ledger's timestamps are TIMESTAMP(3) without time zone, in UTC like the web app's.
    return stamp if stamp.tzinfo is None else stamp.astimezone(UTC).replace(tzinfo=None)
