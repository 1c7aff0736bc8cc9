"""`forgea mapping`: canonical repo URLs, the repo-mapping backfill, id resolution, the webhook lookup."""

from __future__ import annotations

import typer
from forgea_cli.cli.groups import command_group

app = command_group("mapping")
