"""`forgea mapping`: canonical repo URLs, the repo-mapping backfill, id resolution, the webhook lookup."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="GitHub repo mapping: canonicalize, backfill, resolve ids, look up.", no_args_is_help=True
)
