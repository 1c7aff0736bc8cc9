"""`forgea repo`: reconcile repositories in the org with sessions."""

from __future__ import annotations

from typing import Annotated

import typer

from forgea_cli.cli import output
from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import DryRun, Json, Yes
from forgea_cli.cli.output import plural
from forgea_cli.cli.runtime import runtime

app = command_group("repo")


@app.command()
def reconcile(
    ctx: typer.Context,
    execute: Annotated[
        bool, typer.Option("--execute", help="Delete the orphan repositories (asks first unless --yes).")
    ] = False,
    yes: Yes = False,
    dry_run: DryRun = False,
    json: Json = False,
) -> None:
    """Repos of ours in the org with nothing behind them, and sessions whose repo is gone.

    Report-only by default (the same as --dry-run); only orphans are ever deleted, with --execute.
    """
    from forgea_cli.errors import InvalidInput
    from forgea_cli.github.factory import make_gateway
    from forgea_cli.services import sessions

    if execute and dry_run:
        raise InvalidInput("--execute and --dry-run contradict each other")
    rt = runtime(ctx)
    config = sessions.CreationConfig.from_settings(rt.settings)
    with make_gateway(rt.settings) as gateway:
        report = sessions.reconcile_repos(rt.uow, gateway, config)
        if execute and report.orphans:
            if not json:
                _render(report, executing=True)
            output.confirm_or_abort(
                f"Delete {plural(len(report.orphans), 'orphan repository', 'orphan repositories')} "
                f"from {report.org}?",
                yes=yes,
            )
            sessions.delete_orphans(rt.uow, gateway, config, report)
    if json:
        output.emit_json(report)
    elif not (execute and report.orphans):
        _render(report, executing=execute)
    else:
        deleted = sum(1 for o in report.orphans if o.deleted)
        of = plural(len(report.orphans), "orphan repository", "orphan repositories")
        output.show(f"deleted {deleted} of {of}")
        for orphan in report.orphans:
            if orphan.skipped:
                output.warn(f"{orphan.full_name}: {orphan.skipped}")
    if execute and any(o.skipped and not o.deleted and o.skipped != "already gone" for o in report.orphans):
        raise typer.Exit(1)


def _render(report, *, executing: bool = False) -> None:
    """``executing``: an --execute run (the deletion follows, so never "report only")."""
    output.show(
        f"{plural(report.scanned, 'repository', 'repositories')} in {report.org} named {report.prefix}*: "
        f"{report.in_use} in use, {len(report.held)} held by unfinished keys, "
        f"{plural(len(report.orphans), 'orphan')}"
    )
    if report.orphans:
        output.table(
            "orphans (no session, mapping or unfinished key)",
            ["repository", "id", "left by key"],
            [(o.full_name, o.repo_id, o.key.key if o.key else "") for o in report.orphans],
        )
    if report.held:
        output.table(
            "held by unfinished keys (`forgea keys resume` or `keys abandon`)",
            ["repository", "id", "key", "point"],
            [(h.full_name, h.repo_id, h.key, h.recovery_point) for h in report.held],
        )
    if report.gone:
        output.table(
            "active sessions whose repository is gone (reported only)",
            ["session", "status", "repository id", "last known name"],
            [(g.session_id, g.status, g.provider_repo_id, g.repo) for g in report.gone],
        )
    if not (executing or report.executed) and report.orphans:
        output.say("report only: `forgea repo reconcile --execute` deletes the orphans")
