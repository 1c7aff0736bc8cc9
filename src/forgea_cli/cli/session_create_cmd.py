"""`forgea session create`: one student or a roster, idempotent, never leaving an orphan repository."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from forgea_cli.cli import output
from forgea_cli.cli.options import DryRun, Json
from forgea_cli.cli.runtime import runtime
from forgea_cli.cli.session_cmd import app

UserOption = Annotated[str | None, typer.Option("--user", "-u", help="The student: a user id or an email.")]
LabOption = Annotated[str | None, typer.Option("--lab", help="The lab id.")]
LabVersionOption = Annotated[
    str | None,
    typer.Option(
        "--lab-version", help="Version name (e.g. v2) or LabVersion id; default: the lab's current one."
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key",
        help="Names this creation; a rerun with the same key replays it (default: from student + version).",
    ),
]
ForkUrlOption = Annotated[
    str | None, typer.Option("--fork-url", help="Bind this existing repository instead of generating one.")
]
RosterOption = Annotated[
    Path | None,
    typer.Option("--roster", dir_okay=False, help="CSV with an email or user_id column, optional fork_url."),
]
WorkersOption = Annotated[int, typer.Option("--workers", min=1, max=16, help="Roster rows run at once.")]


@app.command("create")
def create(
    ctx: typer.Context,
    user: UserOption = None,
    lab: LabOption = None,
    lab_version: LabVersionOption = None,
    idempotency_key: KeyOption = None,
    fork_url: ForkUrlOption = None,
    roster: RosterOption = None,
    workers: WorkersOption = 8,
    dry_run: DryRun = False,
    json: Json = False,
) -> None:
    """Create a lab session and its GitHub repository, exactly once (safe to rerun)."""
    from forgea_cli.errors import InvalidInput

    if lab is None:
        raise InvalidInput("--lab is required")
    if roster is not None:
        if user or fork_url or idempotency_key:
            raise InvalidInput(
                "--roster reads the students and fork URLs: drop --user/--fork-url/--idempotency-key"
            )
        _create_roster(ctx, roster, lab, lab_version, workers, dry_run, json)
        return
    if user is None:
        raise InvalidInput("give --user (a user id or email), or --roster FILE.csv")
    _create_one(ctx, user, lab, lab_version, idempotency_key, fork_url, dry_run, json)


def _create_one(
    ctx: typer.Context,
    user: str,
    lab: str,
    lab_version: str | None,
    key: str | None,
    fork_url: str | None,
    dry_run: bool,
    json: bool,
) -> None:
    from forgea_cli.github.factory import make_gateway
    from forgea_cli.services import sessions

    rt = runtime(ctx)
    config = sessions.CreationConfig.from_settings(rt.settings)
    spec = sessions.CreateSpec(user, lab, lab_version, fork_url, key)
    with make_gateway(rt.settings) as gateway:
        if dry_run:
            _render_dry_run(sessions.create_dry_run(rt.uow, gateway, config, spec), json)
            return
        outcome = sessions.create_session(rt.uow, gateway, config, spec)
    if json:
        output.emit_json(outcome)
        return
    result = outcome.result
    verb = "created" if outcome.outcome == "created" else "already created (replayed)"
    output.show(f"session {result.get('labSessionId')} {verb}: {result.get('htmlUrl')}")
    output.say(f"idempotency key: {outcome.key}")


def _render_dry_run(document: dict[str, Any], json: bool) -> None:
    if json:
        output.emit_json(document)
        return
    output.say("dry run: nothing was written to the database or GitHub")
    output.show(
        f"student:     {document['user']['email']} ({document['user']['id']})\n"
        f"lab:         {document['lab']['title']} ({document['lab']['id']})\n"
        f"version:     {document['labVersion']['version']} ({document['labVersion']['id']})\n"
        f"template:    {document['template']} (visible to the token)\n"
        f"repository:  {document['repo']}\n"
        f"key:         {document['idempotencyKey']}\n"
        f"would:       {document['wouldDo']}"
    )


def _create_roster(
    ctx: typer.Context, path: Path, lab: str, lab_version: str | None, workers: int, dry_run: bool, json: bool
) -> None:
    from forgea_cli.cli.progress import for_terminal
    from forgea_cli.github.factory import make_gateway
    from forgea_cli.github.pacing import CreationPacer
    from forgea_cli.services import sessions

    rt = runtime(ctx)
    settings = rt.settings
    rows = sessions.read_roster(path)
    pacer = CreationPacer(per_minute=settings.creations_per_minute, per_hour=settings.creations_per_hour)
    try:
        report = sessions.run_roster(
            rt.uow,
            lambda: make_gateway(settings, pacer=pacer),
            sessions.CreationConfig.from_settings(settings),
            lab=lab,
            lab_version=lab_version,
            rows=rows,
            workers=workers,
            dry_run=dry_run,
            progress=for_terminal(),
        )
    except sessions.RosterInterrupted as interrupted:
        if not json:  # under --json the error document carries the report
            _render_roster(interrupted.report)
        raise  # exit 130, saying what happened and that a rerun resumes
    if json:
        output.emit_json(report)
    else:
        _render_roster(report)
    if report.any_failed:
        raise typer.Exit(1)


def _render_roster(report) -> None:
    output.table(
        f"lab {report.lab_id} version {report.lab_version}" + (" (dry run)" if report.dry_run else ""),
        ["line", "student", "outcome", "session", "repository", "reason"],
        [(r.line, r.user, r.status, r.session_id, r.repo, r.reason) for r in report.rows],
    )
    output.show(", ".join(f"{count} {status}" for status, count in sorted(report.counts().items())))
