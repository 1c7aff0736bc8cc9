"""`forgea backfill`: batched, resumable, idempotent data moves of the F6 rollout."""

from __future__ import annotations

from typing import Annotated

import typer

from forgea_cli.cli import output
from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import BatchSize, DryRun, Json, Pause, throttle_flags
from forgea_cli.cli.output import plural
from forgea_cli.cli.progress import for_terminal
from forgea_cli.cli.runtime import runtime

app = command_group("backfill")

DEFAULT_BATCH = 1000

Show = Annotated[
    int,
    typer.Option(
        "--show",
        min=0,
        metavar="N",
        help="With --dry-run: list the first N rows each backfill would change, in the order it would.",
    ),
]


def describe(report) -> str:
    """The one-line answer of a backfill (stdout, like `mapping backfill`'s)."""
    if report.dry_run:
        return f"{report.name}: would change {plural(report.pending, 'row')} (dry run; nothing written)"
    if report.nothing_to_do:
        return f"{report.name}: nothing to do (already complete)"
    paused = sum(p["seconds"] for p in report.details.get("throttle", {}).get("pauses", []))
    held = f"; paused {paused:.1f} s for the web app" if paused else ""
    changed, batches = plural(report.changed, "row"), plural(report.batches, "batch")
    return f"{report.name}: changed {changed} in {batches}{held}"


def _options(ctx: typer.Context, dry_run: bool, batch_size: int, pause: float, throttle, show: int = 0):
    from dataclasses import replace

    from forgea_cli.errors import InvalidInput
    from forgea_cli.services.rollout import BackfillOptions

    if show and not dry_run:
        raise InvalidInput("--show lists what a dry run would change: add --dry-run")
    return BackfillOptions(
        show=show,
        batch_size=batch_size,
        dry_run=dry_run,
        progress=for_terminal(),
        web_host=runtime(ctx).settings.github_web_url,
        throttle=replace(throttle, pause=pause),  # the fixed --pause rides with the nice ratio
        notify=lambda message: output.say(message),
    )


def _stopped(stopped, json: bool) -> None:
    """A backfill that stopped for the web app's sake (exit 1) or was interrupted (Ctrl-C, exit 130):
    what was committed, and that a rerun resumes. Under --json the error document carries the report."""
    report = stopped.report
    if report is not None and not json:
        output.say(f"{report.committed()}; a rerun resumes with what is still pending")
    raise stopped


def _run(ctx: typer.Context, name: str, dry_run: bool, json: bool, options) -> None:
    from forgea_cli.services import rollout

    try:
        report = rollout.BACKFILLS[name](runtime(ctx).uow, options)
    except rollout.BackfillStopped as stopped:
        _stopped(stopped, json)
    # Ctrl-C raises rollout.BackfillInterrupted: the root prints what was committed and exits 130.
    if json:
        output.emit_json(report)
    elif name == "repo-mappings":  # the same answer as `forgea mapping backfill`
        from forgea_cli.cli.mapping_cmd import render_backfill

        render_backfill(report.to_json())
        _show_would_touch(report)
    else:
        output.show(describe(report))
        _show_would_touch(report)


def _show_would_touch(report) -> None:
    rows = report.details.get("would_touch")
    if rows:
        output.table(
            f"{report.name}: the first rows it would change",
            ["table", "id", "change"],
            [(row["table"], row["id"], row["detail"]) for row in rows],
        )


# name -> help; the services are in forgea_cli.services.rollout.backfills.BACKFILLS (imported on use).
SINGLE_BACKFILLS = {
    "lab-versions": "One LabVersion per lab; link every session to its lab's current version.",
    "completed-at": "completedAt = lastActivityAt on older VERIFIED_PASS sessions (an approximation).",
    "verification-attempts": "Carry every legacy VerificationLog row over as a PASS VerificationAttempt.",
    "repo-mappings": "Mappings from LabSession.userForkUrl (same as `forgea mapping backfill`).",
}


def _single_backfill_command(name: str, help_text: str):
    @throttle_flags
    def command(
        ctx: typer.Context,
        batch_size: BatchSize = DEFAULT_BATCH,
        dry_run: DryRun = False,
        json: Json = False,
        pause: Pause = 0.0,
        show: Show = 0,
        throttle=None,
    ) -> None:
        _run(ctx, name, dry_run, json, _options(ctx, dry_run, batch_size, pause, throttle, show))

    command.__doc__ = help_text
    return command


for _name, _help in SINGLE_BACKFILLS.items():
    app.command(_name)(_single_backfill_command(_name, _help))


@app.command("all")
@throttle_flags
def run_all(
    ctx: typer.Context,
    batch_size: BatchSize = DEFAULT_BATCH,
    dry_run: DryRun = False,
    json: Json = False,
    pause: Pause = 0.0,
    show: Show = 0,
    throttle=None,
):
    """Every backfill above, in order. Safe to rerun: finished work is skipped.

    Batches adapt to --batch-time; between them the backfill sleeps by --nice and pauses (saying why
    on stderr) while a replica lags, too many connections are active or sessions wait on its locks;
    past a critical level or --max-pause it stops cleanly at a batch boundary (exit 1, resumable).
    """
    from forgea_cli.services import rollout

    try:
        reports = rollout.run_all(runtime(ctx).uow, _options(ctx, dry_run, batch_size, pause, throttle, show))
    except rollout.BackfillStopped as stopped:
        _stopped(stopped, json)
    if json:
        output.emit_json({"dryRun": dry_run, "backfills": reports})
        return
    for report in reports:
        output.show(describe(report))
        _show_would_touch(report)


@app.command("resolve-duplicates")
def resolve_duplicates(ctx: typer.Context, dry_run: DryRun = False, json: Json = False):
    """Defer all but the most recently active session of each student and lab, each with an audit row."""
    from forgea_cli.services import rollout

    rt = runtime(ctx)
    resolution = rollout.resolve_duplicates(rt.uow, actor_id=rt.settings.actor, dry_run=dry_run)
    if json:
        output.emit_json(resolution)
        return
    _render_resolution(resolution)


def _render_resolution(resolution) -> None:
    if not resolution.groups:
        output.show("no student has more than one active session for a lab; nothing to do")
        return
    rows = [
        (str(g.user_id), str(g.lab_id), str(g.keep), ", ".join(str(s) for s, _ in g.defer))
        for g in resolution.groups
    ]
    output.table("active duplicates", ["student", "lab", "keep", "defer"], rows)
    verb = "would defer" if resolution.dry_run else "deferred"
    count = resolution.sessions_to_defer if resolution.dry_run else len(resolution.deferred)
    output.show(f"{verb} {plural(count, 'session')} of {plural(len(resolution.groups), 'student')}")
    for session_id, why in resolution.skipped:
        output.warn(f"skipped {session_id}: {why}")
