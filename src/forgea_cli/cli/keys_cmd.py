"""`forgea keys`: list, resume and abandon session-creation idempotency keys."""

from __future__ import annotations

import typer

app = typer.Typer(help="Idempotency keys of session creation: list, resume, abandon.", no_args_is_help=True)
