"""`forgea session`: show, list and transition lab sessions (create lives in session_create_cmd)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Create, inspect and transition lab sessions.", no_args_is_help=True)
