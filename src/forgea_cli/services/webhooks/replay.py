"""`forgea webhook replay FILE…`: read every file, check every signature, then apply each delivery.

Nothing is written unless every file parses and every signature asked for checks out: a refused
file (exit 4) or a bad one (exit 2) stops the run before the database is touched. Each delivery is
then applied in its own transaction (``apply.apply_delivery``); a conflict on one (a concurrent
update of its session, a renamed repository onto a mapped URL) is reported on that delivery, writes
nothing for it, and the others go on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forgea_cli.db.uow import UnitOfWorkFactory
from forgea_cli.errors import Conflict, InvalidInput
from forgea_cli.services.webhooks.apply import DeliveryResult, apply_delivery
from forgea_cli.services.webhooks.ledger import require_ledger
from forgea_cli.services.webhooks.saved import read_saved
from forgea_cli.services.webhooks.signatures import check_signature, secret_from_env
from forgea_cli.urls import DEFAULT_WEB_HOST


@dataclass(frozen=True)
class ReplayRequest:
    files: Sequence[Path]
    actor_id: str
    event: str | None = None
    delivery_id: str | None = None
    signature: str | None = None
    secret_env: str | None = None
    dry_run: bool = False
    web_host: str = DEFAULT_WEB_HOST


@dataclass
class ReplayReport:
    dry_run: bool
    results: list[DeliveryResult] = field(default_factory=list)

    @property
    def failed(self) -> list[DeliveryResult]:
        return [r for r in self.results if r.error is not None]

    def to_json(self) -> dict[str, Any]:
        outcomes = Counter(r.outcome for r in self.results if r.applied)
        return {
            "dryRun": self.dry_run,
            "deliveries": [r.to_json() for r in self.results],
            "applied": sum(1 for r in self.results if r.applied),
            "duplicates": sum(1 for r in self.results if r.duplicate),
            "failed": len(self.failed),
            "outcomes": dict(sorted(outcomes.items())),
        }


def replay_files(uow: UnitOfWorkFactory, request: ReplayRequest) -> ReplayReport:
    if not request.files:
        raise InvalidInput("give at least one FILE")
    if len(request.files) > 1 and (request.delivery_id is not None or request.signature is not None):
        raise InvalidInput(
            "--delivery-id and --signature belong to one delivery: give a single FILE with them"
        )
    secret = secret_from_env(request.secret_env) if request.secret_env else None
    deliveries = [
        read_saved(path, event=request.event, delivery_id=request.delivery_id, signature=request.signature)
        for path in request.files
    ]
    checked = [(delivery, check_signature(delivery, secret)) for delivery in deliveries]
    with uow(read_only=True) as work:
        require_ledger(work)
    report = ReplayReport(request.dry_run)
    for delivery, signature in checked:
        try:
            result = apply_delivery(
                uow,
                delivery,
                signature=signature,
                actor_id=request.actor_id,
                web_host=request.web_host,
                dry_run=request.dry_run,
            )
        except Conflict as refusal:
            result = DeliveryResult.of(delivery, signature, dry_run=request.dry_run, error=refusal.message)
        report.results.append(result)
    return report
