"""`forgea backfill`: batched, resumable, idempotent data moves of the F6 rollout."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from forgea_cli.cli import output
from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import (
    BatchSize,
    BatchTime,
    CriticalLag,
    DryRun,
    Json,
    MaxActive,
    MaxBatchSize,
    MaxLag,
    MaxPause,
    MaxWaiters,
    Nice,
    Pause,
)
from forgea_cli.cli.progress import for_terminal
from forgea_cli.cli.runtime import runtime
from forgea_cli.services.rollout import throttle

app = command_group("backfill")

DEFAULT_BATCH = 5000


def describe(report) -> str:
    if report.dry_run:
        return f"{report.name}: would change {report.pending} rows (dry run; nothing written)"
    if report.nothing_to_do:
        return f"{report.name}: nothing to do (already complete)"
    paused = sum(p["seconds"] for p in report.details.get("throttle", {}).get("pauses", []))
    held = f"; paused {paused:.1f} s for the web app" if paused else ""
    return f"{report.name}: changed {report.changed} rows in {report.batches} batches{held}"


@dataclass(frozen=True)
class Throttling:
    """The throttle flags every backfill command takes (DESIGN §10)."""

    batch_size: int
    pause: float
    batch_time: float
    max_batch_size: int
    nice: float
    max_lag: float
    critical_lag: float
    max_active: int
    max_waiters: int
    max_pause: float


def _options(ctx: typer.Context, dry_run: bool, throttling: Throttling):
    from forgea_cli.services.rollout import BackfillOptions, ThrottleOptions

    t = throttling
    return BackfillOptions(
        batch_size=t.batch_size,
        dry_run=dry_run,
        progress=for_terminal(),
        pause=t.pause,
        web_host=runtime(ctx).settings.github_web_url,
        throttle=ThrottleOptions(
            batch_time=t.batch_time,
            max_batch_size=t.max_batch_size,
            nice=t.nice,
            max_pause=t.max_pause,
            max_lag=t.max_lag,
            critical_lag=t.critical_lag,
            max_active=t.max_active,
            max_waiters=t.max_waiters,
        ),
        notify=lambda message: output.say(message),
    )


def _stopped(stopped, json: bool) -> None:
    """A backfill that stopped for the web app's sake: what was committed, then exit 1."""
    report = stopped.report
    if report is not None:
        if json:
            output.emit_json({**report.as_dict(), "stopped": stopped.message})
        else:
            output.say(
                f"{report.name}: committed {report.changed} rows in {report.batches} batches before stopping"
            )
    raise stopped


def _run(ctx: typer.Context, name: str, dry_run: bool, json: bool, throttling: Throttling) -> None:
    from forgea_cli.services import rollout

    try:
        report = rollout.BACKFILLS[name](runtime(ctx).uow, _options(ctx, dry_run, throttling))
    except rollout.BackfillStopped as stopped:
        _stopped(stopped, json)
    if json:
        output.emit_json(report.as_dict())
    else:
        output.say(describe(report))


# name -> help; the services are in forgea_cli.services.rollout.backfills.BACKFILLS (imported on use).
SINGLE_BACKFILLS = {
    "lab-versions": "One LabVersion per lab; link every session to its lab's current version.",
    "completed-at": "completedAt = lastActivityAt on older VERIFIED_PASS sessions (an approximation).",
    "verification-attempts": "Carry every legacy VerificationLog row over as a PASS VerificationAttempt.",
    "repo-mappings": "Mappings from LabSession.userForkUrl (same as `forgea mapping backfill`).",
}


