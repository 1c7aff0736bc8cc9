"""`forgea lab list`: every lab with its id, title and current version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from forgea_cli.db import labs as labs_db
from forgea_cli.db.labs import LabListing
from forgea_cli.db.uow import UnitOfWorkFactory

BACKFILL_HINT = "forgea backfill lab-versions"


@dataclass(frozen=True)
class LabView:
    lab: LabListing

    @property
    def version_note(self) -> str:
        """The current version's LabVersion id, or what creates it."""
        if self.lab.lab_version_id is not None:
            return str(self.lab.lab_version_id)
        return f"none yet: `{BACKFILL_HINT}`"

    def to_json(self) -> dict[str, Any]:
        lab = self.lab
        return {
            "id": lab.id,
            "title": lab.title,
            "currentVersion": lab.current_version,
            "labVersionId": lab.lab_version_id,
            "versions": lab.versions,
        }


def list_labs(uow: UnitOfWorkFactory) -> list[LabView]:
    """Every lab by title (read-only; the primary or the replica, as the caller's factory reads)."""
    with uow(read_only=True) as work:
        return [LabView(lab) for lab in labs_db.list_labs(work.connection)]
