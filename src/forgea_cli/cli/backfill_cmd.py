"""`forgea backfill`: batched, resumable, idempotent data moves of the F6 rollout."""

from __future__ import annotations

import typer

app = typer.Typer(help="Batched, resumable, idempotent backfills of the F6 rollout.", no_args_is_help=True)