def _single_backfill_command(name: str, help_text: str):
    def command(
        ctx: typer.Context,
        batch_size: BatchSize = DEFAULT_BATCH,
        dry_run: DryRun = False,
        json: Json = False,
        pause: Pause = 0.0,
        batch_time: BatchTime = throttle.DEFAULT_BATCH_TIME,
        max_batch_size: MaxBatchSize = throttle.DEFAULT_MAX_BATCH_SIZE,
        nice: Nice = throttle.DEFAULT_NICE,
        max_lag: MaxLag = throttle.DEFAULT_MAX_LAG,
        critical_lag: CriticalLag = throttle.DEFAULT_CRITICAL_LAG,
        max_active: MaxActive = throttle.DEFAULT_MAX_ACTIVE,
        max_waiters: MaxWaiters = throttle.DEFAULT_MAX_WAITERS,
        max_pause: MaxPause = throttle.DEFAULT_MAX_PAUSE,
    ) -> None:
        throttling = Throttling(
            batch_size,
            pause,
            batch_time,
            max_batch_size,
            nice,
            max_lag,
            critical_lag,
            max_active,
            max_waiters,
            max_pause,
        )
        _run(ctx, name, dry_run, json, throttling)

    command.__doc__ = help_text
    return command


for _name, _help in SINGLE_BACKFILLS.items():
    app.command(_name)(_single_backfill_command(_name, _help))


@app.command("all")
def run_all(
    ctx: typer.Context,
    batch_size: BatchSize = DEFAULT_BATCH,
    dry_run: DryRun = False,
    json: Json = False,
    pause: Pause = 0.0,
    batch_time: BatchTime = throttle.DEFAULT_BATCH_TIME,
    max_batch_size: MaxBatchSize = throttle.DEFAULT_MAX_BATCH_SIZE,
    nice: Nice = throttle.DEFAULT_NICE,
    max_lag: MaxLag = throttle.DEFAULT_MAX_LAG,
    critical_lag: CriticalLag = throttle.DEFAULT_CRITICAL_LAG,
    max_active: MaxActive = throttle.DEFAULT_MAX_ACTIVE,
    max_waiters: MaxWaiters = throttle.DEFAULT_MAX_WAITERS,
    max_pause: MaxPause = throttle.DEFAULT_MAX_PAUSE,
):
    """Every backfill above, in order. Safe to rerun: finished work is skipped.

    Batches adapt to --batch-time; between them the backfill sleeps by --nice and pauses (saying why
    on stderr) while a replica lags, too many connections are active or sessions wait on its locks;
    past a critical level or --max-pause it stops cleanly at a batch boundary (exit 1, resumable).
    """
    from forgea_cli.services import rollout

    throttling = Throttling(
        batch_size,
        pause,
        batch_time,
        max_batch_size,
        nice,
        max_lag,
        critical_lag,
        max_active,
        max_waiters,
        max_pause,
    )
    try:
        reports = rollout.run_all(runtime(ctx).uow, _options(ctx, dry_run, throttling))
    except rollout.BackfillStopped as stopped:
        _stopped(stopped, json)
    if json:
        output.emit_json({"dry_run": dry_run, "backfills": [r.as_dict() for r in reports]})
        return
    for report in reports:
        output.say(describe(report))


@app.command("resolve-duplicates")
def resolve_duplicates(ctx: typer.Context, dry_run: DryRun = False, json: Json = False):
    """Defer all but the most recently active session of each student and lab, each with an audit row."""
    from forgea_cli.services import rollout

    rt = runtime(ctx)
    resolution = rollout.resolve_duplicates(rt.uow, actor_id=rt.settings.actor, dry_run=dry_run)
    if json:
        output.emit_json(resolution.as_dict())
        return
    _render_resolution(resolution)


def _render_resolution(resolution) -> None:
    summary = resolution.as_dict()
    if not resolution.groups:
        output.say("no student has more than one active session for a lab; nothing to do")
        return
    rows = [
        (g["user_id"], g["lab_id"], g["keep"], ", ".join(d["session_id"] for d in g["defer"]))
        for g in summary["groups"]
    ]
    output.table("active duplicates", ["student", "lab", "keep", "defer"], rows)
    verb = "would defer" if resolution.dry_run else "deferred"
    count = summary["sessions_to_defer"] if resolution.dry_run else len(resolution.deferred)
    output.say(f"{verb} {count} sessions of {len(resolution.groups)} students")
    for session_id, why in resolution.skipped:
        output.warn(f"skipped {session_id}: {why}")
