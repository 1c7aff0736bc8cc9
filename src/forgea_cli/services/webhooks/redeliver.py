"""`forgea webhook redeliver`: ask GitHub to redeliver what failed and nobody replayed (DESIGN §11).

GitHub never redelivers by itself and keeps deliveries for 3 days. This lists the hook's deliveries
through the REST API (every page, through the gateway, which waits out rate limits), groups the
attempts by delivery id (``guid`` = X-GitHub-Delivery, shared by an event's attempts), and for each
delivery with no successful attempt (``status`` "OK") inside the window asks GitHub to redeliver its
latest attempt — one request at a time, ``pause`` seconds apart (GitHub asks integrators to space
writes), with a per-delivery report.

A delivery whose id is in forgea's ledger is never redelivered: `webhook replay` applied it, and the
web app does not deduplicate, so a redelivery would apply it a second time. A redelivery GitHub
accepted (202) shows up as a new attempt; once that attempt succeeds, a later run finds the
delivery successful and leaves it alone.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from forgea_cli.db import webhook_queries as q
from forgea_cli.db.uow import UnitOfWorkFactory
from forgea_cli.errors import GitHubError, InvalidInput
from forgea_cli.github.gateway import GitHubGateway, HookDelivery, HookTarget
from forgea_cli.services.webhooks.ledger import require_ledger

RETENTION = timedelta(days=3)  # GitHub keeps a hook's deliveries this long
DEFAULT_PAUSE_SECONDS = 1.0
# The gateway the CLI builds waits this long for a rate limit (a primary limit resets within the hour).
MAX_RATE_LIMIT_WAIT_SECONDS = 3700.0


@dataclass
class DeliveryGroup:
    """The attempts of one delivery id inside the window, newest first."""

    guid: str
    attempts: list[HookDelivery]
    verdict: str = ""  # succeeded | in-ledger | redelivered | would-redeliver | failed
    error: str | None = None

    @property
    def latest(self) -> HookDelivery:
        return self.attempts[0]

    @property
    def succeeded(self) -> bool:
        return any(attempt.succeeded for attempt in self.attempts)

    def to_json(self) -> dict[str, Any]:
        latest = self.latest
        return {
            "guid": self.guid,
            "event": latest.event,
            "action": latest.action,
            "repositoryId": latest.repository_id,
            "attempts": len(self.attempts),
            "latestAttemptId": latest.id,
            "latestStatus": latest.status,
            "latestStatusCode": latest.status_code,
            "latestDeliveredAt": latest.delivered_at.isoformat(),
            "verdict": self.verdict,
            "error": self.error,
        }


@dataclass
class RedeliverReport:
    target: HookTarget
    hook_id: int
    since: datetime
    dry_run: bool
    attempts_listed: int = 0
    groups: list[DeliveryGroup] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(1 for group in self.groups if group.verdict == verdict)

    @property
    def failed(self) -> list[DeliveryGroup]:
        return [group for group in self.groups if group.verdict == "failed"]

    def to_json(self) -> dict[str, Any]:
        return {
            "target": {"kind": self.target.kind, "name": self.target.name},
            "hookId": self.hook_id,
            "since": self.since.isoformat(),
            "dryRun": self.dry_run,
            "attemptsListed": self.attempts_listed,
            "deliveries": len(self.groups),
            "succeeded": self.count("succeeded"),
            "inLedger": self.count("in-ledger"),
            "redelivered": self.count("redelivered"),
            "wouldRedeliver": self.count("would-redeliver"),
            "failed": self.count("failed"),
            "groups": [group.to_json() for group in self.groups if group.verdict != "succeeded"],
            "notes": self.notes,
        }


def redeliver_failed(
    uow: UnitOfWorkFactory,
    gateway: GitHubGateway,
    *,
    target: HookTarget,
    hook_id: int,
    since: timedelta = RETENTION,
    dry_run: bool = False,
    pause_seconds: float = DEFAULT_PAUSE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RedeliverReport:
    if hook_id < 1:
        raise InvalidInput(f"a hook id is a positive integer, not {hook_id}")
    if since <= timedelta(0):
        raise InvalidInput("--since must be a positive duration")
    with uow(read_only=True) as work:
        require_ledger(work)
    cutoff = now() - since
    report = RedeliverReport(target, hook_id, cutoff, dry_run)
    if since > RETENTION:
        report.notes.append("GitHub keeps deliveries 3 days: older ones cannot be listed or redelivered")
    attempts = [
        a for a in gateway.list_hook_deliveries(target, hook_id, since=cutoff) if a.delivered_at >= cutoff
    ]
    report.attempts_listed = len(attempts)
    report.groups = _groups(attempts)
    failed = [group for group in report.groups if not group.succeeded]
    with uow(read_only=True) as work:
        replayed = q.known_delivery_ids(work.connection, [group.guid for group in failed])
    for group in report.groups:
        group.verdict = "succeeded" if group.succeeded else ("in-ledger" if group.guid in replayed else "")
    sent = 0
    for group in (g for g in report.groups if not g.verdict):
        if dry_run:
            group.verdict = "would-redeliver"
            continue
        if sent and pause_seconds > 0:
            sleep(pause_seconds)
        sent += 1
        try:
            gateway.redeliver_hook_delivery(target, hook_id, group.latest.id)
        except GitHubError as refusal:  # reported per delivery; the others still go
            group.verdict, group.error = "failed", refusal.message
            continue
        group.verdict = "redelivered"
    return report


def _groups(attempts: list[HookDelivery]) -> list[DeliveryGroup]:
    by_guid: dict[str, list[HookDelivery]] = defaultdict(list)
    for attempt in attempts:
        by_guid[attempt.guid].append(attempt)
    groups = [
        DeliveryGroup(guid, sorted(found, key=lambda a: (a.delivered_at, a.id), reverse=True))
        for guid, found in by_guid.items()
    ]
    return sorted(groups, key=lambda g: (g.latest.delivered_at, g.latest.id))  # oldest first
