"""`forgea repo`: reconcile repositories in the org with sessions."""

from __future__ import annotations

import typer

app = typer.Typer(help="Repositories in the GitHub org vs sessions.", no_args_is_help=True)
