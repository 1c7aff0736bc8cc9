"""Helpers for the webhook tests: corpus payloads (read from ../shared/corpus at test time), signing,
delivery files, and what a delivery left in the database."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from tests.conftest import corpus_dir

WEBHOOKS = corpus_dir() / "webhooks"
CORPUS_WEBHOOKS = sorted(WEBHOOKS.glob("*/*.json")) if WEBHOOKS.is_dir() else []
SECRET = "forgea-test-webhook-secret-3f9c"


def corpus_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def event_of(path: Path) -> str:
    """The corpus keeps payloads in one folder per X-GitHub-Event."""
    return path.parent.name


def load(relative: str) -> dict[str, Any]:
    return json.loads((WEBHOOKS / relative).read_text(encoding="utf-8"))


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def write_body(directory: Path, payload: dict[str, Any], name: str | None = None) -> Path:
    path = directory / (name or f"{uuid.uuid4().hex}.json")
    path.write_bytes(json.dumps(payload).encode())
    return path


def delivery_object(payload: dict[str, Any], *, event: str, guid: str, body: bytes | None = None) -> dict:
    """GitHub's delivery object around a payload (shape of hook-deliveries-get.200.openapi.json)."""
    body = body if body is not None else json.dumps(payload).encode()
    return {
        "id": 12345678,
        "guid": guid,
        "delivered_at": "2026-11-30T10:00:00Z",
        "redelivery": False,
        "duration": 0.27,
        "status": "Invalid HTTP Response: 503",
        "status_code": 503,
        "event": event,
        "action": payload.get("action"),
        "installation_id": None,
        "repository_id": (payload.get("repository") or {}).get("id"),
        "url": "https://forgea.example/api/webhooks/github",
        "request": {
            "headers": {
                "X-GitHub-Delivery": guid,
                "X-Hub-Signature-256": sign(body),
                "Accept": "*/*",
                "X-GitHub-Hook-ID": "42",
                "User-Agent": "GitHub-Hookshot/b8c71d8",
                "X-GitHub-Event": event,
                "content-type": "application/json",
            },
            "payload": copy.deepcopy(payload),
        },
        "response": {"headers": {}, "payload": "Processing failed"},
    }


def moved(payload: dict[str, Any], *, owner: str, name: str) -> dict[str, Any]:
    """The payload with its repository at owner/name (ids unchanged)."""
    changed = copy.deepcopy(payload)
    repository = changed["repository"]
    repository["name"], repository["full_name"] = name, f"{owner}/{name}"
    repository["owner"]["login"] = owner
    repository["html_url"] = f"https://github.com/{owner}/{name}"
    return changed


def counts(engine: Engine) -> dict[str, Any]:
    """Everything a delivery may change, for before/after comparisons."""
    with engine.connect() as connection:
        return {
            "audit": connection.execute(text('SELECT count(*) FROM "AuditLog"')).scalar(),
            "ledger": connection.execute(text('SELECT count(*) FROM "WebhookDelivery"')).scalar(),
            "sessions": sorted(
                tuple(map(str, row))
                for row in connection.execute(text('SELECT id, status, "lastActivityAt" FROM "LabSession"'))
            ),
            "mappings": sorted(
                tuple(map(str, row))
                for row in connection.execute(
                    text(
                        'SELECT id, "providerRepoId", "canonicalUrl", resolution, source, "updatedAt" '
                        'FROM "GitHubRepoMapping"'
                    )
                )
            ),
        }


def audit_rows(engine: Engine, session_id: uuid.UUID) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                'SELECT action, "actorId", "userId", metadata FROM "AuditLog" '
                "WHERE metadata->>'labSessionId' = :id ORDER BY action"
            ),
            {"id": str(session_id)},
        ).mappings()
        return [dict(row) for row in rows]


def session_row(engine: Engine, session_id: uuid.UUID) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(
            text('SELECT status, "lastActivityAt" FROM "LabSession" WHERE id = :id'), {"id": session_id}
        ).mappings()
        return dict(row.one())
