"""Labs: what `session create --lab` takes. The verbs the CLI may call (imported on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from forgea_cli.services.lazy import lazy_exports

if TYPE_CHECKING:
    from forgea_cli.services.labs.listing import LabView, list_labs

_HOMES = {"LabView": "listing", "list_labs": "listing"}
__all__ = ["LabView", "list_labs"]
__getattr__ = lazy_exports(__name__, _HOMES)
