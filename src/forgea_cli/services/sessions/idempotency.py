"""Idempotency keys of session creation (pure): the request fingerprint, the key names, the lease.

DESIGN §5, after brandur's rocket-rides-atomic: a key remembers one creation request (by the hash
of its normalised parameters), how far it got (the recovery point) and, once finished, its result.

`lease_is_live`, `is_stuck`, `is_abandoned` and `is_retired` are the Python twins of the SQL
predicates in `forgea_cli.db.idempotency_keys` (LEASE_FREE_SQL, STUCK_SQL, ABANDONED_SQL,
RETIRED_SQL): a key a query calls stuck is the key `keys list` shows as stuck.

A key is a name for one request, but a typo must not hold that name forever: a key that was
abandoned, or that failed having created nothing, is *superseded* by a new request for the same
student and lab version (`supersedes`). The old row is retired — renamed (`retired_name`), its
error and history kept — and the new request takes the name, in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from forgea_cli.errors import InvalidInput

# A run holds a key for this long after its last step; a rerun may take it over afterwards.
LEASE_SECONDS = 90.0
MAX_KEY_LENGTH = 200
_KEY_TEXT = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no blanks: safe in a shell and a table


class RecoveryPoint(StrEnum):
    STARTED = "STARTED"
    REPO_CREATED = "REPO_CREATED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"


UNFINISHED = (RecoveryPoint.STARTED, RecoveryPoint.REPO_CREATED)


class ErrorCode(StrEnum):
    """Why a key is FAILED (IdempotencyKey.errorCode)."""

    GITHUB_NOT_FOUND = "GITHUB_NOT_FOUND"  # the template (or the org) is not visible to the token
    GITHUB_AUTH_FAILED = "GITHUB_AUTH_FAILED"
    GITHUB_REFUSED = "GITHUB_REFUSED"
    REPO_NAME_CONFLICT = "REPO_NAME_CONFLICT"  # our deterministic name is held by an unrelated repo
    FORK_NOT_FOUND = "FORK_NOT_FOUND"  # --fork-url names no visible repository
    REPO_ALREADY_MAPPED = "REPO_ALREADY_MAPPED"  # --fork-url repo already belongs to a session
    ACTIVE_SESSION_EXISTS = "ACTIVE_SESSION_EXISTS"
    REPO_CLEANUP_PENDING = "REPO_CLEANUP_PENDING"  # a repo we created could not be deleted
    ABANDONED = "ABANDONED"


@dataclass(frozen=True)
class CreateRequest:
    """The normalised request a key stands for; equal requests hash equally."""

    user_id: uuid.UUID
    lab_id: uuid.UUID
    lab_version_id: uuid.UUID
    fork_url: str | None  # canonical URL (no credentials), or None to generate from the template

    def params(self) -> dict[str, Any]:
        return {
            "userId": str(self.user_id),
            "labId": str(self.lab_id),
            "labVersionId": str(self.lab_version_id),
            "forkUrl": self.fork_url,
        }

    def request_hash(self) -> str:
        canonical = json.dumps(self.params(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> CreateRequest:
        return cls(
            user_id=uuid.UUID(params["userId"]),
            lab_id=uuid.UUID(params["labId"]),
            lab_version_id=uuid.UUID(params["labVersionId"]),
            fork_url=params.get("forkUrl"),
        )


def default_key(user_id: uuid.UUID, lab_version_id: uuid.UUID) -> str:
    """One key per (student, lab version): the same command run twice is a replay, not a second repo.

    Roster rows use the same key, so a roster rerun (in any order) and a single `session create`
    for a student already on the roster replay each other.
    """
    return f"create:{user_id}:{lab_version_id}"


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not _KEY_TEXT.fullmatch(key):
        raise InvalidInput(
            f"invalid idempotency key: use 1 to {MAX_KEY_LENGTH} printable characters without blanks"
        )
    return key


def is_abandoned(error_code: str | None, result: dict[str, Any] | None) -> bool:
    """Abandoned keys stay failed; other failed keys may be run again (same planned id and name).

    SQL: ABANDONED_SQL (a creation's lease take-over refuses an abandoned key in its WHERE clause)."""
    original = ((result or {}).get("error") or {}).get("code")
    return ErrorCode.ABANDONED in (error_code, original)


def is_retired(result: dict[str, Any] | None) -> bool:
    """Superseded by a newer request under the same name (SQL: RETIRED_SQL); kept for the record."""
    return bool((result or {}).get("retired"))


def retired_name(key: str, key_id: uuid.UUID) -> str:
    """The name a retired key keeps (unique: it carries the row's id; still a valid key to show)."""
    return f"{key}~retired~{key_id}"


def left_nothing(row: Any) -> bool:
    """A failed key that holds no repository and no session: retrying it or replacing it is free."""
    return (
        row.recovery_point == RecoveryPoint.FAILED
        and row.provider_repo_id is None
        and row.lab_session_id is None
        and row.error_code != ErrorCode.REPO_CLEANUP_PENDING
    )


def supersedes(row: Any, request: CreateRequest) -> bool:
    """Does ``request`` retire the key ``row`` and take its name?

    Only a closed key of the same student and lab version: abandoned (whatever its request was —
    the operator gave it up), or failed having created nothing and asked for something else (a
    corrected --fork-url, say). The same request on such a failed key is no new request: it retries
    the key in place (same planned id). Unfinished and finished keys are never superseded, nor a key
    of another student (an explicit --idempotency-key used twice is a mistake worth refusing).
    """
    if row.recovery_point != RecoveryPoint.FAILED or is_retired(row.result):
        return False
    params = row.request_params or {}
    same_student = params.get("userId") == str(request.user_id)
    if not same_student or params.get("labVersionId") != str(request.lab_version_id):
        return False
    if is_abandoned(row.error_code, row.result):
        return True
    return row.request_hash != request.request_hash() and left_nothing(row)


def lease_is_live(locked_at: datetime | None, now: datetime, lease_seconds: float) -> bool:
    """A run holds the key: its last step (lockedAt) is within the lease (SQL: NOT LEASE_FREE_SQL)."""
    return locked_at is not None and locked_at >= now - timedelta(seconds=lease_seconds)


def is_stuck(row: Any, now: datetime, lease_seconds: float) -> bool:
    """Unfinished and held by no run, so a rerun may take it over now (SQL: STUCK_SQL).

    ``row`` is a key row (`recovery_point`, `locked_at`); ``now`` is the database's clock."""
    return row.recovery_point in UNFINISHED and not lease_is_live(row.locked_at, now, lease_seconds)
