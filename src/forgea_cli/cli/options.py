"""Reusable option declarations, so every command spells the shared flags the same way."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from forgea_cli.cli.output import Format, request_json

Json = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document on stdout (a failure too).", callback=request_json),
]
ListFormat = Annotated[
    Format | None,
    typer.Option(
        "--format",
        help="table (the default), plain (tab-separated, no header), csv, or json (= --json). "
        "plain and csv never shorten a value.",
        case_sensitive=False,
        callback=request_json,
        show_default=False,
    ),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Show what would happen; write nothing (rolled back or rendered).")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
BatchSize = Annotated[
    int,
    typer.Option(
        "--batch-size",
        min=1,
        max=100_000,
        help="Rows in the first batch (one transaction each); then adaptive.",
    ),
]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$", re.IGNORECASE)


def postgres_duration(value: str) -> str:
    """A PostgreSQL duration setting (``300ms``, ``5s``, ``2min``; a bare number is milliseconds),
    checked here so a typo is bad usage (exit 2), not a database error halfway through."""
    match = _DURATION.match(value or "")
    if not match:
        raise typer.BadParameter(
            f"{value!r} is not a duration: a number with us, ms, s, min, h or d (e.g. 300ms, 5s)"
        )
    number, unit = match.group(1), (match.group(2) or "ms").lower()
    return f"{number}{unit}"


LockTimeout = Annotated[
    str,
    typer.Option(
        "--lock-timeout",
        callback=postgres_duration,
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

# The backfill throttle (DESIGN §10); defaults in services/rollout/throttle.py, documented in the runbook.
BatchTime = Annotated[
    float,
    typer.Option(
        "--batch-time",
        min=0.01,
        max=60.0,
        help="Target seconds per batch (reached from 0.02 s while no session waits on the batches' locks; "
        "halved when one does); the size adapts to it.",
    ),
]
MaxBatchSize = Annotated[
    int, typer.Option("--max-batch-size", min=1, max=1_000_000, help="Cap on the adapted batch size.")
]
Nice = Annotated[
    float,
    typer.Option("--nice", min=0.0, max=100.0, help="Seconds slept per second worked."),
]
MaxLag = Annotated[
    float,
    typer.Option("--max-lag", min=0.0, help="Pause while a streaming replica is further behind (seconds)."),
]
CriticalLag = Annotated[
    float,
    typer.Option("--critical-lag", min=0.0, help="Stop cleanly when a replica lags more (s)."),
]
MaxActive = Annotated[
    int, typer.Option("--max-active", min=1, help="Pause while more connections than this are active.")
]
MaxWaiters = Annotated[
    int,
    typer.Option("--max-waiters", min=0, help="Pause while more sessions wait on the backfill's locks."),
]
MaxPause = Annotated[
    float, typer.Option("--max-pause", min=0.0, help="Stop cleanly after pausing this long (seconds).")
]


def throttle_flags(command):
    """Adds the throttle flags to a backfill command and hands it one ``throttle`` argument
    (a `ThrottleOptions`), as sqlite-utils' output decorator does for its format flags."""
    import functools
    import inspect
    import typing

    from forgea_cli.services.rollout import throttle as defaults

    flags = {
        "batch_time": (BatchTime, defaults.DEFAULT_BATCH_TIME),
        "max_batch_size": (MaxBatchSize, defaults.DEFAULT_MAX_BATCH_SIZE),
        "nice": (Nice, defaults.DEFAULT_NICE),
        "max_lag": (MaxLag, defaults.DEFAULT_MAX_LAG),
        "critical_lag": (CriticalLag, defaults.DEFAULT_CRITICAL_LAG),
        "max_active": (MaxActive, defaults.DEFAULT_MAX_ACTIVE),
        "max_waiters": (MaxWaiters, defaults.DEFAULT_MAX_WAITERS),
        "max_pause": (MaxPause, defaults.DEFAULT_MAX_PAUSE),
    }

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        values = {name: kwargs.pop(name) for name in flags}
        return command(*args, throttle=defaults.ThrottleOptions(**values), **kwargs)

    signature = inspect.signature(command)
    hints = typing.get_type_hints(command, include_extras=True)  # string annotations resolved
    kept = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in signature.parameters.values()
        if p.name != "throttle"
    ]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
        for name, (annotation, default) in flags.items()
    ]
    wrapper.__signature__ = signature.replace(parameters=kept + added)
    return wrapper
