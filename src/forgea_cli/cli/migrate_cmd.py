"""`forgea migrate`: Alembic for the Forgea schema, plus `adopt` for a database Prisma built."""

from __future__ import annotations

from typing import Annotated

import typer

from forgea_cli.cli import output
from forgea_cli.cli.groups import command_group
from forgea_cli.cli.options import DryRun, Json, ListFormat, LockRetries, LockTimeout, Yes
from forgea_cli.cli.output import plural
from forgea_cli.cli.runtime import runtime

app = command_group("migrate")


DEFAULT_LOCK_TIMEOUT = "300ms"
DEFAULT_LOCK_RETRIES = 10


def _timeouts(lock_timeout: str, lock_retries: int = DEFAULT_LOCK_RETRIES):
    from forgea_cli.services.rollout import Timeouts

    return Timeouts(lock_timeout=lock_timeout, lock_retries=lock_retries)


def _say_retry(retry) -> None:
    held = "; ".join(b.describe() for b in retry.blockers) or "a session that had already let go"
    output.say(
        f"revision {_after(retry.revision)} could not get its lock within lock_timeout (held by {held}); "
        f"rolled back, retry {retry.attempt}/{retry.retries} in {retry.wait_seconds:.1f} s"
    )


def _after(revision: str | None) -> str:
    return f"after {revision}" if revision else "after base"


@app.command()
def status(
    ctx: typer.Context,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when the database is not at head.")] = False,
    json: Json = False,
) -> None:
    """Current revision vs head, and the revisions still to apply."""
    from forgea_cli.services import rollout

    state = rollout.status(runtime(ctx).uow)
    if json:
        output.emit_json(state)
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
    lock_timeout: LockTimeout = DEFAULT_LOCK_TIMEOUT,
    lock_retries: LockRetries = DEFAULT_LOCK_RETRIES,
) -> None:
    """Apply revisions up to REV (default: head). --dry-run prints the SQL instead.

    Each statement waits at most --lock-timeout for its lock; a revision that times out is rolled
    back (not stamped) and retried up to --lock-retries times, each retry printed with the holder.
    """
    from forgea_cli.services import rollout

    uow = runtime(ctx).uow
    timeouts = _timeouts(lock_timeout, lock_retries)
    if dry_run:
        preview = rollout.upgrade_preview(uow, revision, timeouts)
        typer.echo(preview.sql, nl=False)
        if preview.refusal is not None:  # the same refusal, and exit code, as the real run
            stop = preview.refusal
            applied = (
                f"apply the revisions up to {stop.applied_before} (the SQL above), then "
                if preview.sql
                else ""
            )
            output.say(f"dry run: the upgrade would {applied}refuse at {stop.revision}")
            raise stop.error
        return
    before, after = rollout.upgrade(uow, revision, timeouts, on_retry=_say_retry)
    output.show(f"upgraded {before or 'base'} -> {after}" if before != after else f"already at {after}")


@app.command()
def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision (e.g. 0001_baseline).")],
    dry_run: DryRun = False,
    yes: Yes = False,
    lock_timeout: LockTimeout = DEFAULT_LOCK_TIMEOUT,
    lock_retries: LockRetries = DEFAULT_LOCK_RETRIES,
) -> None:
    """Revert revisions down to REV. Asks first unless --yes; --dry-run prints the SQL."""
    from forgea_cli.services import rollout

    uow = runtime(ctx).uow
    timeouts = _timeouts(lock_timeout, lock_retries)
    if dry_run:
        typer.echo(rollout.downgrade_sql(uow, revision, timeouts), nl=False)
        return
    output.confirm_or_abort(f"Downgrade the schema to {revision}?", yes=yes)
    before, after = rollout.downgrade(uow, revision, timeouts, on_retry=_say_retry)
    output.show(f"downgraded {before or 'base'} -> {after}" if before != after else f"already at {after}")


@app.command()
def history(format: ListFormat = None, json: Json = False) -> None:
    """Every revision this build knows, oldest first."""
    from forgea_cli.services.rollout import history as revision_history

    revisions = revision_history()
    output.listing(
        output.listing_format(format, json),
        document=[
            {"revision": r.revision, "downRevision": r.down_revision, "title": r.title} for r in revisions
        ],
        columns=["revision", "revises", "title"],
        rows=[(r.revision, r.down_revision or "", r.title) for r in revisions],
    )


@app.command()
def adopt(
    ctx: typer.Context,
    dry_run: DryRun = False,
    json: Json = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show each text difference as a unified diff.")
    ] = False,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="On an adopted database: accept the web app's rewritten functions and triggers as the "
            "new reference, once the probes show they still behave.",
        ),
    ] = False,
) -> None:
    """Recognise a Prisma-built Forgea database, judge it by behaviour, record what it found, stamp it.

    The web app's functions and triggers are judged by signature and by probes in a rolled-back
    transaction, never by their text: text differences are reported (diffs with --verbose or --json)
    and recorded, so verify-constraints later shows any change against the adopted database.
    """
    from forgea_cli.services import rollout

    state = runtime(ctx)
    if refresh:
        _refresh(state, dry_run, json, verbose)
        return
    try:
        result = rollout.adopt(state.uow, dry_run=dry_run, actor=state.settings.actor)
    except rollout.AdoptRefused as refusal:
        _report_refusal(refusal, json, verbose)
        raise
    if json:
        output.emit_json(result)
        return
    if result.action == "already-adopted":
        output.show(f"already adopted: the database is at revision {result.revision}; nothing to do")
        return
    _report_differences(result.text_differences, verbose)
    judged = _judged_summary(result.checks)
    migrations = plural(len(result.prisma_migrations), "Prisma migration")
    if result.action == "would-stamp":
        output.say(f"the database can be adopted ({migrations}; {judged})")
        typer.echo(result.sql)
    else:
        recorded = plural(len(result.recorded), "function and trigger", "functions and triggers")
        output.show(f"adopted: stamped {result.revision} after {migrations} ({judged}); recorded {recorded}")


def _refresh(state, dry_run: bool, json: bool, verbose: bool) -> None:
    from forgea_cli.services import rollout

    try:
        result = rollout.refresh_adoption(state.uow, actor=state.settings.actor, dry_run=dry_run)
    except rollout.AdoptRefused as refusal:
        _report_refusal(refusal, json, verbose)
        raise
    if json:
        output.emit_json(result)
        return
    _report_differences(result.changed, verbose)
    verb = "would accept" if dry_run else "accepted"
    output.show(f"{verb} {plural(len(result.changed), 'changed definition')} as the adopted reference")


def _judged_summary(checks) -> str:
    counts: dict[str, int] = {}
    for check in checks:
        counts[str(check.status)] = counts.get(str(check.status), 0) + 1
    words = {
        "pass": "passed",
        "info": "the web app's",
        "warn": "warnings",
        "fail": "failed",
        "skip": "skipped",
    }
    return ", ".join(f"{counts[s]} {w}" for s, w in words.items() if counts.get(s))


def _report_differences(differences, verbose: bool) -> None:
    for check in differences:
        output.say(f"  ~ {check.message}")
        if verbose and check.diff:
            typer.echo(check.diff, err=True)
    if differences and not verbose:
        output.say("  (--verbose shows each difference as a diff)")


def _report_refusal(refusal, json: bool, verbose: bool) -> None:
    if json:
        return  # the error document carries refusal.result (the failures and every check)
    for check in refusal.failures:
        output.say(f"  - {check.message}")
    _report_differences([c for c in refusal.checks if c.diff], verbose)
