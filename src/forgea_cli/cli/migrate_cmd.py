"""`forgea migrate`: Alembic for the Forgea schema, plus `adopt` for a database Prisma built."""

from __future__ import annotations

from typing import Annotated

import typer

from forgea_cli.cli import output
from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import DryRun, Json, LockTimeout, Yes
from forgea_cli.cli.runtime import runtime

app = command_group("migrate")


def _timeouts(lock_timeout: str):
    from forgea_cli.db.migrations import Timeouts

    return Timeouts(lock_timeout=lock_timeout)


@app.command()
def status(
    ctx: typer.Context,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when the database is not at head.")] = False,
    json: Json = False,
) -> None:
    """Current revision vs head, and the revisions still to apply."""
    from forgea_cli.services import migrations

    state = migrations.status(runtime(ctx).engine)
    if json:
        output.emit_json(
            {
                "current": state.current,
                "head": state.head,
                "at_head": state.at_head,
                "unknown_revision": state.unknown,
                "pending": [r.revision for r in state.pending],
            }
        )
    else:
        output.show(f"current: {state.current or '(none)'}\nhead:    {state.head}")
        for revision in state.pending:
            output.show(f"pending: {revision.revision}  {revision.title}")
        if state.unknown:
            output.warn(f"revision {state.current} is not known to this build of forgea")
    if check and not state.at_head:
        raise typer.Exit(1)


@app.command()
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    dry_run: DryRun = False,
    lock_timeout: LockTimeout = "5s",
) -> None:
    """Apply revisions up to REV (default: head). --dry-run prints the SQL instead."""
    from forgea_cli.services import migrations

    engine = runtime(ctx).engine
    if dry_run:
        typer.echo(migrations.upgrade_sql(engine, revision), nl=False)
        return
    before, after = migrations.upgrade(engine, revision, _timeouts(lock_timeout))
    output.say(f"upgraded {before or 'base'} -> {after}" if before != after else f"already at {after}")


@app.command()
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision (e.g. 0001_baseline).")],
    dry_run: DryRun = False,
    yes: Yes = False,
    lock_timeout: LockTimeout = "5s",
) -> None:
    """Revert revisions down to REV. Asks first unless --yes; --dry-run prints the SQL."""
    from forgea_cli.services import migrations

    engine = runtime(ctx).engine
    if dry_run:
        typer.echo(migrations.downgrade_sql(engine, revision), nl=False)
        return
    output.confirm_or_abort(f"Downgrade the schema to {revision}?", yes=yes)
    before, after = migrations.downgrade(engine, revision, _timeouts(lock_timeout))
    output.say(f"downgraded {before or 'base'} -> {after}" if before != after else f"already at {after}")


@app.command()
def history(json: Json = False) -> None:
    """Every revision this build knows, oldest first."""
    from forgea_cli.db.migrations import history as revision_history

    revisions = revision_history()
    if json:
        output.emit_json(
            [{"revision": r.revision, "down_revision": r.down_revision, "title": r.title} for r in revisions]
        )
        return
    output.table(
        None,
        ["revision", "revises", "title"],
        [(r.revision, r.down_revision or "", r.title) for r in revisions],
    )


@app.command()
def adopt(ctx: typer.Context, dry_run: DryRun = False, json: Json = False) -> None:
    """Recognise a Prisma-built Forgea database, check it matches the baseline, and stamp it."""
    from forgea_cli.services import migrations

    try:
        result = migrations.adopt(runtime(ctx).engine, dry_run=dry_run)
    except migrations.AdoptRefused as refusal:
        _report_refusal(refusal, json)
        raise
    if json:
        output.emit_json(
            {
                "action": result.action,
                "revision": result.revision,
                "prisma_migrations": result.prisma_migrations,
            }
        )
    elif result.action == "already-adopted":
        output.say(f"already adopted: the database is at revision {result.revision}; nothing to do")
    elif result.action == "would-stamp":
        output.say(f"the database matches the baseline ({len(result.prisma_migrations)} Prisma migrations)")
        typer.echo(result.sql)
    else:
        output.say(
            f"adopted: stamped {result.revision} after {len(result.prisma_migrations)} Prisma migrations"
        )


def _report_refusal(refusal, json: bool) -> None:
    if json:
        output.emit_json(
            {
                "action": "refused",
                "reason": refusal.message,
                "differences": [
                    {
                        "kind": d.kind,
                        "name": d.name,
                        "problem": d.problem,
                        "expected": d.expected,
                        "found": d.found,
                    }
                    for d in refusal.differences
                ],
            }
        )
        return
    for difference in refusal.differences:
        output.say(f"  - {difference.describe()}")
