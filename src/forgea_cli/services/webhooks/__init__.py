"""Webhook deliveries: the verbs the CLI may call (DESIGN §11; docs/webhooks.md).

- ``replay_files`` (``ReplayRequest``) — `webhook replay`: saved deliveries (raw bodies or GitHub's
  delivery objects), signatures checked first (``--secret-env``), each applied at most once through
  the ledger, in its own transaction;
- ``apply_delivery`` — one delivery (what the replay and the benchmark call);
- ``list_deliveries`` — `webhook deliveries`: the ledger, read-only;
- ``redeliver_failed`` — `webhook redeliver`: failed deliveries of an org or repo hook redelivered by
  GitHub, through the gateway the CLI built and closes;
- ``read_saved`` / ``check_signature`` / ``secret_from_env`` — the pieces of the replay.

Each verb takes a unit-of-work factory (and redeliver a gateway), never an engine; each lives in a
module of its own, imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from forgea_cli.services.lazy import lazy_exports

if TYPE_CHECKING:
    from forgea_cli.services.webhooks.apply import DeliveryResult, apply_delivery
    from forgea_cli.services.webhooks.ledger import list_deliveries
    from forgea_cli.services.webhooks.redeliver import (
        DEFAULT_PAUSE_SECONDS,
        MAX_RATE_LIMIT_WAIT_SECONDS,
        RETENTION,
        RedeliverReport,
        redeliver_failed,
    )
    from forgea_cli.services.webhooks.replay import ReplayReport, ReplayRequest, replay_files
    from forgea_cli.services.webhooks.saved import SavedDelivery, SavedForm, read_saved
    from forgea_cli.services.webhooks.signatures import (
        SignatureRefused,
        SignatureStatus,
        check_signature,
        secret_from_env,
    )

# name -> the module of this package that defines it
_HOMES = {
    "DeliveryResult": "apply",
    "apply_delivery": "apply",
    "list_deliveries": "ledger",
    "DEFAULT_PAUSE_SECONDS": "redeliver",
    "MAX_RATE_LIMIT_WAIT_SECONDS": "redeliver",
    "RETENTION": "redeliver",
    "RedeliverReport": "redeliver",
    "redeliver_failed": "redeliver",
    "ReplayReport": "replay",
    "ReplayRequest": "replay",
    "replay_files": "replay",
    "SavedDelivery": "saved",
    "SavedForm": "saved",
    "read_saved": "saved",
    "SignatureRefused": "signatures",
    "SignatureStatus": "signatures",
    "check_signature": "signatures",
    "secret_from_env": "signatures",
}

__all__ = [
    "DEFAULT_PAUSE_SECONDS",
    "MAX_RATE_LIMIT_WAIT_SECONDS",
    "RETENTION",
    "DeliveryResult",
    "RedeliverReport",
    "ReplayReport",
    "ReplayRequest",
    "SavedDelivery",
    "SavedForm",
    "SignatureRefused",
    "SignatureStatus",
    "apply_delivery",
    "check_signature",
    "list_deliveries",
    "read_saved",
    "redeliver_failed",
    "replay_files",
    "secret_from_env",
]

__getattr__ = lazy_exports(__name__, _HOMES)
