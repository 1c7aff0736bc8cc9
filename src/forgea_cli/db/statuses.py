"""The lifecycle's status sets as SQL, derived from `forgea_cli.lifecycle` (migrations keep frozen text)."""

from __future__ import annotations

from forgea_cli.lifecycle import ACTIVE, Status

ACTIVE_STATUSES: tuple[str, ...] = tuple(str(s) for s in Status if s in ACTIVE)  # declaration order
# For `status IN ${ACTIVE_SQL}`: ('IN_PROGRESS', 'STUCK')
ACTIVE_SQL = "(" + ", ".join(f"'{s}'" for s in ACTIVE_STATUSES) + ")"
