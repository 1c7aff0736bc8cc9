"""Reusable option declarations, so every command spells the shared flags the same way."""

from __future__ import annotations

from typing import Annotated

import typer

Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Show what would happen; write nothing (rolled back or rendered).")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, max=100_000, help="Rows per transaction.")]
LockTimeout = Annotated[
    str,
    typer.Option(
        "--lock-timeout",
        help="PostgreSQL lock_timeout for each statement: the longest the web app's writers queue behind a "
        "revision waiting for its lock (a timed-out revision is rolled back and retried).",
    ),
]
LockRetries = Annotated[
    int,
    typer.Option(
        "--lock-retries",
        min=0,
        max=100,
        help="Retries of a revision that timed out waiting for a lock (exponential backoff with jitter).",
    ),
]
Pause = Annotated[
    float, typer.Option("--pause", min=0.0, max=60.0, help="Seconds to sleep between batches (throttle).")
]
