"""`forgea session create`: one student or a roster, idempotent, never leaving an orphan repository."""

from __future__ import annotations

from forgea_cli.cli.session_cmd import app  # noqa: F401  (commands register on the session group)
