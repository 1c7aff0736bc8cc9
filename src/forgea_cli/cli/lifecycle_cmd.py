"""`forgea lifecycle`: the LabSession state machine, as a table, Mermaid or JSON."""

from __future__ import annotations

import typer

app = typer.Typer(help="The LabSession lifecycle (the single source of truth).", no_args_is_help=True)
