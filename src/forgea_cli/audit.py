"""Audit rules (pure): the closed set of actions and the shape of AuditLog metadata."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from forgea_cli.errors import InvalidInput
from forgea_cli.redaction import scrub_metadata

MAX_METADATA_BYTES = 12 * 1024


class AuditAction(StrEnum):
    USER_LOGIN = "USER_LOGIN"
    USER_REGISTER = "USER_REGISTER"
    LAB_START = "LAB_START"
    LAB_VERIFY_ATTEMPT = "LAB_VERIFY_ATTEMPT"
    LAB_VERIFY_SUCCESS = "LAB_VERIFY_SUCCESS"
    LAB_VERIFY_FAIL = "LAB_VERIFY_FAIL"
    LAB_STATUS_TRANSITION = "LAB_STATUS_TRANSITION"
    RESUME_GENERATED = "RESUME_GENERATED"
    SUBSCRIPTION_UPDATE = "SUBSCRIPTION_UPDATE"
    ADMIN_OVERRIDE = "ADMIN_OVERRIDE"


class ActorType(StrEnum):
    USER = "USER"
    ADMIN = "ADMIN"
    SYSTEM = "SYSTEM"


def build_metadata(actor_type: ActorType = ActorType.ADMIN, **fields: Any) -> dict[str, Any]:
    """Legacy metadata shape: actorType, labId, labSessionId, fromStatus, toStatus, statusChanged, reason.

    Secret-looking keys are dropped; the document must stay under 12 KiB (long reasons are cut).
    """
    document = {"actorType": str(actor_type), **{k: _jsonable(v) for k, v in fields.items() if v is not None}}
    document = scrub_metadata(document)
    assert isinstance(document, dict)
    if _size(document) > MAX_METADATA_BYTES and isinstance(document.get("reason"), str):
        overflow = _size(document) - MAX_METADATA_BYTES
        document["reason"] = document["reason"][: max(0, len(document["reason"]) - overflow - 16)] + "…"
    if _size(document) > MAX_METADATA_BYTES:
        raise InvalidInput(f"audit metadata would exceed {MAX_METADATA_BYTES} bytes")
    return document


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return str(value)


def _size(document: dict[str, Any]) -> int:
    return len(json.dumps(document, ensure_ascii=False).encode())
