"""`forgea keys`: list, resume and abandon session-creation idempotency keys."""

from __future__ import annotations

from typing import Annotated

import typer

from forgea_cli.cli import output
from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import DryRun, Json, ListFormat, Yes
from forgea_cli.cli.runtime import runtime
from forgea_cli.documents import iso

app = command_group("keys")

KeyArgument = Annotated[str, typer.Argument(help="The idempotency key (as `keys list` shows it).")]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Whose key (default: FORGEA_ACTOR, the one running this).")
]


def _config(ctx: typer.Context):
    from forgea_cli.services.sessions import CreationConfig

    return CreationConfig.from_settings(runtime(ctx).settings)


@app.command("list")
def list_keys(
    ctx: typer.Context,
    stuck: Annotated[
        bool,
        typer.Option("--stuck", help="Only keys that need an operator: no live run, or cleanup pending."),
    ] = False,
    all_actors: Annotated[
        bool, typer.Option("--all-actors", help="Keys of every actor, not only yours.")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="At most this many, newest first.")
    ] = 100,
    format: ListFormat = None,
    json: Json = False,
) -> None:
    """Keys with their recovery point, state and the next step to take."""
    from forgea_cli.services import sessions

    views = sessions.list_keys(
        runtime(ctx).uow, _config(ctx), stuck_only=stuck, all_actors=all_actors, limit=limit
    )
    output.listing(
        output.listing_format(format, json),
        document=views,
        columns=["key", "state", "point", "error", "session / planned", "repository", "last run"],
        rows=[
            (
                v.row.key,
                v.state,
                v.row.recovery_point,
                v.row.error_code,
                v.row.lab_session_id or v.row.planned_session_id,
                v.row.repo_full_name,
                iso(v.row.last_run_at),
            )
            for v in views
        ],
        empty="no keys" + (" need attention" if stuck else ""),
    )


@app.command()
def resume(
    ctx: typer.Context,
    key: KeyArgument,
    actor: ActorOption = None,
    dry_run: DryRun = False,
    json: Json = False,
) -> None:
    """Continue a stuck creation from its recovery point (a finished key replays its result)."""
    from forgea_cli.github.factory import make_gateway
    from forgea_cli.services import sessions

    rt = runtime(ctx)
    config = _config(ctx)
    if dry_run:
        view = sessions.show_key(rt.uow, config, key, actor=actor)
        document = {"dryRun": True, **view.to_json()}
        if json:
            output.emit_json(document)
        else:
            output.show(
                f"key {key}: {document['state']} at {document['recoveryPoint']}; next: {document['next']}"
            )
        return
    with make_gateway(rt.settings) as gateway:
        outcome = sessions.resume_key(rt.uow, gateway, config, key, actor=actor)
    if json:
        output.emit_json(outcome)
        return
    verb = "created" if outcome.outcome == "created" else "already created (replayed)"
    output.show(f"session {outcome.result.get('labSessionId')} {verb}: {outcome.result.get('htmlUrl')}")


@app.command()
def abandon(
    ctx: typer.Context,
    key: KeyArgument,
    actor: ActorOption = None,
    yes: Yes = False,
    dry_run: DryRun = False,
    json: Json = False,
) -> None:
    """Close a key for good, deleting the repository it created (never a --fork-url one)."""
    from forgea_cli.github.factory import make_gateway
    from forgea_cli.services import sessions

    rt = runtime(ctx)
    config = _config(ctx)
    with make_gateway(rt.settings) as gateway:
        preview = sessions.abandon_key(rt.uow, gateway, config, key, actor=actor, dry_run=True)
        if dry_run:
            _render_abandon(preview, json)
            return
        what = f" and delete the repository {preview.repo}" if preview.repo else ""
        output.confirm_or_abort(f"Abandon key {key}{what}?", yes=yes)
        report = sessions.abandon_key(rt.uow, gateway, config, key, actor=actor)
    _render_abandon(report, json)


def _render_abandon(report, json: bool) -> None:
    if json:
        output.emit_json(report)
        return
    if report.dry_run:
        repo = f"delete {report.repo}" if report.repo else "delete no repository"
        output.show(f"dry run: would abandon key {report.key} ({report.state_before}) and {repo}")
    elif report.state_before in ("abandoned", "retired"):
        output.show(f"key {report.key} was already {report.state_before}")
    else:
        deleted = f"; deleted {report.repo}" if report.deleted else ""
        output.show(f"abandoned key {report.key}{deleted}")
